//! One lane = one apalis worker for one provider profile, over the `orders` table.
//!
//! The lane's backend is an apalis `CustomBackend` whose fetcher is a stream that:
//!
//! 1. marks the store's wake-up signal as seen,
//! 2. claims up to `claim_batch` due orders of its profile,
//! 3. yields them one by one (apalis asks for the next only while it holds fewer than
//!    `concurrency + claim_batch` orders of the lane),
//! 4. when nothing is due, waits for a wake-up, for the instant the profile's next order comes
//!    due (a retry, a look at an order in doubt, a lease running out), or a short, growing poll
//!    interval, whichever is first, then goes to 1. The lane's completer wakes it too when it
//!    writes a retry, so that a retry due in milliseconds is not left for the next poll.
//!
//! The service apalis runs for each order waits for one of `concurrency` call slots, calls the
//! [`OrderHandler`], frees the slot, turns the outcome into a
//! [`Completion`] and hands it to the lane's completer, which writes completions in groups and
//! answers each only once its group is durable.

use super::backoff::completion_for;
use super::clock::Clock;
use super::handler::{OrderHandler, Outcome, SendGate};
use super::limit::ConcurrencyLayer;
use crate::config::{Profile, WorkerConfig};
use crate::domain::OrderState;
use crate::store::{ClaimedOrder, Completion, Engine, SendFence, Store, WorkSignal};
use apalis_core::backend::custom::{BackendBuilder, CustomBackend};
use apalis_core::error::BoxDynError;
use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use futures::{FutureExt, Sink};
use std::collections::{HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot, watch};
use tokio_util::task::AbortOnDropHandle;

/// Completions written per transaction at most.
const MAX_GROUP: usize = 1_024;
/// The first wait before a failed completion write is tried again; it doubles up to the cap.
const COMPLETION_RETRY_FIRST: Duration = Duration::from_millis(50);
/// The longest wait between two tries of a completion write.
const COMPLETION_RETRY_CAP: Duration = Duration::from_secs(5);
/// The first pause after an empty claim; it doubles up to the lane's poll cap.
const FIRST_IDLE_PAUSE: Duration = Duration::from_millis(2);

/// State shared by a lane's fetcher, its service and the runtime around it.
pub(crate) struct Lane {
    pub(crate) profile_name: String,
    pub(crate) profile: Profile,
    pub(crate) worker_id: String,
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    pub(crate) config: WorkerConfig,
    handler: Arc<dyn OrderHandler>,
    /// Provider calls in flight at once: the profile's `concurrency`.
    calls: Arc<Semaphore>,
    /// Orders yielded to apalis and not finished yet (waiting for a call slot, calling, or
    /// waiting for their completion to be durable).
    outstanding: AtomicUsize,
    /// Orders whose handler was invoked and whose completion is not yet durable. They may have
    /// reached the provider, so a shutdown never releases them.
    pub(crate) started: Mutex<HashSet<i64>>,
    /// Set when the shutdown begins (the runtime's flag, shared by its lanes): orders still
    /// waiting for a call slot are not started.
    stopping: watch::Receiver<bool>,
    /// Nudges the fetcher when the last outstanding order finishes (it may now be idle).
    kick: Notify,
    /// `true` while the lane has nothing due and nothing running.
    pub(crate) idle: watch::Sender<bool>,
    /// Held by a claim in progress; the shutdown takes it before releasing orders, so that a
    /// claim committing late cannot leave orders behind.
    pub(crate) claim_gate: Arc<tokio::sync::Mutex<()>>,
    completer: mpsc::Sender<(Completion, oneshot::Sender<Result<bool, String>>)>,
    /// Asks the store's lease fence, in groups, right before each create leaves.
    fencer: mpsc::Sender<(i64, oneshot::Sender<SendFence>)>,
    pub(crate) completed: AtomicU64,
    pub(crate) fenced: AtomicU64,
}

