//! Submitting a file: the reader's validated orders go into one batch transaction.
//!
//! 1. Read and check the header; a file-level problem refuses the file before anything is opened.
//! 2. Open the batch transaction and stream the rows: a reader thread parses and validates them a
//!    few chunks ahead of the writer (so parsing overlaps the database's work), valid orders are
//!    written in chunks, invalid rows are collected (and, with `skip_invalid`, written to the
//!    rejects file).
//! 3. Decide: commit only when every row was valid (or invalid rows are being skipped and at
//!    least one row is valid), this is not a dry run, and at least one order is new. Otherwise roll back, still reporting which
//!    rows were duplicates.

use super::error::Problem;
use super::{CsvOrders, FileError, RejectsWriter, RowError};
use crate::config::Profile;
use crate::domain::money::format_minor;
use crate::domain::{BatchState, NewBatch, NewOrder, ProviderKind};
use crate::store::{BatchInsertReport, DuplicateOf, DuplicateSample, Store};
use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Rows the reader thread hands over at a time.
pub(crate) const HANDOFF_ROWS: usize = 1_000;
/// Hand-overs waiting for the writer: the reader runs at most this many chunks ahead, so memory
/// stays bounded whatever the file's size.
const HANDOFF_DEPTH: usize = 4;

/// How to submit.
#[derive(Debug, Clone, Copy, Default)]
pub struct SubmitOptions {
    /// Validate and report, write nothing.
    pub dry_run: bool,
    /// Queue the valid rows; write the rejected ones to the rejects file.
    pub skip_invalid: bool,
}

/// What became of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitOutcome {
    /// A batch was written and its new orders are queued.
    Queued,
    /// Invalid rows refused the whole file (with `skip_invalid`: every row was invalid); nothing
    /// was written.
    Refused,
    /// A dry run: nothing was written.
    DryRun,
    /// Every valid row was already ingested; no batch was created.
    NothingNew,
}

/// The result of a submission.
#[derive(Debug)]
pub struct SubmitReport {
    pub outcome: SubmitOutcome,
    /// The batch id (meaningful only when `outcome` is `Queued`).
    pub batch_id: Uuid,
    pub provider: ProviderKind,
    /// Data rows read (blank lines excluded).
    pub rows: u64,
    /// Rows that failed validation.
    pub invalid: u64,
    /// The invalid rows, in file order (at most [`SubmitReport::ERROR_LIMIT`]).
    pub errors: Vec<RowError>,
    /// New orders and duplicates, as the store counted them (also for a dry run or a refusal).
    pub insert: BatchInsertReport,
    /// Where the rejected rows went, with `skip_invalid`.
    pub rejects_file: Option<PathBuf>,
}

impl SubmitReport {
    /// Invalid rows kept in memory for the report; the count goes on beyond it.
    pub const ERROR_LIMIT: usize = 10_000;
}

/// Why a file could not be submitted at all.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("{}: {source}", path.display())]
    File { path: PathBuf, source: FileError },
    #[error("{}: {source}", path.display())]
    Unreadable { path: PathBuf, source: RowError },
    #[error("cannot write the rejects file {}: {source}", path.display())]
    Rejects { path: PathBuf, source: csv::Error },
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

/// Validates `input` (the content of `path`) for `profile` and queues it as one batch,
/// submitted by the CLI's user ([`crate::control::cli_actor`]).
pub async fn submit<R: Read + Send + 'static>(
    store: &Store,
    profile_name: &str,
    profile: &Profile,
    path: &Path,
    input: R,
    options: SubmitOptions,
) -> Result<SubmitReport, SubmitError> {
    let actor = crate::control::cli_actor();
    submit_by(store, profile_name, profile, path, input, options, &actor).await
}

/// [`submit`] for `actor` (`cli:<user>`, `token:<name>`), who is recorded as the batch's
/// submitter and so may not approve it.
pub async fn submit_by<R: Read + Send + 'static>(
    store: &Store,
    profile_name: &str,
    profile: &Profile,
    path: &Path,
    input: R,
    options: SubmitOptions,
    actor: &str,
) -> Result<SubmitReport, SubmitError> {
    // 1. The header.
    let file_error = |source| SubmitError::File {
        path: path.to_path_buf(),
        source,
    };
    let orders = CsvOrders::new(input, profile.provider, &profile.defaults).map_err(file_error)?;
    let rejects = match options.skip_invalid && !options.dry_run {
        true => {
            let rejects_path = RejectsWriter::path_for(path);
            let writer = RejectsWriter::create_next_to(path, orders.headers(), orders.delimiter())
                .map_err(|source| SubmitError::Rejects {
                    path: rejects_path.clone(),
                    source,
                })?;
            Some((rejects_path, writer))
        }
        false => None,
    };

    // 2. and 3.
    let batch = NewBatch {
        id: Uuid::new_v4(),
        profile: profile_name.to_string(),
        provider: profile.provider,
        source: path.display().to_string(),
        created_at_ms: chrono::Utc::now().timestamp_millis(),
    };
    let (handoffs, reader) = spawn_reader(orders);
    let rows = RowSource {
        handoffs,
        reader,
        rejects,
        positions: Positions::FILE_LINES,
    };
    ingest_rows(store, profile, actor, batch, path, rows, options).await
}

