//! Leases as fences: the check right before a create leaves, what a takeover does with orders
//! that were claimed but never sent and with those that were sent, and a card made by a worker
//! that had lost its lease (adopted, or reported as a duplicate).

use crate::support::{TestDb, orders, submit};
use cardbatch::domain::{OrderState, ProviderRefs};
use cardbatch::store::{ClaimedOrder, Completion, SendFence, Store};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(5);
const LEASE_MS: i64 = 5_000;
const DOUBT_WAIT: Duration = Duration::from_secs(60);
/// Orders are created at 1,000 ms (see `support::new_batch`), so they are due from then on.
const NOW: i64 = 10_000;

on_both_engines!(
    a_dead_workers_unsent_order_is_taken_over_at_once_without_a_lookup_or_a_counted_attempt,
    a_dead_workers_sent_order_is_taken_over_only_after_the_doubt_wait_and_resolved_first,
    a_worker_does_not_take_over_its_own_expired_orders,
    the_fence_lets_a_create_go_only_while_the_lease_is_held_long_enough,
    a_card_made_after_the_lease_was_lost_is_adopted_by_the_orders_owner,
    a_second_card_is_reported_as_a_duplicate_in_the_orders_mismatch,
);

async fn claim(store: &Store, worker: &str, now: i64) -> Vec<ClaimedOrder> {
    store
        .order_claim("uqpay", worker, 10, LEASE, DOUBT_WAIT, now)
        .await
        .unwrap()
}

async fn fence(store: &Store, worker: &str, id: i64, now: i64) -> SendFence {
    store
        .order_fence_send(worker, &[id], now, now + LEASE_MS / 2)
        .await
        .unwrap()
        .remove(0)
}

fn submitted(order_id: i64, card: &str) -> Completion {
    let refs: ProviderRefs =
        serde_json::from_value(serde_json::json!({ "card_id": card })).unwrap();
    Completion {
        order_id,
        state: OrderState::Submitted,
        next_attempt_at: None,
        provider_refs: Some(refs),
        error: None,
        attempts: Vec::new(),
        nothing_sent: false,
    }
}

async fn a_dead_workers_unsent_order_is_taken_over_at_once_without_a_lookup_or_a_counted_attempt(
    db: TestDb,
) {
    // Arrange: w1 claims one order and dies before its create left (no fence passed).
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 1)).await;
    let dead = claim(&store, "w1", NOW).await;

    // Act: just before the lease ends, then as it ends.
    let early = claim(&store, "w2", NOW + LEASE_MS - 1).await;
    let taken = claim(&store, "w2", NOW + LEASE_MS).await;

    // Assert: taken as it was queued: the first attempt, no doubt to resolve.
    assert!(early.is_empty());
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].id, dead[0].id);
    assert_eq!(taken[0].attempt, 1);
    assert!(!taken[0].previous_outcome_unknown);
}

async fn a_dead_workers_sent_order_is_taken_over_only_after_the_doubt_wait_and_resolved_first(
    db: TestDb,
) {
    // Arrange: w1's create left (the fence passed); then w1 died.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 1)).await;
    let dead = claim(&store, "w1", NOW).await;
    assert_eq!(fence(&store, "w1", dead[0].id, NOW).await, SendFence::Send);
    let expired = NOW + LEASE_MS;
    let wait = DOUBT_WAIT.as_millis() as i64;

    // Act
    let at_expiry = claim(&store, "w2", expired).await;
    let before_wait = claim(&store, "w2", expired + wait - 1).await;
    let after_wait = claim(&store, "w2", expired + wait).await;

    // Assert
    assert!(at_expiry.is_empty());
    assert!(before_wait.is_empty());
    assert_eq!(after_wait.len(), 1);
    assert_eq!(after_wait[0].attempt, 2);
    assert!(after_wait[0].previous_outcome_unknown);
}

async fn a_worker_does_not_take_over_its_own_expired_orders(db: TestDb) {
    // Arrange: w1's heartbeat stalled past its lease; its call is still running.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 1)).await;
    let mine = claim(&store, "w1", NOW).await;

    // Act
    let again = claim(&store, "w1", NOW + LEASE_MS).await;
    let other = claim(&store, "w2", NOW + LEASE_MS).await;

    // Assert
    assert!(again.is_empty(), "w1 still runs it");
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].id, mine[0].id);
}