impl Lane {
    pub(crate) fn new(
        store: Store,
        profile_name: &str,
        profile: &Profile,
        handler: Arc<dyn OrderHandler>,
        config: &WorkerConfig,
        clock: Clock,
        stopping: watch::Receiver<bool>,
    ) -> Arc<Lane> {
        let worker_id = format!(
            "{profile_name}/{}/{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let (tx, rx) = mpsc::channel(MAX_GROUP * 2);
        let (fence_tx, fence_rx) = mpsc::channel(MAX_GROUP * 2);
        let lane = Arc::new(Lane {
            profile_name: profile_name.to_string(),
            profile: profile.clone(),
            worker_id,
            store,
            clock,
            config: config.clone(),
            handler,
            calls: Arc::new(Semaphore::new(profile.concurrency.max(1) as usize)),
            outstanding: AtomicUsize::new(0),
            started: Mutex::new(HashSet::new()),
            stopping,
            kick: Notify::new(),
            idle: watch::Sender::new(false),
            claim_gate: Arc::default(),
            completer: tx,
            fencer: fence_tx,
            completed: AtomicU64::new(0),
            fenced: AtomicU64::new(0),
        });
        tokio::spawn(complete_in_groups(Arc::downgrade(&lane), rx));
        tokio::spawn(fence_in_groups(Arc::downgrade(&lane), fence_rx));
        lane
    }

    /// The gate of one order's create: the store's lease fence, asked through the lane's
    /// grouped fencer.
    fn send_gate(&self, order_id: i64) -> SendGate {
        let fencer = self.fencer.clone();
        SendGate::new(move || {
            let fencer = fencer.clone();
            Box::pin(async move {
                let (tx, rx) = oneshot::channel();
                if fencer.send((order_id, tx)).await.is_err() {
                    return SendFence::Lost;
                }
                rx.await.unwrap_or(SendFence::Lost)
            })
        })
    }

    /// How many orders one claim takes: no more than can start within about half a lease at
    /// the profile's rate (and at least two rounds of call slots), so that claimed orders do
    /// not sit waiting for the limiter while a dead process's leases would hold them.
    fn claim_limit(&self) -> u32 {
        let startable = self.profile.rate_limit_per_sec * self.config.lease_secs as f64 / 2.0;
        let startable = (startable.ceil() as u32).max(self.profile.concurrency.saturating_mul(2));
        self.config.claim_batch.clamp(1, startable.max(1))
    }

    pub(crate) fn lease(&self) -> Duration {
        Duration::from_secs(self.config.lease_secs)
    }

    /// The longest idle pause: short on SQLite (polling is the only wake-up across processes),
    /// longer on Postgres where NOTIFY wakes the lane and polling only catches due retries.
    fn poll_cap(&self) -> Duration {
        let ms = self.config.idle_poll_ms.max(1);
        match self.store.engine() {
            Engine::Sqlite => Duration::from_millis(ms),
            Engine::Postgres => Duration::from_millis(ms * 20),
        }
    }

    pub(crate) fn started_ids(&self) -> Vec<i64> {
        self.started
            .lock()
            .expect("started lock")
            .iter()
            .copied()
            .collect()
    }

    /// The apalis backend over this lane's profile.
    pub(crate) fn backend(self: &Arc<Self>) -> LaneBackend {
        BackendBuilder::new()
            .database(self.clone())
            .fetcher(|lane: &mut Arc<Lane>, _: &(), _| fetch(lane.clone()))
            .sink(|_: &mut Arc<Lane>, _: &()| NoPush)
            .build()
            .expect("database, fetcher and sink are all set")
    }

    /// The cap on orders apalis holds at once for this lane: the calls in flight plus one claim's
    /// worth ([`Lane::claim_limit`]: what can start within half a lease) waiting for a slot or for their completion to be written. The provider-call limit
    /// itself (`concurrency`) is applied around the handler only, so that a slow commit never
    /// holds a provider slot and the next calls start while the previous outcomes are written.
    pub(crate) fn concurrency_layer(&self) -> ConcurrencyLayer {
        ConcurrencyLayer::new((self.profile.concurrency + self.claim_limit()) as usize)
    }

    /// Handles one order end to end; resolves once its completion is durable (or at once when
    /// the lane is stopping and the order never reached its handler).
    pub(crate) async fn process(self: Arc<Self>, order: ClaimedOrder) -> Result<(), BoxDynError> {
        // Counted out however this ends, finished or dropped at the end of a shutdown (the lane
        // would otherwise never be idle again).
        let _outstanding = Outstanding(self.clone());
        self.clone().call_and_record(order).await
    }

    async fn call_and_record(self: Arc<Self>, order: ClaimedOrder) -> Result<(), BoxDynError> {
        let id = order.id;
        // 1. Wait for a call slot; once the shutdown began, leave the order unstarted (it is
        //    released afterwards).
        let mut stopping = self.stopping.clone();
        let slot = tokio::select! {
            biased;
            _ = stopping.wait_for(|s| *s) => return Ok(()),
            slot = self.calls.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        if *stopping.borrow() {
            return Ok(());
        }
        // The profile's rate limit (its `crate::lanes::Lane`, shared by every caller of the
        // profile) is waited for inside the handler, once per provider call, by the profile's
        // `ProfileClient`, holding this slot, so that `rate_limit_per_sec` paces the calls.
        // 2. Call the provider.
        self.started.lock().expect("started lock").insert(id);
        let call = self.handler.handle(order.clone(), self.send_gate(id));
        let result = match AssertUnwindSafe(call).catch_unwind().await {
            Ok(result) => result,
            // A bug in a handler: its call may have left, so the order goes in doubt (looked up
            // before anything is sent again) rather than staying leased by this worker forever.
            Err(_) => {
                tracing::error!(order_id = id, worker = %self.worker_id,
                    "the order's handler panicked; the order goes in doubt");
                Outcome::Unknown {
                    code: "handler_panic".to_string(),
                    message:
                        "the provider handler failed unexpectedly; the call may have been sent"
                            .to_string(),
                }
                .into()
            }
        };
        drop(slot);
        // 3. Record the outcome; answer only once it is durable. On failure the order keeps its
        //    lease and stays "started", so the shutdown does not release it.
        let completion = completion_for(&self.profile, &order, result, self.clock.now_ms());
        let (tx, rx) = oneshot::channel();
        self.completer
            .send((completion, tx))
            .await
            .map_err(|_| "the completer stopped")?;
        let applied = rx.await.map_err(|_| "the completer stopped")??;
        if applied {
            self.completed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.fenced.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(order_id = id, worker = %self.worker_id, "lease was taken over; outcome not recorded");
        }
        self.started.lock().expect("started lock").remove(&id);
        Ok(())
    }
}

/// One order yielded to apalis and not finished; counted out when dropped.
struct Outstanding(Arc<Lane>);

impl Drop for Outstanding {
    fn drop(&mut self) {
        if self.0.outstanding.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.kick.notify_one();
        }
    }
}

/// The backend type of a lane.
pub(crate) type LaneBackend = CustomBackend<ClaimedOrder, Arc<Lane>, OrderStream, NoPush, ()>;
type OrderStream = BoxStream<'static, Result<Option<Task<ClaimedOrder>>, BoxDynError>>;

struct FetchState {
    lane: Arc<Lane>,
    signal: WorkSignal,
    buffer: VecDeque<ClaimedOrder>,
    pause: Duration,
}

/// The fetcher stream. It never ends and never yields an error: apalis would stop the worker.
fn fetch(lane: Arc<Lane>) -> OrderStream {
    let state = FetchState {
        signal: lane.store.work_signal(),
        lane,
        buffer: VecDeque::new(),
        pause: FIRST_IDLE_PAUSE,
    };
    stream::unfold(state, |mut st| async move {
        loop {
            if let Some(order) = st.buffer.pop_front() {
                st.lane.outstanding.fetch_add(1, Ordering::SeqCst);
                let task = TaskBuilder::new(order).build();
                return Some((Ok(Some(task)), st));
            }
            st.signal.mark_seen();
            let lane = &st.lane;
            let claimed = claim(lane.clone()).await;
            match claimed {
                Ok(orders) if !orders.is_empty() => {
                    lane.idle.send_if_modified(|idle| std::mem::replace(idle, false));
                    st.pause = FIRST_IDLE_PAUSE;
                    st.buffer.extend(orders);
                    continue;
                }
                Ok(_) => {
                    let nothing_running = lane.outstanding.load(Ordering::SeqCst) == 0;
                    if nothing_running {
                        lane.idle.send_if_modified(|idle| !std::mem::replace(idle, true));
                    }
                }
                Err(e) => tracing::warn!(error = %e, profile = %lane.profile_name, "claim failed; retrying"),
            }
            let pause = st.pause.min(until_next_due(lane).await);
            st.pause = (st.pause * 2).min(lane.poll_cap());
            let lane = st.lane.clone();
            tokio::select! {
                _ = st.signal.wait(pause) => {}
                _ = lane.kick.notified() => {}
            }
        }
    })
    .boxed()
}

/// How long until the profile's next order comes due for this lane; the poll cap when nothing
/// waits, when the store cannot say, or when what it names is due already (the claim that just
/// came back empty could not take it: another process holds its row), so that an idle lane
/// never polls in a busy loop.
async fn until_next_due(lane: &Lane) -> Duration {
    let next = lane
        .store
        .order_next_due(
            &lane.profile_name,
            &lane.worker_id,
            lane.profile.doubt_wait(),
        )
        .await;
    match next {
        Ok(Some(due)) if due > lane.clock.now_ms() => {
            let ms = (due - lane.clock.now_ms()) as u64;
            Duration::from_millis(ms).min(lane.poll_cap())
        }
        Ok(_) => lane.poll_cap(),
        Err(e) => {
            tracing::warn!(error = %e, profile = %lane.profile_name, "cannot read when the next order is due");
            lane.poll_cap()
        }
    }
}

/// Claims the next orders in a task of its own. apalis stops polling the fetcher the moment a
/// shutdown begins; a claim awaited inline would then sit half-done, holding a pooled
/// connection (on SQLite, the only write connection) until the grace period ends.
async fn claim(lane: Arc<Lane>) -> Result<Vec<ClaimedOrder>, String> {
    let gate = lane.claim_gate.clone().lock_owned().await;
    let limit = lane.claim_limit();
    let task = tokio::spawn(async move {
        let _gate = gate;
        let claimed = lane
            .store
            .order_claim(
                &lane.profile_name,
                &lane.worker_id,
                limit,
                lane.lease(),
                lane.profile.doubt_wait(),
                lane.clock.now_ms(),
            )
            .await?;
        // The daily spend cap holds back what does not fit today (a no-op without one).
        let (store, name, worker) = (&lane.store, &lane.profile_name, &lane.worker_id);
        let now = lane.clock.now_ms();
        super::spend_cap::admit(store, name, &lane.profile, worker, claimed, now).await
    });
    match task.await {
        Ok(claimed) => claimed.map_err(|e| e.to_string()),
        Err(e) => Err(format!("the claim task failed: {e}")),
    }
}

/// Writes completions in groups: it takes whatever is waiting (up to [`MAX_GROUP`]), writes it
/// in one transaction (again and again until it succeeds) and answers every sender. Under load, groups grow by themselves while the
/// previous one commits.
async fn complete_in_groups(
    lane: std::sync::Weak<Lane>,
    mut rx: mpsc::Receiver<(Completion, oneshot::Sender<Result<bool, String>>)>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (completions, replies): (Vec<Completion>, Vec<_>) = group.drain(..).unzip();
        // An answer in hand is never dropped: the group is written again until the database
        // takes it (a lock held by another process, a restarting server). The write is fenced
        // on the lease and atomic with its attempt rows, so a retry applies it exactly once.
        let mut failures = 0u32;
        let applied = loop {
            let Some(lane) = lane.upgrade() else { return };
            let written = lane
                .store
                .order_complete_many(&lane.worker_id, &completions, lane.clock.now_ms())
                .await;
            match written {
                Ok(applied) => break applied,
                Err(e) => {
                    failures += 1;
                    let wait = COMPLETION_RETRY_FIRST
                        .saturating_mul(1 << failures.min(10))
                        .min(COMPLETION_RETRY_CAP);
                    tracing::error!(
                        error = %e,
                        profile = %lane.profile_name,
                        orders = completions.len(),
                        failures,
                        retry_in = ?wait,
                        "writing completions failed; writing them again (the orders keep their lease)"
                    );
                    drop(lane);
                    tokio::time::sleep(wait).await;
                }
            }
        };
        if let Some(lane) = lane.upgrade() {
            crate::telemetry::record_completion_writes(&lane.profile_name, &applied, failures);
            let now = lane.clock.now_ms();
            super::threshold::check(&lane.store, &lane.profile, &completions, &applied, now).await;
        }
        // A retry (or a look at an order in doubt) was scheduled: the fetcher may be sleeping
        // past its due time, so it looks again now.
        let rescheduled = completions
            .iter()
            .zip(&applied)
            .any(|(c, ok)| *ok && matches!(c.state, OrderState::RetryWait | OrderState::InDoubt));
        if rescheduled && let Some(lane) = lane.upgrade() {
            lane.kick.notify_one();
        }
        for (reply, ok) in replies.into_iter().zip(applied) {
            let _ = reply.send(Ok(ok));
        }
    }
}

