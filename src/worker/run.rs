//! Running the lanes under an apalis `Monitor`, and stopping them cleanly.
//!
//! Shutdown, in order:
//!
//! 1. the shutdown future resolves; the monitor tells every worker to stop claiming;
//! 2. apalis lets the calls already started finish, for at most `shutdown_grace_secs` (calls still
//!    running after that are abandoned: their orders keep their lease, which expires into a
//!    takeover flagged "outcome unknown", because the call may have reached the provider);
//! 3. orders claimed but never started go back to the state they were claimed from.

use super::clock::Clock;
use super::handler::OrderHandler;
use super::lane::{HandleService, Lane};
use crate::config::{Profile, WorkerConfig};
use crate::store::Store;
use apalis_core::monitor::Monitor;
use apalis_core::worker::builder::WorkerBuilder;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;

/// Why the worker runtime stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("store: {0}")]
    /// The store failed while releasing orders at shutdown.
    Store(#[from] crate::store::Error),
    #[error("worker monitor: {0}")]
    /// apalis reported a worker that ended with an error.
    Monitor(String),
}

/// What each lane did during a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneReport {
    /// The profile the lane served.
    pub profile: String,
    /// The lease owner id this lane claimed under.
    pub worker_id: String,
    /// Orders whose outcome was recorded.
    pub completed: u64,
    /// Outcomes refused because another worker had taken the order over.
    pub fenced: u64,
    /// Claimed-but-unstarted orders given back at shutdown.
    pub released: u64,
    /// Orders whose call was still running when the grace period ended (left to their lease).
    pub abandoned: u64,
}

/// The lanes of a run, in profile-name order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// One report per lane.
    pub lanes: Vec<LaneReport>,
}

impl RunReport {
    /// Orders completed over every lane.
    pub fn completed(&self) -> u64 {
        self.lanes.iter().map(|l| l.completed).sum()
    }
}

/// The worker runtime: one apalis worker (lane) per profile, each claiming only its profile's
/// orders, `concurrency` calls at once.
#[derive(Clone)]
pub struct Runtime {
    store: Store,
    profiles: BTreeMap<String, Profile>,
    handler: Arc<dyn OrderHandler>,
    config: WorkerConfig,
    clock: Clock,
    /// Turns true when a run's shutdown begins; shared by every lane of the run.
    stopping: watch::Sender<bool>,
}

impl Runtime {
    /// A runtime over `profiles` (name -> profile) with the system clock.
    pub fn new(
        store: Store,
        profiles: BTreeMap<String, Profile>,
        handler: Arc<dyn OrderHandler>,
        config: WorkerConfig,
    ) -> Runtime {
        Runtime {
            store,
            profiles,
            handler,
            config,
            clock: Clock::System,
            stopping: watch::Sender::new(false),
        }
    }

    /// Turns true the moment a run's shutdown begins (false again when the next run starts):
    /// from then on no claimed order starts its provider call. Calls already started go on.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Reads "now" from `clock` (tests).
    pub fn with_clock(mut self, clock: Clock) -> Runtime {
        self.clock = clock;
        self
    }

