//! The reconciliation report, the lookup queue's fencing, and the export's confirmation columns,
//! over a batch whose orders were put in each state through the store's real paths (the webhook
//! endpoint and processor for a webhook confirmation, the reconciler's settle for lookups).

use crate::support::hooks::{Hooks, UQPAY, now_ms, uqpay_event};
use crate::support::{PG_URL_VAR, TestDb, orders, process_events, submit};
use cardbatch::domain::{OrderState, ProviderRefs};
use cardbatch::reconcile::{ProcessOptions, report_at};
use cardbatch::store::{Completion, ConfirmedBy, LookupOutcome, OrderConfirmation, Store};
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

on_both_engines!(
    the_report_counts_each_kind_of_confirmation_and_lists_what_needs_attention,
    a_lookup_claim_keeps_other_reconcilers_off_the_order_until_its_lease_ends,
    the_export_shows_the_final_state_card_refs_and_confirmation_source,
    an_order_whose_lookup_failed_still_counts_as_unconfirmed,
);

/// A batch of seven UQPAY orders `mix-0..7`, as the report test describes them. Returns the
/// batch id, the order ids by reference, and the running webhook endpoints.
async fn mixed_batch(db: &TestDb) -> (Uuid, BTreeMap<String, i64>, Hooks) {
    let hooks = Hooks::start(db).await;
    let store = &hooks.app.store;
    let batch = submit(store, UQPAY, orders("mix", 7)).await.batch_id;
    let ids: BTreeMap<String, i64> = store
        .order_list(batch, None)
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.order_ref, o.id))
        .collect();
    // mix-0..5 are claimed and answered; mix-6 stays queued.
    let claimed = store
        .order_claim_due(UQPAY, "w", 6, Duration::from_secs(60), now_ms())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 6);
    let completions: Vec<Completion> = claimed
        .iter()
        .map(|o| {
            let needs_review = o.order.order_ref == "mix-5";
            Completion {
                order_id: o.id,
                state: if needs_review {
                    OrderState::NeedsReview
                } else {
                    OrderState::Submitted
                },
                next_attempt_at: None,
                provider_refs: (!needs_review).then(|| {
                    ProviderRefs::new()
                        .with(ProviderRefs::CARD_ID, format!("card-{}", o.order.order_ref))
                        .with(
                            ProviderRefs::CARD_ORDER_ID,
                            format!("co-{}", o.order.order_ref),
                        )
                }),
                error: needs_review.then(|| ("CIN000099".into(), "key already used".into())),
                attempts: Vec::new(),
                nothing_sent: false,
            }
        })
        .collect();
    store
        .order_complete_many("w", &completions, now_ms())
        .await
        .unwrap();
    (batch, ids, hooks)
}

fn lookup(order_id: i64, state: Option<OrderState>, mismatch: Option<&str>) -> LookupOutcome {
    LookupOutcome {
        order_id,
        confirm: state.map(|state| OrderConfirmation {
            order_id,
            state,
            by: ConfirmedBy::Lookup,
            provider_refs: None,
            error: (state == OrderState::Failed)
                .then(|| ("card_status_failed".into(), "FAILED".into())),
        }),
        mismatch: mismatch.map(str::to_string),
        escalate: None,
        next_lookup_at_ms: now_ms() + 60_000,
        answered: true,
        calls: Vec::new(),
    }
}

