//! What `cardbatch run --until-idle` asks the store: whether any order still moves or waits for
//! its confirmation (from the per-batch counters), and, when it stops, how many orders ended
//! badly or issued since it started (from two index ranges on `updated_at`).

use crate::support::{TestDb, orders, submit};
use cardbatch::store::Activity;

const SINCE: i64 = 1_000_000;

on_both_engines!(the_activity_counts_what_moves_and_what_ended_since_the_start);

async fn the_activity_counts_what_moves_and_what_ended_since_the_start(db: TestDb) {
    // Arrange: ten orders; all but the last two leave `queued`, some before the run's start.
    let store = db.store().await;
    store.migrate().await.unwrap();
    submit(&store, "uq", orders("act", 10)).await;
    let moves = [
        ("act-0", "issued", SINCE + 1),
        ("act-1", "issued", SINCE - 1),
        ("act-2", "failed", SINCE + 5),
        ("act-3", "dead", SINCE + 5),
        ("act-4", "needs_review", SINCE),
        ("act-5", "rejected", SINCE - 1),
        ("act-6", "submitted", SINCE + 1),
        ("act-7", "retry_wait", SINCE + 1),
    ];
    let sql: Vec<String> = moves
        .iter()
        .map(|(order_ref, state, at)| {
            format!("UPDATE orders SET state = '{state}', updated_at = {at} WHERE order_ref = '{order_ref}'")
        })
        .collect();
    // Straight in the table; the counters follow through their triggers.
    db.exec(&sql.join(";\n")).await;

    // Act
    let in_progress = store.order_in_progress().await.unwrap();
    let activity = store.order_activity(SINCE).await.unwrap();

    // Assert: moving = 2 queued + 1 retry_wait; one submitted awaits its confirmation; since the
    // start one issued and three ended badly (failed, dead, needs_review at the very instant).
    let expected = Activity {
        moving: 3,
        unconfirmed: 1,
        failed_since: 3,
        issued_since: 1,
    };
    assert_eq!(activity, expected);
    assert_eq!(
        in_progress,
        Activity {
            failed_since: 0,
            issued_since: 0,
            ..expected
        }
    );
    assert!(!in_progress.idle());

    // A looked-up submitted order no longer holds the run; with nothing moving it is idle.
    db.exec(
        "UPDATE orders SET lookup_count = 1 WHERE state = 'submitted'; \
         UPDATE orders SET state = 'canceled' WHERE state IN ('queued', 'retry_wait')",
    )
    .await;
    assert!(store.order_in_progress().await.unwrap().idle());
}
