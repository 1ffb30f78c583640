//! Pickup latency on both engines: a new order from another process, a retry coming due and a
//! requeued order, each picked up by an idle worker (see `tests/support/pickup.rs`). Reported,
//! not asserted against the clock: BENCHMARKS.md records the figures of
//! `cargo run --release --example bench_pickup`.

use crate::support::{TestDb, pickup};

on_both_engines!(an_idle_worker_picks_up_new_retried_and_resumed_orders);

async fn an_idle_worker_picks_up_new_retried_and_resumed_orders(db: TestDb) {
    db.store().await;
    let report = pickup::measure(&db.url, 10).await;
    println!("pickup latency:\n{report}");
    // Every order of every kind was picked up (the probe fails the test otherwise), once each.
    assert_eq!(report.new_order.len(), 10);
    assert_eq!(report.retry_due.len(), 10);
    assert_eq!(report.resumed.len(), 10);
}