    /// Runs until `shutdown` resolves, then stops as described in the module docs.
    pub async fn run<F>(self, shutdown: F) -> Result<RunReport, Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.run_lanes(|_| shutdown).await
    }

    /// Runs until every lane has found nothing due and nothing running, then stops. Retries due
    /// later than that moment are left for the next run.
    pub async fn drain_until_idle(self) -> Result<RunReport, Error> {
        self.run_lanes(|lanes| {
            let mut idles: Vec<_> = lanes.iter().map(|l| l.idle.subscribe()).collect();
            async move {
                loop {
                    for rx in idles.iter_mut() {
                        let _ = rx.wait_for(|idle| *idle).await;
                    }
                    if idles.iter().all(|rx| *rx.borrow()) {
                        return;
                    }
                }
            }
        })
        .await
    }

    async fn run_lanes<F, Fut>(self, shutdown: F) -> Result<RunReport, Error>
    where
        F: FnOnce(&[Arc<Lane>]) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.stopping.send_replace(false);
        let lanes: Vec<Arc<Lane>> = self
            .profiles
            .iter()
            .map(|(name, profile)| {
                Lane::new(
                    self.store.clone(),
                    name,
                    profile,
                    self.handler.clone(),
                    &self.config,
                    self.clock.clone(),
                    self.stopping.subscribe(),
                )
            })
            .collect();
        let signal = shutdown(&lanes);
        let stopping = self.stopping.clone();

        let mut monitor =
            Monitor::new().shutdown_timeout(Duration::from_secs(self.config.shutdown_grace_secs));
        for lane in &lanes {
            let lane = lane.clone();
            monitor = monitor.register(move |_restarts| {
                // Tower layers for every order of the lane go here. The provider rate limit (the
                // profile's `crate::lanes::Lane`) is applied per provider call by its
                // `ProfileClient` instead, so that it paces calls, not intake.
                WorkerBuilder::new(lane.worker_id.clone())
                    .backend(lane.backend())
                    .layer(lane.concurrency_layer())
                    .build(HandleService { lane: lane.clone() })
            });
        }
        let heartbeats: Vec<_> = lanes
            .iter()
            .map(|l| tokio::spawn(extend_leases(l.clone())))
            .collect();

        let outcome = monitor
            .run_with_signal(async move {
                signal.await;
                // Before apalis stops the workers: orders still waiting for a call slot must not
                // start any more.
                stopping.send_replace(true);
                Ok(())
            })
            .await;
        for h in &heartbeats {
            h.abort();
        }

        let mut report = RunReport::default();
        for lane in &lanes {
            // Wait out a claim still in flight; no new one starts, apalis no longer polls.
            let _claiming = lane.claim_gate.lock().await;
            let started = lane.started_ids();
            let released = self
                .store
                .order_release_unstarted(
                    &lane.profile_name,
                    &lane.worker_id,
                    &started,
                    lane.clock.now_ms(),
                )
                .await?;
            report.lanes.push(LaneReport {
                profile: lane.profile_name.clone(),
                worker_id: lane.worker_id.clone(),
                completed: lane.completed.load(Ordering::Relaxed),
                fenced: lane.fenced.load(Ordering::Relaxed),
                released,
                abandoned: started.len() as u64,
            });
        }
        outcome.map_err(|e| Error::Monitor(e.to_string()))?;
        Ok(report)
    }
}

/// The heartbeat: keeps the lane's (short) leases alive while it holds orders. Every third of a
/// lease, every order the lane still holds gets a full lease again; an order another worker took
/// over is not the lane's any more and is left alone (its create is fenced out).
async fn extend_leases(lane: Arc<Lane>) {
    let lease = lane.lease();
    let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let until = lane.clock.now_ms() + lease.as_millis() as i64;
        if let Err(e) = lane
            .store
            .order_lease_extend(&lane.profile_name, &lane.worker_id, until)
            .await
        {
            tracing::warn!(error = %e, profile = %lane.profile_name, "extending leases failed");
        }
    }
}

/// Runs the workers until `shutdown` resolves (the CLI passes ctrl-c / SIGTERM).
pub async fn run<F>(
    store: Store,
    profiles: BTreeMap<String, Profile>,
    handler: Arc<dyn OrderHandler>,
    config: WorkerConfig,
    shutdown: F,
) -> Result<RunReport, Error>
where
    F: Future<Output = ()> + Send + 'static,
{
    Runtime::new(store, profiles, handler, config)
        .run(shutdown)
        .await
}

/// Runs the workers until nothing is due and nothing is running (tests, `cardbatch run --once`).
pub async fn drain_until_idle(
    store: Store,
    profiles: BTreeMap<String, Profile>,
    handler: Arc<dyn OrderHandler>,
    config: WorkerConfig,
) -> Result<RunReport, Error> {
    Runtime::new(store, profiles, handler, config)
        .drain_until_idle()
        .await
}
