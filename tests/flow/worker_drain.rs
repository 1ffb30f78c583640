//! The worker runtime draining the queue: exactly once, takeovers, shutdown, wake-ups.

use crate::support::{TestDb, orders, profile, submit};
use cardbatch::config::{Profile, WorkerConfig};
use cardbatch::domain::OrderState;
use cardbatch::domain::ProviderKind;
use cardbatch::store::ClaimedOrder;
use cardbatch::worker::{Clock, HandlerResult, Outcome, Runtime, handler_fn, system_now_ms};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};

const WAIT: Duration = Duration::from_secs(60);

on_both_engines!(
    ten_thousand_orders_through_four_concurrent_claimers_are_each_handled_exactly_once,
    a_killed_workers_lease_expires_and_another_worker_handles_the_order_once,
    shutdown_finishes_started_calls_and_releases_claimed_but_unstarted_orders,
    an_idle_worker_picks_up_a_newly_queued_order,
    provider_calls_never_exceed_the_profile_concurrency,
    a_handler_that_panics_puts_its_order_in_doubt_and_the_lane_drains_the_rest,
);

fn config() -> WorkerConfig {
    WorkerConfig {
        lease_secs: 60,
        claim_batch: 64,
        idle_poll_ms: 20,
        shutdown_grace_secs: 30,
    }
}

/// The UQPAY profile with `concurrency` calls at once. The handlers here are stand-ins that
/// call no provider and never fail, so the address and the retry knobs do not matter.
fn profiles(concurrency: u32) -> BTreeMap<String, Profile> {
    let p = Profile {
        concurrency,
        ..profile(ProviderKind::Uqpay, "127.0.0.1:9")
    };
    BTreeMap::from([("uqpay".to_string(), p)])
}

fn submitted(order: &ClaimedOrder) -> HandlerResult {
    Outcome::Submitted {
        refs: cardbatch::domain::ProviderRefs::new()
            .with("card_order_id", format!("co-{}", order.id)),
    }
    .into()
}

async fn ten_thousand_orders_through_four_concurrent_claimers_are_each_handled_exactly_once(
    db: TestDb,
) {
    // Arrange
    let store = db.store().await;
    submit(&store, "uqpay", orders("x", 10_000)).await;
    let seen: Arc<Mutex<HashMap<i64, u32>>> = Arc::default();
    let handler = {
        let seen = seen.clone();
        handler_fn(move |order| {
            *seen.lock().unwrap().entry(order.id).or_default() += 1;
            let result = submitted(&order);
            async move { result }
        })
    };

    // Act: four runtimes, each with its own connections, drain the same queue.
    let mut claimers = Vec::new();
    for _ in 0..4 {
        let store = db.store().await;
        let runtime = Runtime::new(store, profiles(16), handler.clone(), config());
        claimers.push(tokio::spawn(runtime.drain_until_idle()));
    }
    let mut completed = 0;
    for c in claimers {
        completed += c.await.unwrap().unwrap().completed();
    }

    // Assert
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 10_000);
    assert!(
        seen.values().all(|&n| n == 1),
        "some order was handled twice"
    );
    assert_eq!(completed, 10_000);
    let counts = store.order_count_by_state().await.unwrap();
    assert_eq!(counts, BTreeMap::from([(OrderState::Submitted, 10_000)]));
}

