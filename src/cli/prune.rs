//! `cardbatch prune [--dry-run]`, and the same pass every `retention.interval_secs` inside
//! `cardbatch run`: the [retention] section applied (personal data of settled orders, old
//! batches exported then deleted).

use super::export::write_batch;
use super::output::outln;
use super::read::format_time;
use crate::config::RetentionConfig;
use crate::store::{PruneCount, Store};
use anyhow::Context;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use uuid::Uuid;

const DAY_MS: i64 = 86_400_000;

/// What one pass removed (or, in a dry run, would remove).
#[derive(Debug, Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    /// Orders settled before this (Unix ms) lost their personal data; absent: not configured.
    pub settled_before_ms: Option<i64>,
    pub personal_data: Option<PruneCount>,
    /// Batches created before this (Unix ms) were deleted; absent: not configured.
    pub created_before_ms: Option<i64>,
    pub batches: Vec<DeletedBatch>,
}

/// A batch exported and deleted.
#[derive(Debug, Serialize)]
pub struct DeletedBatch {
    pub id: Uuid,
    pub orders: u64,
    /// Where its results CSV went (where it would go, in a dry run).
    pub export: PathBuf,
}

/// One pass of `config` at `now_ms`.
pub async fn prune(
    store: &Store,
    config: &RetentionConfig,
    now_ms: i64,
    dry_run: bool,
) -> anyhow::Result<PruneReport> {
    let mut report = PruneReport {
        dry_run,
        settled_before_ms: None,
        personal_data: None,
        created_before_ms: None,
        batches: Vec::new(),
    };
    if let Some(days) = config.personal_data_days {
        let cutoff = now_ms - i64::from(days) * DAY_MS;
        report.settled_before_ms = Some(cutoff);
        report.personal_data = Some(store.order_prune_personal(cutoff, now_ms, dry_run).await?);
    }
    if let Some(days) = config.delete_batches_days {
        let cutoff = now_ms - i64::from(days) * DAY_MS;
        report.created_before_ms = Some(cutoff);
        for id in store.batch_list_expired(cutoff).await? {
            let export = config.export_dir.join(format!("{id}.csv"));
            let orders = match dry_run {
                true => store.batch_status(id).await?.summary.total(),
                false => {
                    let exported = export_batch(store, id, &export).await?;
                    let deleted = store.batch_delete(id).await?;
                    anyhow::ensure!(
                        exported == deleted,
                        "batch {id}: {exported} orders exported but {deleted} deleted"
                    );
                    deleted
                }
            };
            report.batches.push(DeletedBatch { id, orders, export });
        }
    }
    Ok(report)
}

/// Writes the batch's results CSV to `path` (through a temporary file renamed when complete
/// and synced, so a crash never leaves a partial export under the final name).
async fn export_batch(store: &Store, id: Uuid, path: &Path) -> anyhow::Result<u64> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let part = path.with_extension("csv.part");
    let file = std::fs::File::create(&part)
        .with_context(|| format!("cannot create {}", part.display()))?;
    let n = write_batch(store, id, std::io::BufWriter::new(&file)).await?;
    file.sync_all()
        .with_context(|| format!("cannot write {}", part.display()))?;
    std::fs::rename(&part, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(n)
}

/// `cardbatch prune`.
pub async fn run(
    store: &Store,
    config: &RetentionConfig,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now().timestamp_millis();
    let report = prune(store, config, now, dry_run).await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (done, went) = match dry_run {
        true => ("would be", "would be exported to"),
        false => ("were", "exported to"),
    };
    match (report.settled_before_ms, report.personal_data) {
        (Some(cutoff), Some(n)) => outln!(
            "personal data: {} orders settled before {} and {} webhook events {done} pruned",
            n.orders,
            format_time(cutoff),
            n.webhook_events
        )?,
        _ => outln!("personal data: kept (retention.personal_data_days is not set)")?,
    }
    match report.created_before_ms {
        Some(cutoff) => {
            outln!(
                "batches created before {} with every order settled: {}",
                format_time(cutoff),
                report.batches.len()
            )?;
            for b in &report.batches {
                let deleted = if dry_run { "" } else { " and deleted" };
                outln!(
                    "  {}: {} orders {went} {}{deleted}",
                    b.id,
                    b.orders,
                    b.export.display()
                )?;
            }
        }
        None => outln!("batches: kept (retention.delete_batches_days is not set)")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `cardbatch run`'s retention: a pass every `interval_secs`, the first one at start; errors are
/// logged and the next pass tries again. Runs until dropped.
pub async fn periodic(store: Store, config: RetentionConfig) {
    if config.personal_data_days.is_none() && config.delete_batches_days.is_none() {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(config.interval_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = chrono::Utc::now().timestamp_millis();
        match prune(&store, &config, now, false).await {
            Ok(r) => tracing::info!(
                orders = r.personal_data.map(|p| p.orders).unwrap_or(0),
                webhook_events = r.personal_data.map(|p| p.webhook_events).unwrap_or(0),
                batches_deleted = r.batches.len(),
                "retention pass"
            ),
            Err(e) => tracing::warn!(error = %e, "retention pass failed"),
        }
    }
}
