//! `cardbatch submit FILE --provider PROFILE`: validate a CSV and queue it as one batch.

use super::output::{outln, print_json};
use super::{EXIT_INPUT_REFUSED, EXIT_USAGE, open_store};
use crate::cli::args::SubmitArgs;
use crate::config::Config;
use crate::ingest::{SubmitError, SubmitOptions, SubmitOutcome, SubmitReport, submit};
use crate::store::DuplicateOf;
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::process::ExitCode;

/// Files above this size get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 8 * 1024 * 1024;
/// Invalid rows printed on the terminal; the rejects file (`--skip-invalid`) has them all.
const PRINTED_ERRORS: usize = 200;

/// Exit status: 0 queued, nothing new or a dry run; 2 an unknown `--provider`; 3 the input was
/// refused (a missing or unreadable file, a directory, invalid rows, or with `--skip-invalid`
/// no valid row at all); nothing is written unless the status is 0.
pub async fn run(config: &Config, args: SubmitArgs) -> anyhow::Result<ExitCode> {
    // Both checks come before the store is opened: a mistyped command touches no database.
    let Ok(profile) = config.profile(&args.provider) else {
        let known: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
        eprintln!(
            "error: --provider {}: no such profile; the configured profiles are: {}",
            args.provider,
            known.join(", ")
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    };
    let file = match open_input(&args.file) {
        Ok(file) => file,
        Err(reason) => {
            eprintln!("error: {}: {reason}", args.file.display());
            return Ok(ExitCode::from(EXIT_INPUT_REFUSED));
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    // ProgressBar draws on stderr and stays hidden when stderr is not a terminal.
    let bar = if size >= PROGRESS_MIN_BYTES {
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {wide_bar} {eta}")
                .expect("valid progress template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let store = open_store(config).await?;
    let options = SubmitOptions {
        dry_run: args.dry_run,
        skip_invalid: args.skip_invalid,
    };
    let input = BufReader::with_capacity(1 << 20, bar.wrap_read(file));
    let result = submit(&store, &args.provider, profile, &args.file, input, options).await;
    bar.finish_and_clear();
    let report = match result {
        Ok(report) => report,
        Err(e @ (SubmitError::File { .. } | SubmitError::Unreadable { .. })) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_INPUT_REFUSED));
        }
        Err(e) => return Err(e.into()),
    };
    // A batch over the profile's approval threshold is held: say so, and why.
    let held = match report.outcome {
        SubmitOutcome::Queued => {
            let control = store.batch_control(report.batch_id).await?;
            (control.state == crate::domain::BatchState::AwaitingApproval).then(|| {
                let reason = control.state_reason.unwrap_or_default();
                (reason, report.batch_id)
            })
        }
        _ => None,
    };
    if args.json {
        let mut summary = json_summary(&report);
        summary["awaiting_approval"] = serde_json::json!(held.as_ref().map(|(r, _)| r));
        print_json(&summary)?;
    } else {
        print_summary(&report)?;
        if let Some((reason, batch)) = &held {
            outln!(
                "awaiting approval ({reason}): nothing is sent until someone else runs `cardbatch approve {batch}`"
            )?;
        }
    }
    Ok(match report.outcome {
        SubmitOutcome::Refused => ExitCode::from(EXIT_INPUT_REFUSED),
        _ => ExitCode::SUCCESS,
    })
}

/// The input file, or why it cannot be read as one (a directory opens fine on Unix, and fails
/// only at the first read with a less helpful message).
fn open_input(path: &Path) -> Result<File, String> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        _ => format!("cannot open the file: {e}"),
    })?;
    match file.metadata() {
        Ok(m) if m.is_dir() => Err("is a directory, not a CSV file".to_string()),
        _ => Ok(file),
    }
}

fn print_summary(r: &SubmitReport) -> std::io::Result<()> {
    for e in r.errors.iter().take(PRINTED_ERRORS) {
        eprintln!("line {}: {}", e.line, e.reason);
    }
    if r.invalid as usize > PRINTED_ERRORS {
        eprintln!(
            "... and {} more invalid rows",
            r.invalid as usize - PRINTED_ERRORS
        );
    }
    let new = r.insert.inserted;
    match r.outcome {
        SubmitOutcome::Queued => outln!(
            "batch {} queued: {new} new orders for {}",
            r.batch_id,
            r.provider
        )?,
        SubmitOutcome::DryRun => {
            outln!("dry run: {new} orders would be queued; nothing was written")?
        }
        SubmitOutcome::NothingNew => {
            outln!("nothing new: every valid row was already ingested; no batch created")?
        }
        // `--skip-invalid` would not help: there is no valid row to queue.
        SubmitOutcome::Refused if r.rows == 1 && r.invalid == 1 => eprintln!(
            "refused: the file's only row is invalid; nothing was written (fix it and submit again)"
        ),
        SubmitOutcome::Refused if r.invalid == r.rows => eprintln!(
            "refused: all {} rows are invalid; nothing was written (fix them and submit again)",
            r.rows
        ),
        SubmitOutcome::Refused => eprintln!(
            "refused: {} of {} rows are invalid; nothing was written (fix them, or use --skip-invalid)",
            r.invalid, r.rows
        ),
    }
    outln!(
        "rows: {}  valid: {}  invalid: {}  duplicates: {}",
        r.rows,
        r.rows - r.invalid,
        r.invalid,
        // Repeats within the file and conflicting reuses are errors, counted as invalid above.
        r.insert.duplicates - r.insert.conflicting
    )?;
    for (batch, n) in &r.insert.duplicates_by_batch {
        outln!("  {n} rows already in batch {batch}")?;
    }
    for s in r.insert.samples.iter().take(10) {
        let of = match &s.duplicate_of {
            DuplicateOf::Batch(b) => format!("batch {b}"),
            // Listed among the errors.
            DuplicateOf::EarlierLine(_) => continue,
        };
        outln!(
            "  line {}: order_ref {} duplicates {of}",
            s.line,
            s.order_ref
        )?;
    }
    if let Some(p) = &r.rejects_file {
        outln!("rejected rows written to {}", p.display())?;
    }
    Ok(())
}

fn json_summary(r: &SubmitReport) -> serde_json::Value {
    serde_json::json!({
        "outcome": r.outcome,
        "batch_id": (r.outcome == SubmitOutcome::Queued).then(|| r.batch_id.to_string()),
        "provider": r.provider,
        "rows": r.rows,
        "invalid": r.invalid,
        "queued": if r.outcome == SubmitOutcome::Queued { r.insert.inserted } else { 0 },
        "duplicates": r.insert.duplicates,
        "duplicates_by_batch": r.insert.duplicates_by_batch.iter().map(|(b, n)| (b.to_string(), n)).collect::<std::collections::BTreeMap<_, _>>(),
        "duplicates_within_file": r.insert.duplicates_within_file,
        "errors": r.errors.iter().map(|e| serde_json::json!({"line": e.line, "column": e.column, "reason": e.reason})).collect::<Vec<_>>(),
        "rejects_file": r.rejects_file.as_ref().map(|p| p.display().to_string()),
    })
}
