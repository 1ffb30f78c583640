//! The failure threshold: a batch whose attempted orders fail permanently at a share over its
//! profile's `pause_after_failure_rate` (once at least `pause_min_attempts` were attempted) is
//! paused, so a bad file does not burn through provider calls. A batch an operator resumed is not
//! paused again by the threshold.

use super::connect::{Db, Store};
use super::error::{Result, corrupt};
use uuid::Uuid;

/// What the threshold reads of a batch: orders, of which queued (not attempted yet) and
/// permanently failed (`rejected`, `failed`), from the batch's counters (kept in the
/// transactions that change its orders), not by counting its orders after every failure.
// language=SQL
const COUNTS: &str = "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT), \
        CAST(COALESCE(SUM(CASE WHEN state = 'queued' THEN n ELSE 0 END), 0) AS BIGINT), \
        CAST(COALESCE(SUM(CASE WHEN state IN ('rejected', 'failed') THEN n ELSE 0 END), 0) AS BIGINT) \
    FROM batch_counts WHERE batch_id = $1";
// language=SQLite
const SQLITE_BATCH_OF: &str =
    "SELECT id, batch_id FROM orders WHERE id IN (SELECT value FROM json_each($1))";
// language=PostgreSQL
const PG_BATCH_OF: &str = "SELECT id, batch_id FROM orders WHERE id = ANY($1)";
/// Only an active batch the threshold has not been overruled on (a resume says `resumed by`).
// language=SQL
const PAUSE: &str = "UPDATE batches SET state = 'paused', state_reason = $2 \
    WHERE id = $1 AND state = 'active' AND (state_reason IS NULL OR state_reason NOT LIKE 'resumed%')";

impl Store {
    /// Checks the batches of `failed_order_ids` (orders that just failed permanently) against the
    /// threshold and pauses those over it; returns each paused batch with the reason shown.
    pub async fn batch_pause_on_failure_rate(
        &self,
        failed_order_ids: &[i64],
        min_attempts: u64,
        rate: f64,
    ) -> Result<Vec<(Uuid, String)>> {
        // The orders' batches in one query, then in the order the orders failed.
        let of: std::collections::HashMap<i64, String> = match &self.db {
            Db::Sqlite { read, .. } => {
                let ids = serde_json::to_string(failed_order_ids).expect("integers serialise");
                sqlx::query_as(SQLITE_BATCH_OF)
                    .bind(ids)
                    .fetch_all(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(PG_BATCH_OF)
                    .bind(failed_order_ids)
                    .fetch_all(pool)
                    .await?
            }
        }
        .into_iter()
        .collect();
        let mut batches: Vec<String> = Vec::new();
        for batch in failed_order_ids.iter().filter_map(|id| of.get(id)) {
            if !batches.contains(batch) {
                batches.push(batch.clone());
            }
        }
        let mut paused = Vec::new();
        for batch in batches {
            // Skip batches the threshold cannot pause.
            let control = self
                .batch_control(Uuid::parse_str(&batch).map_err(|e| corrupt("orders", e))?)
                .await?;
            let overruled = control
                .state_reason
                .as_deref()
                .is_some_and(|r| r.starts_with("resumed"));
            if control.state != crate::domain::BatchState::Active || overruled {
                continue;
            }
            let (total, queued, failed): (i64, i64, i64) = match &self.db {
                Db::Sqlite { read, .. } => {
                    sqlx::query_as(COUNTS)
                        .bind(batch.clone())
                        .fetch_one(read)
                        .await?
                }
                Db::Postgres(pool) => {
                    sqlx::query_as(COUNTS)
                        .bind(batch.clone())
                        .fetch_one(pool)
                        .await?
                }
            };
            let attempted = (total - queued).max(0) as u64;
            if attempted < min_attempts.max(1) || (failed as f64) < rate * attempted as f64 {
                continue;
            }
            let reason = format!(
                "auto-paused: {failed} of {attempted} attempted orders failed permanently \
                 (pause_after_failure_rate = {rate}, pause_min_attempts = {min_attempts})"
            );
            let moved = match &self.db {
                Db::Sqlite { write, .. } => sqlx::query(PAUSE)
                    .bind(batch.clone())
                    .bind(reason.clone())
                    .execute(write)
                    .await?
                    .rows_affected(),
                Db::Postgres(pool) => sqlx::query(PAUSE)
                    .bind(batch.clone())
                    .bind(reason.clone())
                    .execute(pool)
                    .await?
                    .rows_affected(),
            };
            if moved > 0 {
                paused.push((
                    Uuid::parse_str(&batch).map_err(|e| corrupt("orders", e))?,
                    reason,
                ));
            }
        }
        Ok(paused)
    }
}
