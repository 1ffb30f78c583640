//! The CSV source: files matching a glob (relative to the jobs directory), each new one becoming
//! one batch through `cardbatch submit`'s own path ([`crate::ingest::submit`]).
//!
//! A file is known by the SHA-256 of its bytes (`schedule_files`), so a file dropped again, or
//! renamed, is not ingested twice; the orders' `order_ref` dedupe stays the last line of
//! defence. A refused file (invalid rows) is neither recorded nor moved: it is reported, fails
//! the run, and is looked at again by the next run once fixed. With `archive_dir`, a file whose
//! orders are all in the database (queued now or earlier) is moved there. Rejects files
//! (`*.rejected.csv`, written with `skip_invalid`) are never read as orders.

use crate::config::Profile;
use crate::ingest::{SubmitError, SubmitOptions, SubmitOutcome, submit_by};
use crate::store::Store;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What one CSV run did.
#[derive(Debug, Default)]
pub struct CsvRun {
    /// Batches written, one per new file with new orders.
    pub batches: Vec<uuid::Uuid>,
    /// Data rows read in the new files.
    pub rows: u64,
    /// Orders queued.
    pub inserted: u64,
    /// Rows whose order was already in the database.
    pub duplicates: u64,
    /// New files read.
    pub files: u64,
    /// Files skipped because their content was ingested before.
    pub known: u64,
    /// Files refused, and why (file: line, reason).
    pub refused: Vec<String>,
    /// Invalid rows skipped (`skip_invalid`).
    pub skipped: Vec<String>,
}

/// Why a CSV run failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The drop folder or a file could not be read, or a file could not be archived.
    #[error("{0}")]
    Files(String),
    /// The new files hold more orders than `max_orders`; nothing was ingested.
    #[error("{0}")]
    TooMany(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

/// Ingests every new file matching `pattern` for `schedule`.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    store: &Store,
    schedule: &str,
    slot_ms: i64,
    profile_name: &str,
    profile: &Profile,
    pattern: &Path,
    archive_dir: Option<&Path>,
    options: SubmitOptions,
    max_orders: Option<u64>,
) -> Result<CsvRun, CsvError> {
    let mut out = CsvRun::default();
    // 1. The files, in name order, each with its content hash.
    let mut new_files = Vec::new();
    for path in matching(pattern, archive_dir)? {
        let hash = hash_file(&path)
            .map_err(|e| CsvError::Files(format!("cannot read {}: {e}", path.display())))?;
        if store.schedule_file_known(schedule, &hash).await?.is_some() {
            out.known += 1;
            tracing::info!(schedule, file = %path.display(), "file already ingested (same content); not read again");
            if let Some(dir) = archive_dir {
                archive(&path, dir)?;
            }
            continue;
        }
        new_files.push((path, hash));
    }
    // 2. max_orders counts every new file's rows before anything is written.
    if let Some(max) = max_orders {
        let mut total = 0u64;
        for (path, _) in &new_files {
            total += count_rows(path, profile);
        }
        if total > max {
            return Err(CsvError::TooMany(format!(
                "the new files hold {total} rows, more than max_orders ({max}); nothing was ingested"
            )));
        }
    }
    // 3. One batch per file.
    for (path, hash) in new_files {
        out.files += 1;
        let file = std::fs::File::open(&path)
            .map_err(|e| CsvError::Files(format!("cannot read {}: {e}", path.display())))?;
        let actor = format!("schedule:{schedule}");
        let submitted = submit_by(store, profile_name, profile, &path, file, options, &actor).await;
        let report = match submitted {
            Ok(report) => report,
            Err(SubmitError::Store(e)) => return Err(CsvError::Store(e)),
            Err(e) => {
                out.refused.push(e.to_string());
                continue;
            }
        };
        out.rows += report.rows;
        let shown = path.display().to_string();
        match report.outcome {
            SubmitOutcome::Refused | SubmitOutcome::DryRun => {
                let mut lines: Vec<String> = report
                    .errors
                    .iter()
                    .map(|e| format!("{shown}: {e}"))
                    .collect();
                if report.invalid > report.errors.len() as u64 {
                    lines.push(format!(
                        "{shown}: ... {} invalid rows in all",
                        report.invalid
                    ));
                }
                out.refused.extend(lines);
                continue;
            }
            SubmitOutcome::Queued | SubmitOutcome::NothingNew => {}
        }
        out.skipped
            .extend(report.errors.iter().map(|e| format!("{shown}: {e}")));
        out.inserted += report.insert.inserted;
        out.duplicates += report.insert.duplicates;
        let batch = (report.outcome == SubmitOutcome::Queued).then_some(report.batch_id);
        if let Some(id) = batch {
            out.batches.push(id);
        }
        let now = chrono::Utc::now().timestamp_millis();
        store
            .schedule_file_record(
                schedule,
                &hash,
                &shown,
                batch.map(|b| b.to_string()).as_deref(),
                slot_ms,
                now,
            )
            .await?;
        if let Some(dir) = archive_dir {
            archive(&path, dir)?;
        }
    }
    Ok(out)
}

/// The files matching `pattern`, in name order: regular files, not rejects files, not in the
/// archive.
fn matching(pattern: &Path, archive_dir: Option<&Path>) -> Result<Vec<PathBuf>, CsvError> {
    let text = pattern.to_string_lossy();
    let paths = glob::glob(&text)
        .map_err(|e| CsvError::Files(format!("`{text}` is not a valid glob: {e}")))?;
    let archive = archive_dir.and_then(|d| d.canonicalize().ok());
    let mut files: Vec<PathBuf> = paths
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".rejected.csv"))
        })
        .filter(|p| match (&archive, p.canonicalize()) {
            (Some(a), Ok(p)) => !p.starts_with(a),
            _ => true,
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The SHA-256 of the file's bytes, hex, read in blocks.
fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Data rows in a file as the reader sees them (0 when it cannot be read: `submit` will say why).
fn count_rows(path: &Path, profile: &Profile) -> u64 {
    let Ok(file) = std::fs::File::open(path) else {
        return 0;
    };
    match crate::ingest::CsvOrders::new(file, profile.provider, &profile.defaults) {
        Ok(rows) => rows.count() as u64,
        Err(_) => 0,
    }
}

/// Moves `path` into `dir` (created if needed), keeping its name; a name already taken there
/// gets a numbered suffix.
fn archive(path: &Path, dir: &Path) -> Result<(), CsvError> {
    let fail = |e: std::io::Error| {
        CsvError::Files(format!(
            "cannot move {} into {}: {e}",
            path.display(),
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut target = dir.join(&name);
    let mut n = 1;
    while target.exists() {
        target = dir.join(format!("{name}.{n}"));
        n += 1;
    }
    if std::fs::rename(path, &target).is_err() {
        // Another file system: copy, then remove.
        std::fs::copy(path, &target).map_err(fail)?;
        std::fs::remove_file(path).map_err(fail)?;
    }
    Ok(())
}
