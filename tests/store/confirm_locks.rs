//! Settling webhook events from several processors at once (Postgres): groups that confirm the
//! same orders take the orders' rows in id order, so one waits for the other instead of both
//! deadlocking and one failing after `deadlock_timeout`.

use crate::support::{TestDb, completion, orders, settlement, submit, wait_until};
use cardbatch::domain::OrderState;
use cardbatch::store::{EventSettlement, Store};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(60);
const NOW: i64 = 10_000;
const WAIT: Duration = Duration::from_secs(60);

/// Sessions of this test's database waiting for a lock (a row's transaction, or its tuple lock
/// when another session queued for the row first).
async fn waiting_for_a_row(pool: &sqlx::PgPool) -> i64 {
    // language=PostgreSQL
    const SQL: &str = "SELECT count(*) FROM pg_stat_activity \
        WHERE datname = current_database() AND wait_event_type = 'Lock'";
    sqlx::query_scalar(SQL).fetch_one(pool).await.unwrap()
}

/// Two groups confirm orders A and B, one as [A, B], the other as [B, A] (events received in
/// another order by another processor), while an outside transaction holds A. Without an order
/// to their locks, the second group locks B and waits for A; once A is free the first group takes
/// it and waits for B: a deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_groups_settling_the_same_orders_in_opposite_order_both_succeed() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // Arrange: two submitted orders among enough others that the planner reaches each through
    // the primary key, in the group's order; an outside transaction holds the first one's row.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 2)).await;
    submit(&store, "uqpay", orders("other", 5_000)).await;
    let mut ids: Vec<i64> = store
        .order_claim_due("uqpay", "w1", 2, LEASE, NOW)
        .await
        .unwrap()
        .iter()
        .map(|o| o.id)
        .collect();
    ids.sort();
    let (a, b) = (ids[0], ids[1]);
    store
        .order_complete_many(
            "w1",
            &[
                completion(a, OrderState::Submitted),
                completion(b, OrderState::Submitted),
            ],
            NOW,
        )
        .await
        .unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let mut outside = pool.begin().await.unwrap();
    // language=PostgreSQL
    const HOLD: &str = "SELECT id FROM orders WHERE id = $1 FOR NO KEY UPDATE";
    sqlx::query(HOLD)
        .bind(a)
        .fetch_all(&mut *outside)
        .await
        .unwrap();

    // Act: both groups start and queue behind the outside transaction, which then commits.
    let settle = |store: Store, group: Vec<EventSettlement>| {
        tokio::spawn(async move { store.webhook_event_settle_many(&group, NOW + 1_000).await })
    };
    let first = settle(
        store.clone(),
        vec![settlement(1, Some(a)), settlement(2, Some(b))],
    );
    wait_until("the first group to wait", WAIT, || async {
        waiting_for_a_row(&pool).await >= 1
    })
    .await;
    let second = settle(
        store.clone(),
        vec![settlement(3, Some(b)), settlement(4, Some(a))],
    );
    wait_until("the second group to wait", WAIT, || async {
        waiting_for_a_row(&pool).await >= 2
    })
    .await;
    outside.commit().await.unwrap();
    let first = tokio::time::timeout(WAIT, first).await.unwrap().unwrap();
    let second = tokio::time::timeout(WAIT, second).await.unwrap().unwrap();

    // Assert: neither group failed; each order moved once (by whichever group came first).
    let (first, second) = (first.expect("first group"), second.expect("second group"));
    assert_eq!(
        first.iter().filter(|m| **m).count() + second.iter().filter(|m| **m).count(),
        2
    );
    for id in [a, b] {
        let order = store.order_get(id).await.unwrap().unwrap();
        assert_eq!(order.state, OrderState::Issued);
    }
}
