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
);

async fn the_next_due_instant_is_the_earliest_queued_retry_or_lease_end(db: TestDb) {
    let store = db.store().await;
    assert_eq!(store.order_next_due("uqpay").await.unwrap(), None, "empty");

    submit(&store, "uqpay", orders("a", 2)).await;
    assert_eq!(store.order_next_due("uqpay").await.unwrap(), Some(1_000));
    assert_eq!(store.order_next_due("other").await.unwrap(), None);

    // Both claimed: what comes due next is their leases' end.
    let claimed = store
        .order_claim_due("uqpay", "w1", 2, LEASE, NOW)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let lease_end = NOW + LEASE.as_millis() as i64;
    assert_eq!(
        store.order_next_due("uqpay").await.unwrap(),
        Some(lease_end)
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
        store.order_next_due("uqpay").await.unwrap(),
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
