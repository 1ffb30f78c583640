//! The per-batch counters (orders per state, totals per currency) that `batches` and `status`
//! read: after every kind of move an order makes through the store's queue operations (claims,
//! a dead worker's orders taken over, fences, completions, a refused late completion, releases,
//! requeues), they equal a full recount of the orders.

use crate::support::{TestDb, assert_counters_recount, orders, submit};
use cardbatch::domain::{OrderState, ProviderRefs};
use cardbatch::store::Completion;
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(5);
const LEASE_MS: i64 = 5_000;
const DOUBT_WAIT: Duration = Duration::from_secs(60);
const NOW: i64 = 10_000;

on_both_engines!(the_counters_equal_a_recount_after_takeovers_completions_and_requeues);

fn done(order_id: i64, state: OrderState, card: Option<&str>) -> Completion {
    Completion {
        order_id,
        state,
        next_attempt_at: (state == OrderState::RetryWait).then_some(NOW + 1),
        provider_refs: card.map(|c| {
            serde_json::from_value::<ProviderRefs>(serde_json::json!({ "card_id": c })).unwrap()
        }),
        error: (state != OrderState::Submitted).then(|| ("E1".into(), "no".into())),
        attempts: Vec::new(),
        nothing_sent: false,
    }
}

async fn the_counters_equal_a_recount_after_takeovers_completions_and_requeues(db: TestDb) {
    // Arrange: two batches of one profile and one of another.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 20)).await;
    submit(&store, "qi", orders("q", 3)).await;
    let ten = submit(&store, "uqpay", orders("b", 10)).await.batch_id;
    assert_counters_recount(&store, "ingest").await;
    let listed = store.batch_list().await.unwrap();
    assert_eq!(listed.iter().map(|b| b.total()).sum::<u64>(), 33);
    let b = listed.iter().find(|b| b.id == ten).unwrap();
    assert_eq!(b.totals_minor["USD"], 12_500, "10 orders of 12.50");

    // w1 claims 12 orders, sends 4 of them, then dies (kill -9: no completion, no release).
    let dead = store
        .order_claim("uqpay", "w1", 12, LEASE, DOUBT_WAIT, NOW)
        .await
        .unwrap();
    assert_eq!(dead.len(), 12);
    let sent: Vec<i64> = dead[..4].iter().map(|o| o.id).collect();
    store
        .order_fence_send("w1", &sent, NOW, NOW + LEASE_MS / 2)
        .await
        .unwrap();
    assert_counters_recount(&store, "a claim and a fence").await;

    // w2 takes over the unsent ones at once, the sent ones after the doubt wait.
    let later = NOW + LEASE_MS;
    let unsent = store
        .order_claim("uqpay", "w2", 30, LEASE, DOUBT_WAIT, later)
        .await
        .unwrap();
    assert!(!unsent.is_empty());
    assert_counters_recount(&store, "the first takeover").await;
    let after_doubt = later + 60_000;
    let resolved = store
        .order_claim("uqpay", "w3", 30, LEASE, DOUBT_WAIT, after_doubt)
        .await
        .unwrap();
    assert!(
        resolved.iter().any(|o| sent.contains(&o.id)),
        "{resolved:?}"
    );
    assert_counters_recount(&store, "the takeover after the doubt wait").await;

    // w1 comes back and tries to complete: refused, nothing moves.
    let late = store
        .order_complete_many(
            "w1",
            &[done(sent[0], OrderState::Submitted, Some("c"))],
            later,
        )
        .await
        .unwrap();
    assert_eq!(late, vec![false]);
    assert_counters_recount(&store, "a refused late completion").await;

    // w3 completes what it holds in every outcome, and releases two it never started.
    let states = [
        OrderState::Submitted,
        OrderState::RetryWait,
        OrderState::Rejected,
        OrderState::Dead,
        OrderState::InDoubt,
        OrderState::NeedsReview,
    ];
    let held: Vec<i64> = resolved.iter().map(|o| o.id).collect();
    let (released, finished) = held.split_at(2);
    let completions: Vec<Completion> = finished
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let state = states[i % states.len()];
            done(id, state, Some(&format!("card-{id}")))
        })
        .collect();
    let applied = store
        .order_complete_many("w3", &completions, after_doubt)
        .await
        .unwrap();
    assert!(applied.iter().all(|&a| a));
    store
        .order_release_unstarted("uqpay", "w3", finished, after_doubt)
        .await
        .unwrap();
    assert!(!released.is_empty());
    assert_counters_recount(&store, "completions and a release").await;

    // The operator requeues the dead and the needs-review orders of a batch.
    for b in store.batch_list().await.unwrap() {
        store
            .order_requeue(b.id, OrderState::Dead, after_doubt)
            .await
            .unwrap();
        store
            .order_requeue(b.id, OrderState::NeedsReview, after_doubt)
            .await
            .unwrap();
    }
    assert_counters_recount(&store, "requeues").await;

    // Assert: the counters moved (not merely both empty): several states, 33 orders in all.
    let listed = store.batch_list().await.unwrap();
    assert_eq!(listed.iter().map(|b| b.total()).sum::<u64>(), 33);
    let states_seen: std::collections::BTreeSet<OrderState> = listed
        .iter()
        .flat_map(|b| b.counts.keys().copied())
        .collect();
    assert!(states_seen.len() >= 5, "{states_seen:?}");
}