/// Where [`ingest_rows`] takes its rows from: the validated rows in source order, the task
/// producing them, and where invalid rows go with `skip_invalid`.
pub(crate) struct RowSource {
    pub handoffs: Handoffs,
    pub reader: JoinHandle<()>,
    pub rejects: Option<(PathBuf, RejectsWriter<BufWriter<File>>)>,
    /// How the source's positions read in messages.
    pub positions: Positions,
}

/// How a source's positions (`line` of a [`NewOrder`]) read in messages: `line N of this file`,
/// `row N of the query`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Positions {
    unit: &'static str,
    of: &'static str,
}

impl Positions {
    pub const FILE_LINES: Positions = Positions {
        unit: "line",
        of: "this file",
    };
    pub const QUERY_ROWS: Positions = Positions {
        unit: "row",
        of: "the query",
    };
}

/// Steps 2 and 3 for rows from any source: `handoffs` carries the validated rows of `producer`
/// (a CSV reader thread, a database query) in source order; they are written as `batch` in one
/// transaction, committed only when every row was valid (or invalid rows are skipped). `path`
/// names the source in errors; `rejects` receives the invalid rows with `skip_invalid`. The
/// batch is recorded as submitted by `actor`, held for approval where `profile` says so.
pub(crate) async fn ingest_rows(
    store: &Store,
    profile: &Profile,
    actor: &str,
    batch: NewBatch,
    path: &Path,
    source: RowSource,
    options: SubmitOptions,
) -> Result<SubmitReport, SubmitError> {
    let RowSource {
        mut handoffs,
        reader,
        mut rejects,
        positions,
    } = source;
    let file_error = |source| SubmitError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut writer = store.batch_writer(&batch).await?;
    let (mut rows, mut invalid, mut errors) = (0u64, 0u64, Vec::new());
    while let Some(item) = handoffs.next().await {
        rows += 1;
        match item {
            // Written even once the file is refused (the transaction is rolled back then): the
            // store finds a reference repeated within the file, so one pass reports those too.
            Ok(order) => writer.push(order).await?,
            Err(e) if e.fatal => {
                writer.rollback().await?;
                if let Some((p, _)) = rejects {
                    let _ = std::fs::remove_file(p);
                }
                return Err(SubmitError::Unreadable {
                    path: path.to_path_buf(),
                    source: e,
                });
            }
            Err(e) => {
                invalid += 1;
                if let Some((p, w)) = rejects.as_mut() {
                    w.write(&e).map_err(|source| SubmitError::Rejects {
                        path: p.clone(),
                        source,
                    })?;
                }
                if errors.len() < SubmitReport::ERROR_LIMIT {
                    errors.push(e);
                }
            }
        }
    }
    // The reader stopped early only if it panicked: never commit a file read half-way.
    if let Err(e) = reader.await {
        writer.rollback().await?;
        std::panic::resume_unwind(e.into_panic());
    }
    // A header and no row is refused like any unusable file (not "nothing new", exit 0).
    if rows == 0 {
        writer.rollback().await?;
        if let Some((p, w)) = rejects {
            drop(w);
            let _ = std::fs::remove_file(p);
        }
        return Err(file_error(FileError::NoOrders));
    }
    // Conflicting duplicates (a reference reused for different content, or repeated within the
    // source) are invalid rows: the second order would otherwise silently never get a card.
    let (conflicts, conflicting) = {
        let report = writer.flush_report().await?;
        (report.conflicts.clone(), report.conflicting)
    };
    if conflicting > 0 {
        invalid += conflicting;
        for conflict in conflicts {
            let error = conflict_error(&conflict, positions);
            if let Some((p, w)) = rejects.as_mut() {
                w.write(&error).map_err(|source| SubmitError::Rejects {
                    path: p.clone(),
                    source,
                })?;
            }
            if errors.len() < SubmitReport::ERROR_LIMIT {
                errors.push(error);
            }
        }
        errors.sort_by_key(|e| e.line);
    }
    let rejects_file = match rejects {
        Some((p, w)) => {
            w.finish().map_err(|source| SubmitError::Rejects {
                path: p.clone(),
                source,
            })?;
            // No row was rejected: no file to point at.
            if invalid == 0 {
                let _ = std::fs::remove_file(&p);
                None
            } else {
                Some(p)
            }
        }
        None => None,
    };

    // 3. Commit or roll back. Skipping invalid rows still needs one valid row: a file of
    // nothing but rejects is refused, not an empty batch.
    let refused = invalid > 0 && (!options.skip_invalid || invalid == rows);
    let (outcome, insert) = if refused {
        (SubmitOutcome::Refused, writer.abandon().await?)
    } else if options.dry_run {
        (SubmitOutcome::DryRun, writer.abandon().await?)
    } else {
        let (state, reason) = approval(profile, &mut writer).await?;
        writer.set_control(state, reason.as_deref(), actor).await?;
        let insert = writer.commit_unless_empty().await?;
        match insert {
            Ok(report) => (SubmitOutcome::Queued, report),
            Err(report) => (SubmitOutcome::NothingNew, report),
        }
    };
    Ok(SubmitReport {
        outcome,
        batch_id: batch.id,
        provider: batch.provider,
        rows,
        invalid,
        errors,
        insert,
        rejects_file,
    })
}

