//! One run: a schedule's slot claimed, its source ingested, the outcome recorded.
//!
//! 1. Claim the (schedule, slot) row; another process holding it means there is nothing to do.
//! 2. While the source runs, renew the claim's lease, so that only a run whose process died is
//!    taken over (and run again: ingest dedupes, so nothing is ingested twice).
//! 3. Ingest the source: new CSV files, or the query's rows above the last cursor.
//! 4. Record the outcome, the batch, the rows read, what went wrong, and the cursor reached.

use super::csv_source::{self, CsvError};
use super::db_source::{self, DbError};
use super::schedule::{Schedule, Source};
use crate::config::Config;
use crate::ingest::{SubmitOptions, SubmitOutcome};
use crate::store::{RunRecord, RunRetake, Store};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How long a claim holds without renewal: a run whose process died is taken over after it.
pub const RUN_LEASE: Duration = Duration::from_secs(300);
/// How many problems a run's record keeps (the count goes on).
const PROBLEMS_KEPT: usize = 50;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// New orders were queued.
    Queued,
    /// The source had rows, all of them already ingested.
    NothingNew,
    /// The source had nothing (no new file, no row).
    Empty,
    /// Invalid rows, too many rows, or an unreadable source: nothing (or, for a CSV run, not
    /// every file) was ingested.
    Failed,
    /// Passed over by `catch_up = "skip"`.
    Skipped,
    /// Another process holds (or held) this slot; nothing was done here.
    Claimed,
}

impl RunOutcome {
    /// The name recorded in `schedule_runs.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Queued => "queued",
            RunOutcome::NothingNew => "nothing_new",
            RunOutcome::Empty => "empty",
            RunOutcome::Failed => "failed",
            RunOutcome::Skipped => "skipped",
            RunOutcome::Claimed => "claimed",
        }
    }
}

/// What a run did, for the CLI and the logs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    /// The schedule.
    pub schedule: String,
    /// The slot run.
    pub slot: DateTime<Utc>,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Batches written.
    pub batches: Vec<uuid::Uuid>,
    /// Rows read from the source.
    pub rows: u64,
    /// Orders queued.
    pub inserted: u64,
    /// Rows whose order was already in the database.
    pub duplicates: u64,
    /// Why it failed, in one sentence.
    pub error: Option<String>,
    /// Invalid rows, by `order_ref` (database) or file and line (CSV): refused, or skipped
    /// with `skip_invalid`.
    pub problems: Vec<String>,
    /// Which attempt at the slot this was.
    pub attempt: i64,
}

impl RunReport {
    fn new(schedule: &Schedule, slot: DateTime<Utc>, outcome: RunOutcome) -> RunReport {
        RunReport {
            schedule: schedule.name.clone(),
            slot,
            outcome,
            batches: Vec::new(),
            rows: 0,
            inserted: 0,
            duplicates: 0,
            error: None,
            problems: Vec::new(),
            attempt: 0,
        }
    }
}

/// Runs `schedule` for `slot` as `owner` if the claim allows (see the module documentation).
pub async fn run_slot(
    store: &Store,
    config: &Config,
    schedule: &Schedule,
    slot: DateTime<Utc>,
    owner: &str,
    retake: RunRetake,
) -> Result<RunReport, crate::store::Error> {
    // 1. Claim.
    let now = Utc::now().timestamp_millis();
    let lease = RUN_LEASE.as_millis() as i64;
    let slot_ms = slot.timestamp_millis();
    let Some(claim) = store
        .schedule_run_claim(&schedule.name, slot_ms, owner, now, now + lease, retake)
        .await?
    else {
        return Ok(RunReport::new(schedule, slot, RunOutcome::Claimed));
    };
    tracing::info!(schedule = %schedule.name, %slot, attempt = claim.attempt, source = %schedule.source.describe(), "schedule run started");

    // 2. Keep the lease while the source runs.
    let heartbeat = {
        let store = store.clone();
        let owner = owner.to_string();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RUN_LEASE / 4).await;
                let until = Utc::now().timestamp_millis() + lease;
                match store.schedule_run_heartbeat(claim.id, &owner, until).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!(error = %e, "cannot renew a schedule run's lease"),
                }
            }
        })
    };

    // 3. Ingest.
    let result = execute(store, config, schedule, slot_ms).await;
    heartbeat.abort();
    let (mut report, cursor) = match result {
        Ok(done) => done,
        Err(Failure::Store(e)) => return Err(e),
        Err(Failure::Run(message)) => {
            let mut report = RunReport::new(schedule, slot, RunOutcome::Failed);
            report.error = Some(message);
            (report, None)
        }
    };
    report.attempt = claim.attempt;

    // 4. Record.
    let mut error = report.error.clone();
    if !report.problems.is_empty() {
        let mut lines: Vec<String> = report
            .problems
            .iter()
            .take(PROBLEMS_KEPT)
            .cloned()
            .collect();
        if report.problems.len() > PROBLEMS_KEPT {
            lines.push(format!("... {} in all", report.problems.len()));
        }
        let head = error.take().unwrap_or_else(|| {
            format!(
                "{} invalid row(s) skipped (skip_invalid)",
                report.problems.len()
            )
        });
        error = Some(format!("{head}\n{}", lines.join("\n")));
    }
    let record = RunRecord {
        outcome: report.outcome.as_str().to_string(),
        batch: (!report.batches.is_empty()).then(|| {
            report
                .batches
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(",")
        }),
        rows: report.rows as i64,
        error,
        cursor,
        finished: Utc::now().timestamp_millis(),
    };
    if !store.schedule_run_finish(claim.id, owner, &record).await? {
        tracing::warn!(schedule = %schedule.name, %slot, "the run's claim was taken over before it finished (it outlived its lease); its outcome is not recorded");
    }
    match report.outcome {
        RunOutcome::Failed => {
            tracing::warn!(schedule = %schedule.name, %slot, rows = report.rows, error = ?report.error, problems = report.problems.len(), "schedule run failed")
        }
        _ => {
            tracing::info!(schedule = %schedule.name, %slot, outcome = report.outcome.as_str(), rows = report.rows, inserted = report.inserted, duplicates = report.duplicates, batches = ?report.batches, "schedule run finished")
        }
    }
    Ok(report)
}

