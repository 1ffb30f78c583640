//! Pickup latency: how long an idle worker takes to start on an order that became claimable,
//! measured for the three ways an order becomes claimable while workers wait:
//!
//! - a new order queued by another process (another store on the same database);
//! - a retry coming due (the worker's own earlier attempt failed with a 100 ms `Retry-After`);
//! - a resumed order: a dead order requeued by another process (`cardbatch requeue`).
//!
//! The worker is the real runtime (`worker::Runtime`, default `WorkerConfig`) with a no-op
//! handler that records when it is called; the start is taken just before the other process
//! commits (new, resumed) or at the instant the retry is due. Between samples the worker idles
//! for 50-250 ms, so that its poll interval has grown as it does in production.
//! Shared by the flow test `pickup` and the example `bench_pickup`.

use cardbatch::config::{Profile, WorkerConfig};
use cardbatch::domain::{NewBatch, NewOrder, OrderState, ProviderKind, ProviderRefs};
use cardbatch::store::Store;
use cardbatch::worker::{HandlerResult, Outcome, Runtime, handler_fn, system_now_ms};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};

/// The profile whose orders retry; the one whose orders die at their first failure.
const PROFILE: &str = "probe";
const PROFILE_ONCE: &str = "probe_once";
/// The `Retry-After` of a failed first attempt.
const RETRY_AFTER: Duration = Duration::from_millis(100);
/// The longest any one pickup is waited for before the probe gives up.
const GIVE_UP: Duration = Duration::from_secs(30);

/// The pickup latencies of each kind, in sample order.
#[derive(Debug, Default)]
pub struct Pickup {
    pub new_order: Vec<Duration>,
    pub retry_due: Vec<Duration>,
    pub resumed: Vec<Duration>,
}

impl std::fmt::Display for Pickup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (name, samples) in [
            ("new order", &self.new_order),
            ("retry due", &self.retry_due),
            ("resumed", &self.resumed),
        ] {
            writeln!(
                f,
                "{name:>10}: p50 {:6.1} ms  p99 {:6.1} ms  max {:6.1} ms  ({} samples)",
                ms(percentile(samples, 0.50)),
                ms(percentile(samples, 0.99)),
                ms(percentile(samples, 1.0)),
                samples.len()
            )?;
        }
        Ok(())
    }
}

/// The `q` quantile (nearest rank) of `samples`.
pub fn percentile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// Runs `samples` rounds of the three pickups against the database at `url` (migrated).
pub async fn measure(url: &str, samples: usize) -> Pickup {
    let worker_store = Store::connect(url).await.expect("the worker's store");
    let other = Store::connect(url)
        .await
        .expect("the other process's store");
    let (calls_tx, mut calls) = mpsc::unbounded_channel::<(String, Instant)>();
    let failed_once = Arc::new(Mutex::new(HashSet::new()));
    let handler = handler_fn(move |order| {
        let at = Instant::now();
        let reference = order.order.order_ref.clone();
        let _ = calls_tx.send((reference.clone(), at));
        let first = failed_once.lock().unwrap().insert(order.id);
        let outcome = if first && !reference.starts_with("new-") {
            Outcome::Transient {
                code: "probe".into(),
                message: "first attempt fails".into(),
                retry_after: Some(RETRY_AFTER),
            }
        } else {
            Outcome::Submitted {
                refs: ProviderRefs::new().with("card_order_id", format!("co-{}", order.id)),
            }
        };
        async move { HandlerResult::from(outcome) }
    });
    let stop = Arc::new(Notify::new());
    let runtime = Runtime::new(
        worker_store.clone(),
        profiles(),
        handler,
        WorkerConfig::default(),
    );
    let running = tokio::spawn(runtime.run({
        let stop = stop.clone();
        async move { stop.notified().await }
    }));

    let mut next_call = async move |expected: &str| {
        let (reference, at) = tokio::time::timeout(GIVE_UP, calls.recv())
            .await
            .expect("the worker picks the order up")
            .expect("the handler is alive");
        assert_eq!(reference, expected);
        at
    };
    let mut pickup = Pickup::default();
    for i in 0..samples {
        // A new order from another process.
        idle(i).await;
        let reference = format!("new-{i}");
        let start = queue(&other, PROFILE, &reference).await;
        pickup.new_order.push(next_call(&reference).await - start);

        // A retry coming due: the first attempt fails with a Retry-After.
        idle(i + 1).await;
        let reference = format!("retry-{i}");
        queue(&other, PROFILE, &reference).await;
        let failed = next_call(&reference).await;
        let due = failed + RETRY_AFTER;
        pickup
            .retry_due
            .push(next_call(&reference).await.saturating_duration_since(due));

        // A dead order requeued by another process.
        let reference = format!("dead-{i}");
        let batch = queue_batch(&other, PROFILE_ONCE, &reference).await;
        next_call(&reference).await;
        wait_dead(&other, batch).await;
        idle(i + 2).await;
        let start = Instant::now();
        let moved = other
            .order_requeue(batch, OrderState::Dead, system_now_ms())
            .await
            .expect("requeue");
        assert_eq!(moved, 1);
        pickup.resumed.push(next_call(&reference).await - start);
    }
    stop.notify_one();
    running
        .await
        .expect("the runtime task")
        .expect("the runtime stops");
    worker_store.close().await;
    other.close().await;
    pickup
}

