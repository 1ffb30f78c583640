//! The ledger check against a real SQLite store, with a ledger written by hand.

use super::report::DemoBatch;
use super::verify::{Mismatch, against_ledger};
use crate::domain::{NewBatch, NewOrder, OrderState, ProviderKind, ProviderRefs};
use crate::sandbox::core::Ledger;
use crate::store::{Completion, Store};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// A store with one UQPAY batch whose orders `refs` end `submitted` with a `card_id` (or
/// `rejected` with no refs, for `None`); the idempotency key of order `r` is `key-r`.
async fn store_with(dir: &tempfile::TempDir, refs: &[(&str, Option<&str>)]) -> (Store, DemoBatch) {
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let batch = NewBatch {
        id: Uuid::new_v4(),
        profile: "uqpay".into(),
        provider: ProviderKind::Uqpay,
        source: "t.csv".into(),
        created_at_ms: 1_000,
    };
    let mut writer = store.batch_writer(&batch).await.unwrap();
    for (i, (order_ref, _)) in refs.iter().enumerate() {
        writer
            .push(NewOrder {
                line: i as u64 + 2,
                order_ref: order_ref.to_string(),
                idempotency_key: format!("key-{order_ref}"),
                payload: json!({}).into(),
                amount_minor: None,
                currency: None,
            })
            .await
            .unwrap();
    }
    writer.commit().await.unwrap();
    let claimed = store
        .order_claim_due("uqpay", "w", 100, Duration::from_secs(60), i64::MAX / 2)
        .await
        .unwrap();
    let card_of: BTreeMap<&str, Option<&str>> = refs.iter().copied().collect();
    let completions: Vec<Completion> = claimed
        .iter()
        .map(|o| {
            let card = card_of[o.order.order_ref.as_str()];
            Completion {
                order_id: o.id,
                state: if card.is_some() {
                    OrderState::Submitted
                } else {
                    OrderState::Rejected
                },
                next_attempt_at: None,
                provider_refs: card.map(|c| ProviderRefs::new().with(ProviderRefs::CARD_ID, c)),
                error: None,
                attempts: Vec::new(),
                nothing_sent: false,
            }
        })
        .collect();
    store
        .order_complete_many("w", &completions, 2_000)
        .await
        .unwrap();
    let demo_batch = DemoBatch {
        profile: "uqpay".into(),
        provider: ProviderKind::Uqpay,
        batch_id: batch.id,
        file: "t.csv".into(),
        orders: refs.len() as u64,
    };
    (store, demo_batch)
}

fn card(ledger: &Ledger, card_id: &str, key: Option<&str>) {
    let references = key
        .map(|k| BTreeMap::from([("idempotency_key".to_string(), k.to_string())]))
        .unwrap_or_default();
    ledger.record(
        "uqpay",
        card_id,
        "PENDING",
        "2026-01-01T00:00:00Z",
        references,
    );
}

#[tokio::test]
async fn a_ledger_holding_exactly_the_recorded_cards_matches_one_for_one() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let (store, batch) = store_with(&dir, &[("a", Some("c-a")), ("b", None)]).await;
    let ledger = Ledger::default();
    card(&ledger, "c-a", Some("key-a"));

    // Act
    let v = against_ledger(&store, &ledger, &[batch]).await.unwrap();

    // Assert
    assert_eq!(v.mismatches, Vec::new());
    assert_eq!((v.cards, v.carded_orders), (1, 1));
}

#[tokio::test]
async fn every_kind_of_difference_from_the_ledger_is_reported() {
    // Arrange: a twice-issued order, a recorded card the provider lacks, a card for an order
    // that recorded none, a card naming another card id, a card of no order, a card with no key.
    let dir = tempfile::tempdir().unwrap();
    let (store, batch) = store_with(
        &dir,
        &[
            ("twice", Some("c-1")),
            ("missing", Some("c-2")),
            ("unrecorded", None),
            ("other", Some("c-3")),
        ],
    )
    .await;
    let ledger = Ledger::default();
    card(&ledger, "c-1", Some("key-twice"));
    card(&ledger, "c-1b", Some("key-twice"));
    card(&ledger, "c-u", Some("key-unrecorded"));
    card(&ledger, "c-3x", Some("key-other"));
    card(&ledger, "c-x", Some("key-nobody"));
    card(&ledger, "c-n", None);

    // Act
    let mut found = against_ledger(&store, &ledger, &[batch])
        .await
        .unwrap()
        .mismatches;

    // Assert
    let mut want = vec![
        Mismatch::CardWithoutKey {
            provider: ProviderKind::Uqpay,
            card_id: "c-n".into(),
        },
        Mismatch::CardOfNoOrder {
            provider: ProviderKind::Uqpay,
            card_id: "c-x".into(),
            key: "key-nobody".into(),
        },
        Mismatch::OrderWithCards {
            order_ref: "twice".into(),
            card_ids: vec!["c-1".into(), "c-1b".into()],
        },
        Mismatch::OrderWithoutCard {
            order_ref: "missing".into(),
            state: OrderState::Submitted,
        },
        Mismatch::UnrecordedCard {
            order_ref: "unrecorded".into(),
            state: OrderState::Rejected,
            card_id: "c-u".into(),
        },
        Mismatch::RefsDiffer {
            order_ref: "other".into(),
            recorded: "c-3".into(),
            card_id: "c-3x".into(),
        },
    ];
    let key = |m: &Mismatch| m.to_string();
    found.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(found, want);
}