/// Answers the lease fence for creates about to leave, in groups: one statement for whatever is
/// waiting. A create passes only while its order's lease runs at least half a lease beyond now
/// (the heartbeat renews every third of one). When the store cannot be asked, nothing is sent.
async fn fence_in_groups(
    lane: std::sync::Weak<Lane>,
    mut rx: mpsc::Receiver<(i64, oneshot::Sender<SendFence>)>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (ids, replies): (Vec<i64>, Vec<_>) = group.drain(..).unzip();
        let Some(lane) = lane.upgrade() else { return };
        let now = lane.clock.now_ms();
        let needed_until = now + lane.lease().as_millis() as i64 / 2;
        let verdicts = match lane
            .store
            .order_fence_send(&lane.worker_id, &ids, now, needed_until)
            .await
        {
            Ok(verdicts) => verdicts,
            Err(e) => {
                tracing::warn!(error = %e, profile = %lane.profile_name, orders = ids.len(),
                    "the lease fence could not be checked; those creates are not sent now");
                vec![SendFence::Lost; ids.len()]
            }
        };
        drop(lane);
        for (reply, verdict) in replies.into_iter().zip(verdicts) {
            let _ = reply.send(verdict);
        }
    }
}

/// apalis' push side, unused: orders are queued with [`Store::batch_writer`].
pub(crate) struct NoPush;