async fn a_killed_workers_lease_expires_and_another_worker_handles_the_order_once(db: TestDb) {
    // Arrange: a worker claims two orders with a 5 s lease, sends the create of one (its fence
    // passed) and dies without finishing either.
    let store = db.store().await;
    submit(&store, "uqpay", orders("k", 2)).await;
    let clock = Clock::manual(system_now_ms());
    let lease = Duration::from_secs(5);
    let doubt_wait = profiles(4)["uqpay"].doubt_wait();
    let orphans = store
        .order_claim_due("uqpay", "dead-worker", 2, lease, clock.now_ms())
        .await
        .unwrap();
    let (sent, unsent) = (orphans[0].id, orphans[1].id);
    store
        .order_fence_send("dead-worker", &[sent], clock.now_ms(), clock.now_ms())
        .await
        .unwrap();
    let calls: Arc<Mutex<Vec<ClaimedOrder>>> = Arc::default();
    let handler = {
        let calls = calls.clone();
        handler_fn(move |order| {
            calls.lock().unwrap().push(order.clone());
            let result = submitted(&order);
            async move { result }
        })
    };
    let runtime = |store| Runtime::new(store, profiles(4), handler.clone(), config());
    let drain = || {
        runtime(store.clone())
            .with_clock(clock.clone())
            .drain_until_idle()
    };

    // Act: before the lease ends nobody touches them; as it ends, the unsent one is taken; the
    // sent one only after the profile's doubt wait.
    let early = drain().await.unwrap();
    clock.advance(lease);
    let at_expiry = drain().await.unwrap();
    clock.advance(doubt_wait);
    let after_wait = drain().await.unwrap();

    // Assert
    assert_eq!(early.completed(), 0);
    assert_eq!(at_expiry.completed(), 1);
    assert_eq!(after_wait.completed(), 1);
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (
            calls[0].id,
            calls[0].attempt,
            calls[0].previous_outcome_unknown
        ),
        (unsent, 1, false),
        "never sent: a plain first attempt, no lookup"
    );
    assert_eq!(
        (
            calls[1].id,
            calls[1].attempt,
            calls[1].previous_outcome_unknown
        ),
        (sent, 2, true),
        "sent: the handler must resolve the doubt first"
    );
    for id in [sent, unsent] {
        let row = store.order_get(id).await.unwrap().unwrap();
        assert_eq!(row.state, OrderState::Submitted);
    }
}

async fn shutdown_finishes_started_calls_and_releases_claimed_but_unstarted_orders(db: TestDb) {
    // Arrange: concurrency 3, and one claim takes all 10 orders. The first call returns at once;
    // every later one blocks until the shutdown begins. So the lane runs 3 blocked calls and
    // holds 6 claimed orders that wait for a call slot.
    let store = db.store().await;
    let batch = submit(&store, "uqpay", orders("s", 10)).await;
    let (gate_tx, gate_rx) = watch::channel(false);
    let entered = Arc::new(AtomicUsize::new(0));
    let entered_changed = Arc::new(Notify::new());
    let handler = {
        let (entered, entered_changed) = (entered.clone(), entered_changed.clone());
        handler_fn(move |order| {
            let n = entered.fetch_add(1, Ordering::SeqCst);
            entered_changed.notify_one();
            let mut gate = gate_rx.clone();
            async move {
                if n > 0 {
                    let _ = gate.wait_for(|open| *open).await;
                }
                submitted(&order)
            }
        })
    };
    let trigger = Arc::new(Notify::new());
    let shutdown = {
        let trigger = trigger.clone();
        async move { trigger.notified().await }
    };
    let runtime = Runtime::new(store.clone(), profiles(3), handler, config());
    // The gate opens once the runtime is stopping, so nothing new can start when the blocked
    // calls return. (Opening it inside the shutdown future raced: each order runs as a task of
    // its own, and a waiting order could take a freed slot before the runtime began to stop.)
    let mut stopping = runtime.stopping();
    tokio::spawn(async move {
        if stopping.wait_for(|s| *s).await.is_ok() {
            gate_tx.send_replace(true);
        }
    });
    let running = tokio::spawn(runtime.run(shutdown));

    // Act
    tokio::time::timeout(WAIT, async {
        while entered.load(Ordering::SeqCst) < 4 {
            entered_changed.notified().await;
        }
    })
    .await
    .expect("four calls started");
    trigger.notify_one();
    let report = tokio::time::timeout(WAIT, running)
        .await
        .expect("shutdown in time")
        .unwrap()
        .unwrap();

    // Assert
    assert_eq!(entered.load(Ordering::SeqCst), 4);
    assert_eq!(report.lanes[0].completed, 4);
    assert_eq!(report.lanes[0].released, 6);
    assert_eq!(report.lanes[0].abandoned, 0);
    let rows = store.order_list(batch.batch_id, None).await.unwrap();
    let by_state = |s: OrderState| rows.iter().filter(|r| r.state == s).collect::<Vec<_>>();
    assert_eq!(by_state(OrderState::Submitted).len(), 4);
    let queued = by_state(OrderState::Queued);
    assert_eq!(queued.len(), 6);
    assert!(
        queued.iter().all(|r| r.attempts == 0),
        "released orders get their attempt back"
    );
    assert!(by_state(OrderState::InFlight).is_empty());
}