/// Records `slot` as skipped by `catch_up = "skip"`.
pub async fn skip_slot(
    store: &Store,
    schedule: &Schedule,
    slot: DateTime<Utc>,
    missed: usize,
) -> Result<RunReport, crate::store::Error> {
    let note = format!(
        "{missed} slot(s) missed while no process was running; skipped (catch_up = \"skip\")"
    );
    let now = Utc::now().timestamp_millis();
    let recorded = store
        .schedule_run_skip(&schedule.name, slot.timestamp_millis(), now, &note)
        .await?;
    let mut report = RunReport::new(
        schedule,
        slot,
        if recorded {
            RunOutcome::Skipped
        } else {
            RunOutcome::Claimed
        },
    );
    if recorded {
        tracing::info!(schedule = %schedule.name, %slot, missed, "missed slots skipped");
        report.error = Some(note);
    }
    Ok(report)
}

enum Failure {
    Run(String),
    Store(crate::store::Error),
}

impl From<crate::store::Error> for Failure {
    fn from(e: crate::store::Error) -> Self {
        Failure::Store(e)
    }
}

async fn execute(
    store: &Store,
    config: &Config,
    schedule: &Schedule,
    slot_ms: i64,
) -> Result<(RunReport, Option<(String, String)>), Failure> {
    let slot = DateTime::from_timestamp_millis(slot_ms).unwrap_or_default();
    let profile = config
        .profile(&schedule.profile)
        .map_err(|e| Failure::Run(e.to_string()))?;
    let options = SubmitOptions {
        dry_run: false,
        skip_invalid: schedule.skip_invalid,
    };
    match &schedule.source {
        Source::Csv {
            pattern,
            archive_dir,
            ..
        } => {
            let run = csv_source::run(
                store,
                &schedule.name,
                slot_ms,
                &schedule.profile,
                profile,
                pattern,
                archive_dir.as_deref(),
                options,
                schedule.max_orders,
            )
            .await
            .map_err(|e| match e {
                CsvError::Store(e) => Failure::Store(e),
                other => Failure::Run(other.to_string()),
            })?;
            let outcome = if !run.refused.is_empty() {
                RunOutcome::Failed
            } else if run.inserted > 0 {
                RunOutcome::Queued
            } else if run.files > 0 {
                RunOutcome::NothingNew
            } else {
                RunOutcome::Empty
            };
            let mut report = RunReport::new(schedule, slot, outcome);
            report.rows = run.rows;
            report.inserted = run.inserted;
            report.duplicates = run.duplicates;
            report.batches = run.batches;
            if outcome == RunOutcome::Failed {
                report.error = Some(format!(
                    "a file was refused ({} problem(s)); fix it and it is read again by the next run",
                    run.refused.len()
                ));
                report.problems = run.refused;
                report.problems.extend(run.skipped);
            } else {
                report.problems = run.skipped;
            }
            Ok((report, None))
        }
        Source::Database(source) => {
            let after = match &source.cursor {
                Some(_) => store.schedule_cursor(&schedule.name).await?,
                None => None,
            };
            let run = db_source::run(
                store,
                &schedule.name,
                &schedule.profile,
                profile,
                source,
                after.clone(),
                options,
                schedule.max_orders,
            )
            .await
            .map_err(|e| match e {
                DbError::Store(e) => Failure::Store(e),
                other => Failure::Run(other.to_string()),
            })?;
            let Some(submit) = run.report else {
                let mut report = RunReport::new(schedule, slot, RunOutcome::Empty);
                report.rows = 0;
                return Ok((report, None));
            };
            let outcome = match submit.outcome {
                SubmitOutcome::Queued => RunOutcome::Queued,
                SubmitOutcome::NothingNew => RunOutcome::NothingNew,
                SubmitOutcome::Refused | SubmitOutcome::DryRun => RunOutcome::Failed,
            };
            let mut report = RunReport::new(schedule, slot, outcome);
            report.rows = run.rows;
            report.problems = run.problems;
            if outcome == RunOutcome::Failed {
                report.error = Some(format!(
                    "{} invalid row(s); nothing was ingested (skip_invalid = true queues the valid rows)",
                    submit.invalid
                ));
                return Ok((report, None));
            }
            report.inserted = submit.insert.inserted;
            report.duplicates = submit.insert.duplicates;
            if outcome == RunOutcome::Queued {
                report.batches.push(submit.batch_id);
            }
            // The cursor moves only with a committed run; a run that read nothing keeps it.
            Ok((report, run.cursor.or(after)))
        }
    }
}
