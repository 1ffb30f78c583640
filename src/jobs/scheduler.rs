//! The scheduler: the service inside `cardbatch run` that fires due slots.
//!
//! Each tick:
//! 1. For every enabled schedule, read the newest slot recorded and [`plan`] what is due now:
//!    the current slot, and missed ones as `catch_up` says.
//! 2. Claim and run each due slot in order (or record it as skipped). A slot another process
//!    claimed first is left to it: each slot fires once however many processes run.
//! 3. Take over runs whose process died (still `running`, lease over) and run them again.
//!
//! Every slot fired is counted in `cardbatch_schedule_runs_total{schedule,outcome}`.
//!
//! Then sleep until the next slot of any schedule (at most [`MAX_SLEEP`], so that runs of dead
//! processes are found), or until stopped. A stop while a run is in progress abandons it: its
//! batch transaction rolls back and another process takes the slot over once the lease ends.

use super::run::{RunReport, run_slot, skip_slot};
use super::schedule::Schedule;
use super::slots::{Fire, plan};
use crate::config::Config;
use crate::store::{RunRetake, Store};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::time::Duration;

/// The longest sleep between two ticks.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);

/// Fires the slots of a set of schedules.
pub struct Scheduler {
    store: Store,
    config: Config,
    schedules: Vec<Schedule>,
    owner: String,
}

impl Scheduler {
    /// A scheduler over `schedules`, with a process-unique owner name for its claims.
    pub fn new(store: Store, config: Config, schedules: Vec<Schedule>) -> Scheduler {
        let host = std::env::var("HOSTNAME").unwrap_or_default();
        Scheduler {
            store,
            config,
            schedules,
            owner: format!(
                "{host}:{}:{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ),
        }
    }

    /// The schedules it fires.
    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }

    /// One tick at `now` (steps 1 to 3 of the module documentation); the runs it made.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Vec<RunReport>, crate::store::Error> {
        let mut reports = Vec::new();
        for schedule in self.schedules.iter().filter(|s| s.enabled) {
            let last = self
                .store
                .schedule_run_last_slot(&schedule.name)
                .await?
                .and_then(DateTime::from_timestamp_millis);
            for fire in plan(&schedule.cadence, schedule.catch_up, last, now) {
                let report = match fire {
                    Fire::Run(slot) => {
                        run_slot(
                            &self.store,
                            &self.config,
                            schedule,
                            slot,
                            &self.owner,
                            RunRetake::IfDead,
                        )
                        .await?
                    }
                    Fire::Skip { slot, missed } => {
                        skip_slot(&self.store, schedule, slot, missed).await?
                    }
                };
                reports.push(counted(report));
            }
        }
        for (name, slot_ms) in self.store.schedule_run_dead(now.timestamp_millis()).await? {
            let Some(schedule) = self.schedules.iter().find(|s| s.name == name) else {
                continue;
            };
            let Some(slot) = DateTime::from_timestamp_millis(slot_ms) else {
                continue;
            };
            tracing::warn!(schedule = %name, %slot, "a run whose process died is taken over");
            let report = run_slot(
                &self.store,
                &self.config,
                schedule,
                slot,
                &self.owner,
                RunRetake::IfDead,
            )
            .await?;
            reports.push(counted(report));
        }
        Ok(reports)
    }

    /// Ticks until `stop` resolves.
    pub async fn run<F: Future<Output = ()>>(self, stop: F) {
        tracing::info!(
            schedules = ?self.schedules.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            "scheduler started"
        );
        tokio::pin!(stop);
        loop {
            let now = Utc::now();
            tokio::select! {
                _ = &mut stop => return,
                result = self.tick(now) => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "scheduler tick failed; trying again shortly");
                    }
                }
            }
            let sleep = self.until_next(Utc::now());
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// How long until the next slot of any enabled schedule, at most [`MAX_SLEEP`].
    fn until_next(&self, now: DateTime<Utc>) -> Duration {
        self.schedules
            .iter()
            .filter(|s| s.enabled)
            .filter_map(|s| s.cadence.next_after(now))
            .map(|next| (next - now).to_std().unwrap_or_default())
            .min()
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP)
            // A slot is only due once its instant has passed.
            + Duration::from_millis(5)
    }
}

/// `report`, counted in the schedule-run metric as it is made.
fn counted(report: RunReport) -> RunReport {
    crate::telemetry::record_schedule_run(&report.schedule, report.outcome.as_str());
    report
}