impl Sink<Task<ClaimedOrder>> for NoPush {
    type Error = BoxDynError;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, _: Task<ClaimedOrder>) -> Result<(), Self::Error> {
        Err("orders are queued with Store::batch_writer, not pushed through apalis".into())
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

/// The tower service apalis calls for each claimed order.
#[derive(Clone)]
pub(crate) struct HandleService {
    pub(crate) lane: Arc<Lane>,
}

impl tower::Service<Task<ClaimedOrder>> for HandleService {
    type Response = ();
    type Error = BoxDynError;
    type Future = BoxFuture<'static, Result<(), BoxDynError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    /// apalis polls every task of a worker inside the worker's own future (one task of the
    /// runtime, one thread at a time), so each order runs as a task of its own: the calls of a
    /// lane (building, signing and parsing requests) then use every core. Dropping the returned
    /// future (apalis giving up at the end of a shutdown's grace period) aborts the order's task,
    /// as dropping the order's future did.
    fn call(&mut self, task: Task<ClaimedOrder>) -> Self::Future {
        let handle = AbortOnDropHandle::new(tokio::spawn(self.lane.clone().process(task.args)));
        async move {
            match handle.await {
                Ok(done) => done,
                Err(e) => Err(format!("the order's task failed: {e}").into()),
            }
        }
        .boxed()
    }
}