async fn the_fence_lets_a_create_go_only_while_the_lease_is_held_long_enough(db: TestDb) {
    // Arrange: w1 holds two orders; one is taken over by w2 while w1 was frozen.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 2)).await;
    let mine = claim(&store, "w1", NOW).await;
    let later = NOW + LEASE_MS;
    store
        .order_claim("uqpay", "w2", 1, LEASE, DOUBT_WAIT, later)
        .await
        .unwrap();

    // Act: w1 thaws and asks before sending each create; the other order's lease is nearly out.
    let verdicts = store
        .order_fence_send("w1", &[mine[0].id, mine[1].id], later, later + LEASE_MS / 2)
        .await
        .unwrap();
    let renewed = store
        .order_lease_extend("uqpay", "w1", later + LEASE_MS)
        .await
        .unwrap();
    let after_heartbeat = store
        .order_fence_send("w1", &[mine[0].id, mine[1].id], later, later + LEASE_MS / 2)
        .await
        .unwrap();

    // Assert: nothing passes while the leases are out; after the heartbeat, only the order w1
    // still holds.
    assert_eq!(verdicts, vec![SendFence::Lost, SendFence::Lost]);
    assert_eq!(renewed, 1);
    assert_eq!(
        after_heartbeat
            .iter()
            .filter(|v| **v == SendFence::Send)
            .count(),
        1
    );
    assert_eq!(
        after_heartbeat
            .iter()
            .filter(|v| **v == SendFence::Lost)
            .count(),
        1
    );
}

async fn a_card_made_after_the_lease_was_lost_is_adopted_by_the_orders_owner(db: TestDb) {
    // Arrange: w1 sent a create and froze; w2 took the order over (after the doubt wait).
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 1)).await;
    let id = claim(&store, "w1", NOW).await[0].id;
    assert_eq!(fence(&store, "w1", id, NOW).await, SendFence::Send);
    let takeover = NOW + LEASE_MS + DOUBT_WAIT.as_millis() as i64;
    assert_eq!(claim(&store, "w2", takeover).await.len(), 1);

    // Act: w1's answer arrives (fenced out), then w2 asks before sending its own create.
    let applied = store
        .order_complete_many("w1", &[submitted(id, "card-w1")], takeover + 1)
        .await
        .unwrap();
    let verdict = fence(&store, "w2", id, takeover + 2).await;

    // Assert: w2 adopts w1's card instead of making another.
    assert_eq!(applied, vec![false]);
    match verdict {
        SendFence::Adopt(refs) => assert_eq!(refs.card_key(), Some("card-w1")),
        other => panic!("expected the card to be adopted, got {other:?}"),
    }
    let row = store.order_get(id).await.unwrap().unwrap();
    assert_eq!(row.card_ref.as_deref(), Some("card-w1"));
    assert_eq!(row.state, OrderState::InFlight, "still w2's to complete");
}

async fn a_second_card_is_reported_as_a_duplicate_in_the_orders_mismatch(db: TestDb) {
    // Arrange: w2 took the order over and recorded its card; w1, frozen mid-call, made another.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 1)).await;
    let id = claim(&store, "w1", NOW).await[0].id;
    assert_eq!(fence(&store, "w1", id, NOW).await, SendFence::Send);
    let takeover = NOW + LEASE_MS + DOUBT_WAIT.as_millis() as i64;
    claim(&store, "w2", takeover).await;
    let applied = store
        .order_complete_many("w2", &[submitted(id, "card-w2")], takeover + 1)
        .await
        .unwrap();
    assert_eq!(applied, vec![true]);

    // Act
    let stale = store
        .order_complete_many("w1", &[submitted(id, "card-w1")], takeover + 2)
        .await
        .unwrap();

    // Assert: w2's card stands; both are named for the operator.
    assert_eq!(stale, vec![false]);
    let row = store.order_get(id).await.unwrap().unwrap();
    assert_eq!(row.card_ref.as_deref(), Some("card-w2"));
    let mismatches = store.order_list_mismatches(row.batch_id).await.unwrap();
    assert_eq!(mismatches.len(), 1);
    assert!(
        mismatches[0].note.contains("duplicate card"),
        "{}",
        mismatches[0].note
    );
    assert!(mismatches[0].note.contains("card-w1") && mismatches[0].note.contains("card-w2"));
}