/// mix-0 issued by webhook (then a lookup disagrees: a mismatch), mix-1 issued by lookup (then a
/// webhook says failed: a mismatch), mix-2 failed by lookup, mix-3 awaiting with a "not found" mismatch, mix-4 awaiting, mix-5 needs
/// review, mix-6 queued; plus one event no order claims.
async fn the_report_counts_each_kind_of_confirmation_and_lists_what_needs_attention(db: TestDb) {
    // Arrange
    let (batch, ids, hooks) = mixed_batch(&db).await;
    let store = hooks.app.store.clone();
    assert_eq!(
        hooks
            .post_uqpay(&uqpay_event(
                "card.create.succeeded",
                "evt-mix-0",
                "card-mix-0",
                "co-mix-0"
            ))
            .await,
        200
    );
    assert_eq!(
        hooks
            .post_uqpay(&uqpay_event(
                "card.create.succeeded",
                "evt-stray",
                "card-nobody",
                "co-nobody"
            ))
            .await,
        200
    );
    let unmatched_now = ProcessOptions {
        unmatched_after: Duration::ZERO,
        ..ProcessOptions::default()
    };
    process_events(&store, &unmatched_now, now_ms()).await;
    let moved = store
        .order_lookup_settle_many(
            &[
                lookup(ids["mix-0"], Some(OrderState::Failed), None),
                lookup(ids["mix-1"], Some(OrderState::Issued), None),
                lookup(ids["mix-2"], Some(OrderState::Failed), None),
                lookup(
                    ids["mix-3"],
                    None,
                    Some("the provider does not know card-mix-3"),
                ),
                lookup(ids["mix-4"], None, None),
            ],
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(moved, vec![false, true, true, false, false]);
    // A late webhook contradicting the lookup's confirmation of mix-1.
    assert_eq!(
        hooks
            .post_uqpay(&uqpay_event(
                "card.create.failed",
                "evt-mix-1",
                "card-mix-1",
                "co-mix-1"
            ))
            .await,
        200
    );
    process_events(&store, &unmatched_now, now_ms()).await;

    // Act: ninety seconds later.
    let report = report_at(&store, Some(batch), now_ms() + 90_000)
        .await
        .unwrap();

    // Assert
    assert_eq!(report.batches.len(), 1);
    let b = &report.batches[0];
    assert_eq!(b.batch_id, batch);
    assert_eq!(b.total, 7);
    assert_eq!(b.confirmed_by_webhook, 1);
    assert_eq!(b.confirmed_by_lookup, 1);
    assert_eq!(b.failed_at_provider, 1);
    assert_eq!(b.awaiting_confirmation, 2);
    let awaiting: Vec<&str> = b.awaiting.iter().map(|a| a.order_ref.as_str()).collect();
    assert_eq!(awaiting.len(), 2);
    assert!(awaiting.contains(&"mix-3") && awaiting.contains(&"mix-4"));
    assert!(
        b.awaiting
            .iter()
            .all(|a| a.age_secs >= 90 && a.lookups == 1)
    );
    assert_eq!(b.states.get(&OrderState::Queued), Some(&1));
    assert_eq!(b.states.get(&OrderState::Issued), Some(&2));

    let mismatched: BTreeMap<&str, &str> = b
        .mismatches
        .iter()
        .map(|m| (m.order_ref.as_str(), m.note.as_str()))
        .collect();
    assert_eq!(mismatched.len(), 3, "{mismatched:?}");
    assert!(mismatched["mix-0"].contains("failed"), "{mismatched:?}");
    assert!(mismatched["mix-0"].contains("webhook"), "{mismatched:?}");
    assert!(mismatched["mix-1"].contains("failed"), "{mismatched:?}");
    assert!(mismatched["mix-1"].contains("lookup"), "{mismatched:?}");
    assert!(mismatched["mix-3"].contains("does not know"));
    for m in b.mismatches.iter().filter(|m| m.order_ref != "mix-3") {
        assert_eq!(
            m.state,
            OrderState::Issued,
            "a mismatch never moves an order"
        );
    }

    assert_eq!(b.needs_review.len(), 1);
    assert_eq!(b.needs_review[0].order_ref, "mix-5");
    assert_eq!(
        b.needs_review[0].last_error_code.as_deref(),
        Some("CIN000099")
    );

    assert_eq!(report.unmatched_events.len(), 1);
    assert_eq!(
        report.unmatched_events[0].event_type,
        "card.create.succeeded"
    );
    hooks.shutdown().await;
}

async fn a_lookup_claim_keeps_other_reconcilers_off_the_order_until_its_lease_ends(db: TestDb) {
    // Arrange: two submitted orders, submitted "now".
    let (_, ids, hooks) = mixed_batch(&db).await;
    let (first, second): (Store, Store) = (hooks.app.store.clone(), db.store().await);
    let now = now_ms();
    let lease_until = now + 30_000;

    // Act: an order submitted less than `confirm_after` ago is not due; then two reconcilers
    // (two connections) claim at once, once the confirm time has passed.
    let too_early = first
        .order_claim_lookups(UQPAY, now - 60_000, now, lease_until, 100)
        .await
        .unwrap();
    let later = now + 61_000;
    let (a, b) = tokio::join!(
        first.order_claim_lookups(UQPAY, later - 60_000, later, later + 30_000, 100),
        second.order_claim_lookups(UQPAY, later - 60_000, later, later + 30_000, 100),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let after_lease = second
        .order_claim_lookups(UQPAY, later - 60_000, later + 30_000, later + 60_000, 100)
        .await
        .unwrap();

    // Assert
    assert!(too_early.is_empty(), "not due before confirm_after");
    let mut claimed: Vec<i64> = a.iter().chain(&b).map(|c| c.order.id).collect();
    claimed.sort_unstable();
    let submitted: Vec<i64> = ["mix-0", "mix-1", "mix-2", "mix-3", "mix-4"]
        .iter()
        .map(|r| ids[*r])
        .collect();
    assert_eq!(
        claimed, submitted,
        "each submitted order claimed exactly once"
    );
    assert_eq!(
        after_lease.len(),
        5,
        "claimable again once the lease ran out"
    );
    assert!(
        after_lease
            .iter()
            .all(|c| c.lookups == 0 && !c.order.previous_outcome_unknown)
    );
    second.close().await;
    hooks.shutdown().await;
}

async fn the_export_shows_the_final_state_card_refs_and_confirmation_source(db: TestDb) {
    // Arrange: mix-0 issued by webhook, mix-1 issued by lookup, mix-4 awaiting.
    let (batch, ids, hooks) = mixed_batch(&db).await;
    let store = hooks.app.store.clone();
    hooks
        .post_uqpay(&uqpay_event(
            "card.create.succeeded",
            "evt-exp-0",
            "card-mix-0",
            "co-mix-0",
        ))
        .await;
    process_events(&store, &ProcessOptions::default(), now_ms()).await;
    store
        .order_lookup_settle_many(
            &[lookup(ids["mix-1"], Some(OrderState::Issued), None)],
            now_ms(),
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export.csv");

    // Act
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_cardbatch"))
        .current_dir(dir.path())
        // The child reads CARDBATCH_* as configuration; the test database variable is not one.
        .env_remove(PG_URL_VAR)
        .arg("--database-url")
        .arg(&db.url)
        .arg("export")
        .arg(batch.to_string())
        .arg("-o")
        .arg(&out)
        .output()
        .await
        .unwrap();

    // Assert
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    for column in [
        "state",
        "card_ref",
        "provider_refs",
        "confirmed_by",
        "confirmed_at",
    ] {
        assert!(header.iter().any(|h| h == column), "{column} in {header:?}");
    }
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: BTreeMap<String, Vec<String>> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[col("order_ref")].to_string(),
                r.iter().map(String::from).collect(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 7);
    let cell = |order: &str, name: &str| rows[order][col(name)].clone();
    assert_eq!(cell("mix-0", "state"), "issued");
    assert_eq!(cell("mix-0", "confirmed_by"), "webhook");
    assert_eq!(cell("mix-0", "card_ref"), "card-mix-0");
    assert!(!cell("mix-0", "confirmed_at").is_empty());
    assert_eq!(cell("mix-1", "confirmed_by"), "lookup");
    assert_eq!(cell("mix-4", "state"), "submitted");
    assert_eq!(cell("mix-4", "confirmed_by"), "");
    assert_eq!(cell("mix-4", "confirmed_at"), "");
    assert_eq!(cell("mix-6", "card_ref"), "");
    hooks.shutdown().await;
}

async fn an_order_whose_lookup_failed_still_counts_as_unconfirmed(db: TestDb) {
    // Arrange: five submitted orders (mix-0..4), none looked up yet.
    let (_, ids, hooks) = mixed_batch(&db).await;
    let store = hooks.app.store.clone();
    let before = store.order_in_progress().await.unwrap().unconfirmed;
    let failed = LookupOutcome {
        answered: false,
        ..lookup(ids["mix-0"], None, None)
    };

    // Act: mix-0's lookup failed (a 429, say); mix-1's was answered "still pending".
    store
        .order_lookup_settle_many(&[failed, lookup(ids["mix-1"], None, None)], now_ms())
        .await
        .unwrap();

    // Assert: `run --until-idle` still waits for mix-0, not for mix-1 (the provider has it).
    assert_eq!(before, 5);
    assert_eq!(store.order_in_progress().await.unwrap().unconfirmed, 4);
    hooks.shutdown().await;
}
