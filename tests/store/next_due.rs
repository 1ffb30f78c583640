//! What an idle worker waits for: when its profile's next order comes due, and a wake-up when
//! another process (another store on the same database) queues orders.

use crate::support::{TestDb, orders, submit};
use cardbatch::domain::OrderState;
use cardbatch::store::Completion;
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(60);
/// Orders are created at 1,000 ms (see `support::new_batch`), so they are due from then on.
const NOW: i64 = 10_000;
/// Long enough never to be what ends a wait that should end by a wake-up.
const NEVER: Duration = Duration::from_secs(60);

on_both_engines!(
    the_next_due_instant_is_the_earliest_queued_retry_or_lease_end,
    a_waiting_worker_is_woken_by_orders_another_store_queues,
    a_paused_batch_and_a_sent_orders_doubt_wait_are_not_due,
);

async fn the_next_due_instant_is_the_earliest_queued_retry_or_lease_end(db: TestDb) {
    let store = db.store().await;
    assert_eq!(
        store
            .order_next_due("uqpay", "w2", Duration::ZERO)
            .await
            .unwrap(),
        None,
        "empty"
    );

    submit(&store, "uqpay", orders("a", 2)).await;
    assert_eq!(
        store
            .order_next_due("uqpay", "w2", Duration::ZERO)
            .await
            .unwrap(),
        Some(1_000)
    );
    assert_eq!(
        store
            .order_next_due("other", "w2", Duration::ZERO)
            .await
            .unwrap(),
        None
    );

    // Both claimed: what comes due next is their leases' end.
    let claimed = store
        .order_claim_due("uqpay", "w1", 2, LEASE, NOW)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let lease_end = NOW + LEASE.as_millis() as i64;
    assert_eq!(
        store
            .order_next_due("uqpay", "w2", Duration::ZERO)
            .await
            .unwrap(),
        Some(lease_end)
    );
    // ... for another worker: w1 never takes over its own orders.
    assert_eq!(
        store
            .order_next_due("uqpay", "w1", Duration::ZERO)
            .await
            .unwrap(),
        None
    );

    // One fails and retries in 5 s, before the other one's lease ends: that is next.
    let retry = Completion {
        order_id: claimed[0].id,
        state: OrderState::RetryWait,
        next_attempt_at: Some(NOW + 5_000),
        provider_refs: None,
        error: Some(("CARD000009".into(), "busy".into())),
        attempts: Vec::new(),
        nothing_sent: false,
    };
    store
        .order_complete_many("w1", &[retry], NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .order_next_due("uqpay", "w2", Duration::ZERO)
            .await
            .unwrap(),
        Some(NOW + 5_000)
    );
}

async fn a_waiting_worker_is_woken_by_orders_another_store_queues(db: TestDb) {
    let worker = db.store().await;
    let other_process = db.store().await;
    let mut signal = worker.work_signal();
    // The watcher (Postgres LISTEN, SQLite data_version) wakes once when it starts.
    signal.mark_seen();
    assert!(signal.wait(NEVER).await, "the watcher started");

    signal.mark_seen();
    submit(&other_process, "uqpay", orders("b", 1)).await;

    assert!(
        signal.wait(NEVER).await,
        "woken by the other store's commit"
    );
}

async fn a_paused_batch_and_a_sent_orders_doubt_wait_are_not_due(db: TestDb) {
    // Arrange: one batch paused; another's order claimed by w1, its create sent.
    let store = db.store().await;
    let paused = submit(&store, "uqpay", orders("p", 1)).await.batch_id;
    store.batch_pause(paused, None).await.unwrap();
    submit(&store, "uqpay", orders("s", 1)).await;
    let claimed = store
        .order_claim_due("uqpay", "w1", 1, LEASE, NOW)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    store
        .order_fence_send("w1", &[claimed[0].id], NOW, NOW)
        .await
        .unwrap();
    let wait = Duration::from_secs(30);

    // Act
    let next = store.order_next_due("uqpay", "w2", wait).await.unwrap();

    // Assert: not the paused batch's order (due since 1,000 ms), but the sent order's lease
    // end plus the doubt wait.
    assert_eq!(next, Some(NOW + LEASE.as_millis() as i64 + 30_000));
}