/// The two profiles, with the runtime's defaults otherwise (no provider is called).
fn profiles() -> BTreeMap<String, Profile> {
    let base = Profile {
        backoff_base_ms: 1,
        backoff_cap_ms: 1,
        ..Profile::sandbox(ProviderKind::Uqpay, "127.0.0.1:9")
    };
    BTreeMap::from([
        (PROFILE.to_string(), base.clone()),
        (
            PROFILE_ONCE.to_string(),
            Profile {
                max_attempts: 1,
                ..base
            },
        ),
    ])
}

/// Lets the worker idle for 50-250 ms (a fixed spread over the samples).
async fn idle(i: usize) {
    tokio::time::sleep(Duration::from_millis(50 + (i as u64 * 37) % 200)).await;
}

/// Queues one order in a batch of its own; returns the instant just before the commit.
async fn queue(store: &Store, profile: &str, reference: &str) -> Instant {
    let (_, start) = write_batch(store, profile, reference).await;
    start
}

async fn queue_batch(store: &Store, profile: &str, reference: &str) -> uuid::Uuid {
    write_batch(store, profile, reference).await.0
}

async fn write_batch(store: &Store, profile: &str, reference: &str) -> (uuid::Uuid, Instant) {
    let batch = NewBatch {
        id: uuid::Uuid::new_v4(),
        profile: profile.to_string(),
        provider: ProviderKind::Uqpay,
        source: "pickup".to_string(),
        created_at_ms: system_now_ms(),
    };
    let mut writer = store.batch_writer(&batch).await.expect("open a batch");
    writer
        .push(NewOrder {
            line: 2,
            order_ref: reference.to_string(),
            idempotency_key: format!("idem-{reference}"),
            payload: serde_json::json!({ "card_holder": "probe" }).into(),
            amount_minor: Some(100),
            currency: Some("USD".to_string()),
        })
        .await
        .expect("push the order");
    let start = Instant::now();
    writer.commit().await.expect("commit the batch");
    (batch.id, start)
}

/// Waits until the order of `batch` is dead (its failed attempt is written after the handler
/// returns).
async fn wait_dead(store: &Store, batch: uuid::Uuid) {
    let deadline = Instant::now() + GIVE_UP;
    loop {
        let dead = store
            .order_list(batch, Some(OrderState::Dead))
            .await
            .expect("list the batch");
        if !dead.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "the order never died");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
