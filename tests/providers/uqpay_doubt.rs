//! The UQPAY client resolving an order whose create answer was lost: the replay of the same key
//! within the window UQPAY keeps it, lookups by card id, and past the window, listing the
//! cardholder's cards for the order's reference.

use crate::support::TestDb;
use crate::support::as_refs;
use crate::support::uqpay::{
    PROVIDER, accepted_card_id, cards_for, client, order, sandbox, seed_payload,
};
use cardbatch::domain::ProviderOrder;
use cardbatch::providers::uqpay::{REPLAY_TRUSTED_FOR_MS, UqpayClient};
use cardbatch::providers::{CallKind, Classified, Provider, Resolution};
use cardbatch::sandbox::{FaultConfig, RunningSandbox};
use serde_json::json;

/// Creates `order`'s card with the answer lost on the way back; returns the card's id.
async fn create_losing_the_answer(
    sandbox: &RunningSandbox,
    client: &UqpayClient,
    order: &ProviderOrder,
) -> String {
    sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            lost_response_rate: 1.0,
            ..FaultConfig::default()
        },
    );
    let report = client.create(order).await;
    sandbox.set_faults(PROVIDER, FaultConfig::default());
    assert!(
        matches!(report.classified, Classified::Unknown { .. }),
        "{report:?}"
    );
    sandbox.ledger().entries().last().unwrap().card_id.clone()
}

fn order_with_ref(order_ref: &str) -> ProviderOrder {
    let mut payload = seed_payload();
    payload["metadata"]["cardbatch_order_ref"] = json!(order_ref);
    ProviderOrder {
        order_ref: order_ref.into(),
        ..order(payload)
    }
}

#[tokio::test]
async fn a_lost_response_is_unknown_and_resolving_it_finds_the_same_card_without_a_second() {
    // Arrange: the card is created, then the connection dies with no answer.
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    let order = order(seed_payload());
    sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            lost_response_rate: 1.0,
            ..FaultConfig::default()
        },
    );

    // Act 1: the lost answer.
    let lost = client.create(&order).await;
    sandbox.set_faults(PROVIDER, FaultConfig::default());

    // Assert 1
    assert!(
        matches!(lost.classified, Classified::Unknown { .. }),
        "{lost:?}"
    );
    assert_eq!(lost.http_status, None);
    let created = sandbox.ledger().entries();
    assert_eq!(created.len(), 1, "the provider did create the card");

    // Act 2: resolve, then re-send with the same key as resolve says is safe.
    let in_doubt = order.clone();
    let (resolution, reports) = client.resolve(&in_doubt).await;
    let replay = client.create(&in_doubt).await;

    // Assert 2: the replay is the original answer; still one card.
    assert_eq!(resolution, Resolution::ResendIsSafe);
    assert!(reports.is_empty());
    assert_eq!(accepted_card_id(&replay), created[0].card_id);
    assert_eq!(cards_for(&sandbox, &order), 1);
    assert_eq!(sandbox.stats().get(PROVIDER, "idempotent_replays"), 1);
}

#[tokio::test]
async fn resolving_with_refs_looks_the_card_up() {
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    let mut order = order(seed_payload());
    let accepted = client.create(&order).await;
    let Classified::Accepted { refs } = accepted.classified else {
        panic!("{accepted:?}")
    };
    order.refs = refs.clone();

    let (resolution, reports) = client.resolve(&order).await;

    assert_eq!(resolution, Resolution::Found { refs });
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].kind, CallKind::Lookup);
    assert_eq!(reports[0].http_status, Some(200));

    // A card we hold refs for but UQPAY does not know: re-sending (the replay) is the lookup.
    order.refs =
        as_refs(json!({"card_id": "00000000-0000-4000-8000-00000000dead", "card_order_id": "x"}));
    let (resolution, reports) = client.resolve(&order).await;
    assert_eq!(resolution, Resolution::ResendIsSafe);
    assert_eq!(reports[0].http_status, Some(404));
}

#[tokio::test]
async fn a_rate_limited_lookup_resolves_as_transient_with_retry_after() {
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    let mut order = order(seed_payload());
    let Classified::Accepted { refs } = client.create(&order).await.classified else {
        panic!("the seed order is accepted")
    };
    order.refs = refs;
    sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            rate_limit_per_minute: Some(1),
            ..FaultConfig::default()
        },
    );
    let _spend_the_window = client.resolve(&order).await;

    let (resolution, reports) = client.resolve(&order).await;

    assert!(
        matches!(&resolution, Resolution::Transient { code, retry_after: Some(_), .. } if code == "too_many_requests"),
        "{resolution:?}"
    );
    assert_eq!(reports[0].http_status, Some(429));
}

#[tokio::test]
async fn past_the_replay_window_a_card_is_found_by_listing_its_cardholder_s_cards() {
    // Arrange: 105 cards on one cardholder (two pages); the answer for one was lost.
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    for i in 0..104 {
        accepted_card_id(&client.create(&order_with_ref(&format!("r-{i}"))).await);
    }
    let lost = order_with_ref("r-lost");
    let lost_card = create_losing_the_answer(&sandbox, &client, &lost).await;

    // Act
    let (found, found_reports) = client.find_by_order_ref(&lost).await;
    let (missing, missing_reports) = client
        .find_by_order_ref(&order_with_ref("never-sent"))
        .await;

    // Assert
    assert_eq!(
        found,
        Resolution::Found {
            refs: as_refs(json!({ "card_id": lost_card }))
        }
    );
    assert_eq!(found_reports.len(), 2, "the card is on the second page");
    assert!(
        found_reports
            .iter()
            .all(|r| r.kind == CallKind::Lookup && r.http_status == Some(200))
    );
    assert_eq!(missing, Resolution::NotFound);
    assert_eq!(missing_reports.len(), 2);
    assert_eq!(cards_for(&sandbox, &lost), 1);
}

#[tokio::test]
async fn an_order_in_doubt_past_the_replay_window_is_looked_for_by_listing_not_resent() {
    // Arrange: a create whose answer was lost.
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    let lost = ProviderOrder {
        ..order_with_ref("r-old")
    };
    let lost_card = create_losing_the_answer(&sandbox, &client, &lost).await;
    let now = chrono::Utc::now().timestamp_millis();
    let queued_ago = |ms: i64| ProviderOrder {
        queued_at_ms: now - ms,
        ..lost.clone()
    };

    // Act: the same order, queued an hour ago and queued as long ago as the replay is trusted.
    let (young, young_calls) = client.resolve_order_at(&queued_ago(3_600_000), now).await;
    let (old, old_calls) = client
        .resolve_order_at(&queued_ago(REPLAY_TRUSTED_FOR_MS), now)
        .await;

    // Assert: the young order counts on the replay; the old one is found in the card list.
    assert_eq!(young, Resolution::ResendIsSafe);
    assert!(young_calls.is_empty());
    assert_eq!(
        old,
        Resolution::Found {
            refs: as_refs(json!({ "card_id": lost_card }))
        }
    );
    assert!(!old_calls.is_empty());
    assert!(old_calls.iter().all(|c| c.kind == CallKind::Lookup));
    assert_eq!(cards_for(&sandbox, &lost), 1);
}
