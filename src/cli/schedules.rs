//! `cardbatch schedules [--json]` and `cardbatch schedules run NAME`.

use super::output::{outln, print_json, print_table};
use super::read::format_time;
use super::{EXIT_INPUT_REFUSED, open_store};
use crate::config::Config;
use crate::jobs::{RunOutcome, RunReport, Schedule, Source, load_one, load_usable, run_slot};
use crate::store::{RunRetake, ScheduleRun};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::process::ExitCode;

/// `cardbatch schedules`: every schedule with its last run and next slot.
///
/// A schedule file that cannot be used is reported on stderr (the others are listed) and the
/// exit status is then 1.
pub async fn list(config: &Config, as_json: bool) -> anyhow::Result<ExitCode> {
    let (schedules, errors) = load_usable(config)?;
    let status = match errors.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    };
    for error in &errors {
        eprintln!("error: {error}");
    }
    let store = open_store(config).await?;
    let now = Utc::now();
    let mut rows = Vec::new();
    for s in &schedules {
        let last = store.schedule_run_latest(&s.name).await?;
        rows.push((s, last, s.cadence.next_after(now)));
    }
    if as_json {
        print_json(
            &rows
                .iter()
                .map(|(s, last, next)| schedule_json(s, last.as_ref(), *next))
                .collect::<Vec<_>>(),
        )?;
        return Ok(status);
    }
    if rows.is_empty() {
        outln!(
            "no schedules in {}; add one TOML file per schedule (README, \"Scheduled issuance\")",
            config.jobs_dir.display()
        )?;
        return Ok(status);
    }
    print_table(
        &[
            "schedule",
            "cron",
            "timezone",
            "profile",
            "source",
            "last run (UTC)",
            "outcome",
            "batch",
            "rows",
            "next slot (UTC)",
        ],
        rows.iter().map(|(s, last, next)| {
            let (slot, outcome, batch, n) = match last {
                Some(r) => (
                    format_time(r.slot),
                    r.outcome.clone(),
                    r.batch.clone().unwrap_or_default(),
                    r.rows.to_string(),
                ),
                None => ("never".into(), String::new(), String::new(), String::new()),
            };
            let next = match (s.enabled, next) {
                (false, _) => "disabled".to_string(),
                (true, Some(t)) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
                (true, None) => "none".to_string(),
            };
            vec![
                s.name.clone(),
                s.cadence.expression().to_string(),
                s.cadence.timezone().to_string(),
                s.profile.clone(),
                s.source.describe(),
                slot,
                outcome,
                batch,
                n,
                next,
            ]
        }),
    )?;
    Ok(status)
}

/// `cardbatch schedules run NAME`: runs the schedule for its current slot (the newest one not
/// after now), whether or not that slot ran before: the source is read again and ingest
/// dedupes, so nothing is ingested twice.
///
/// Exit status: 0 when the run queued orders or found nothing new; 3 when it failed (invalid
/// rows, more than max_orders, an unreadable source): nothing was ingested; 1 when another
/// process is running the same slot.
pub async fn run(config: &Config, name: &str, as_json: bool) -> anyhow::Result<ExitCode> {
    let schedule = load_one(config, name)?;
    let store = open_store(config).await?;
    let now = Utc::now();
    let slot = schedule
        .cadence
        .latest_at_or_before(now)
        .unwrap_or_else(|| now.with_nanosecond_zero());
    let owner = format!(
        "cli:{}:{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let report = run_slot(&store, config, &schedule, slot, &owner, RunRetake::Finished).await?;
    print_report(&report, as_json)?;
    Ok(match report.outcome {
        RunOutcome::Queued | RunOutcome::NothingNew | RunOutcome::Empty | RunOutcome::Skipped => {
            ExitCode::SUCCESS
        }
        RunOutcome::Failed => ExitCode::from(EXIT_INPUT_REFUSED),
        RunOutcome::Claimed => {
            anyhow::bail!(
                "another process is running schedule {name} for slot {} right now; nothing was done",
                report.slot.format("%Y-%m-%d %H:%M:%S UTC")
            )
        }
    })
}

/// Prints what a run did.
pub fn print_report(report: &RunReport, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return print_json(report);
    }
    outln!(
        "schedule {} slot {}: {}",
        report.schedule,
        report.slot.format("%Y-%m-%d %H:%M:%S UTC"),
        report.outcome.as_str()
    )?;
    outln!(
        "rows read {}, queued {}, already ingested {}",
        report.rows,
        report.inserted,
        report.duplicates
    )?;
    for batch in &report.batches {
        outln!("batch {batch}")?;
    }
    if let Some(error) = &report.error {
        outln!("{error}")?;
    }
    for problem in &report.problems {
        outln!("  {problem}")?;
    }
    Ok(())
}

fn schedule_json(s: &Schedule, last: Option<&ScheduleRun>, next: Option<DateTime<Utc>>) -> Value {
    let source = match &s.source {
        Source::Csv {
            glob, archive_dir, ..
        } => json!({
            "kind": "csv",
            "csv": glob,
            "archive_dir": archive_dir.as_ref().map(|d| d.display().to_string()),
        }),
        Source::Database(db) => json!({
            "kind": "database",
            "database_url": db.url.to_string(),
            "cursor": db.cursor,
            "statement_timeout_secs": db.statement_timeout.as_secs(),
        }),
    };
    json!({
        "name": s.name,
        "file": s.file.display().to_string(),
        "enabled": s.enabled,
        "cron": s.cadence.expression(),
        "timezone": s.cadence.timezone(),
        "profile": s.profile,
        "source": source,
        "catch_up": s.catch_up.as_str(),
        "max_orders": s.max_orders,
        "skip_invalid": s.skip_invalid,
        "last_run": last.map(run_json),
        "next_slot": if s.enabled { next.map(|t| t.to_rfc3339()) } else { None },
    })
}

fn rfc3339(ms: i64) -> Option<String> {
    DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339())
}

fn run_json(r: &ScheduleRun) -> Value {
    json!({
        "slot": rfc3339(r.slot),
        "started": rfc3339(r.started),
        "finished": r.finished.and_then(rfc3339),
        "outcome": r.outcome,
        "batch": r.batch,
        "rows": r.rows,
        "error": r.error,
        "attempt": r.attempt,
    })
}

/// Seconds precision for a slot that is "now".
trait SecondsOnly {
    fn with_nanosecond_zero(self) -> Self;
}

impl SecondsOnly for DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        DateTime::from_timestamp(self.timestamp(), 0).unwrap_or(self)
    }
}