/// The state a new batch starts in: `awaiting_approval` (with the reason) when it is over the
/// profile's `approval_over_orders` or `approval_over_amount`, else `active`.
async fn approval(
    profile: &Profile,
    writer: &mut crate::store::BatchWriter,
) -> Result<(BatchState, Option<String>), SubmitError> {
    let orders = writer.flush_report().await?.inserted;
    if let Some(limit) = profile.approval_over_orders.filter(|&limit| orders > limit) {
        return Ok((
            BatchState::AwaitingApproval,
            Some(format!(
                "{orders} orders is over approval_over_orders = {limit}"
            )),
        ));
    }
    if let Some(limit) = profile.approval_over_amount {
        let total = writer.amount_total().await?;
        if total > limit.minor {
            return Ok((
                BatchState::AwaitingApproval,
                Some(format!(
                    "total {} is over approval_over_amount = {}",
                    format_minor(total),
                    format_minor(limit.minor)
                )),
            ));
        }
    }
    Ok((BatchState::Active, None))
}

/// The line error of an `order_ref` that repeats an earlier row of the source, or that an
/// earlier batch holds for other content.
fn conflict_error(conflict: &DuplicateSample, positions: Positions) -> RowError {
    let r = &conflict.order_ref;
    let reason = match conflict.duplicate_of {
        DuplicateOf::EarlierLine(line) => format!(
            "`{r}` repeats {} {line} of {}; each order needs its own reference",
            positions.unit, positions.of
        ),
        DuplicateOf::Batch(batch) => format!(
            "`{r}` already names an order of batch {batch} with different content; each order needs its own reference (an identical repeat would be skipped)"
        ),
    };
    RowError::new(
        conflict.line,
        vec![Problem {
            column: Some("order_ref".into()),
            reason,
        }],
        csv::StringRecord::new(),
        false,
    )
}

/// Parses and validates on a blocking thread, handing rows over in chunks.
fn spawn_reader<R: Read + Send + 'static>(orders: CsvOrders<R>) -> (Handoffs, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(HANDOFF_DEPTH);
    let reader = tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(HANDOFF_ROWS);
        for item in orders {
            chunk.push(item);
            if chunk.len() == HANDOFF_ROWS {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(HANDOFF_ROWS));
                // A closed channel: the writer gave up (a fatal row or a store error).
                if tx.blocking_send(full).is_err() {
                    return;
                }
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
    });
    (
        Handoffs {
            rx,
            current: Vec::new().into_iter(),
        },
        reader,
    )
}

/// The writer's end of a producer's chunks.
pub(crate) struct Handoffs {
    rx: mpsc::Receiver<Vec<Result<NewOrder, RowError>>>,
    current: std::vec::IntoIter<Result<NewOrder, RowError>>,
}

/// The producer's end: chunks of rows in source order (at most [`HANDOFF_ROWS`] each).
pub(crate) type HandoffSender = mpsc::Sender<Vec<Result<NewOrder, RowError>>>;

impl Handoffs {
    /// A channel for a producer of its own (a database query), as deep as the reader thread's.
    pub(crate) fn channel() -> (HandoffSender, Handoffs) {
        let (tx, rx) = mpsc::channel(HANDOFF_DEPTH);
        (
            tx,
            Handoffs {
                rx,
                current: Vec::new().into_iter(),
            },
        )
    }

    /// The next row in file order; `None` once the reader is done.
    async fn next(&mut self) -> Option<Result<NewOrder, RowError>> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            self.current = self.rx.recv().await?.into_iter();
        }
    }
}