async fn an_idle_worker_picks_up_a_newly_queued_order(db: TestDb) {
    // Arrange: a running worker that reports each order it handles.
    let store = db.store().await;
    let (handled_tx, mut handled_rx) = mpsc::unbounded_channel::<String>();
    let handler = handler_fn(move |order| {
        let _ = handled_tx.send(order.order.order_ref.clone());
        let result = submitted(&order);
        async move { result }
    });
    let stop = Arc::new(Notify::new());
    let runtime = Runtime::new(store.clone(), profiles(4), handler, config());
    let running = tokio::spawn(runtime.run({
        let stop = stop.clone();
        async move { stop.notified().await }
    }));
    submit(&store, "uqpay", orders("first", 1)).await;
    let first = tokio::time::timeout(WAIT, handled_rx.recv())
        .await
        .expect("first order handled");

    // Act: the worker is idle now; another process (another store) queues an order.
    let other_process = db.store().await;
    submit(&other_process, "uqpay", orders("second", 1)).await;
    let second = tokio::time::timeout(WAIT, handled_rx.recv())
        .await
        .expect("second order handled");
    stop.notify_one();
    let report = running.await.unwrap().unwrap();

    // Assert
    assert_eq!(first.as_deref(), Some("first-0"));
    assert_eq!(second.as_deref(), Some("second-0"));
    assert_eq!(report.completed(), 2);
    let counts = store.order_count_by_state().await.unwrap();
    assert_eq!(counts, BTreeMap::from([(OrderState::Submitted, 2)]));
}

async fn provider_calls_never_exceed_the_profile_concurrency(db: TestDb) {
    // Arrange: a handler that stays in flight across a few polls and records the overlap.
    let store = db.store().await;
    submit(&store, "uqpay", orders("c", 200)).await;
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (running, peak) = (running.clone(), peak.clone());
        handler_fn(move |order| {
            let (running, peak) = (running.clone(), peak.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                running.fetch_sub(1, Ordering::SeqCst);
                submitted(&order)
            }
        })
    };

    // Act
    let report = Runtime::new(store.clone(), profiles(3), handler, config())
        .drain_until_idle()
        .await
        .unwrap();

    // Assert
    assert_eq!(report.completed(), 200);
    let peak = peak.load(Ordering::SeqCst);
    assert!((1..=3).contains(&peak), "peak {peak}");
}

async fn a_handler_that_panics_puts_its_order_in_doubt_and_the_lane_drains_the_rest(db: TestDb) {
    // Arrange: 20 orders; the handler panics on one of them.
    let store = db.store().await;
    let batch = submit(&store, "uqpay", orders("p", 20)).await.batch_id;
    let handler = handler_fn(|order| async move {
        assert_ne!(order.order.order_ref, "p-7", "a handler bug");
        submitted(&order)
    });

    // The doubt is looked at again an hour later, not within this run.
    let mut profiles = profiles(4);
    for p in profiles.values_mut() {
        p.doubt_wait_ms = Some(3_600_000);
    }

    // Act: the run must still find the lane idle and stop.
    let report = tokio::time::timeout(
        WAIT,
        Runtime::new(store.clone(), profiles, handler, config()).drain_until_idle(),
    )
    .await
    .expect("the lane never became idle after a handler panicked")
    .unwrap();

    // Assert: every outcome is recorded; the panicked call may have left, so its order is in
    // doubt (looked up before anything is sent again), not leased by this worker for good.
    assert_eq!(report.completed(), 20);
    let orders = store.order_list(batch, None).await.unwrap();
    let panicked = orders.iter().find(|o| o.order_ref == "p-7").unwrap();
    assert_eq!(panicked.state, OrderState::InDoubt);
    assert_eq!(panicked.last_error_code.as_deref(), Some("handler_panic"));
    assert_eq!(
        orders
            .iter()
            .filter(|o| o.state == OrderState::Submitted)
            .count(),
        19
    );
}
