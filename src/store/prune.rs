//! Retention: personal data out of settled orders and their webhook events, and whole batches
//! deleted (their references kept in `retired_refs`, so ingest still refuses them).
//!
//! Work goes in chunks of [`PRUNE_CHUNK`] orders, one short transaction each, so workers and
//! ingest are never held up for long on SQLite's single writer.

use super::connect::{Db, Store};
use super::error::{Result, corrupt};
use uuid::Uuid;

/// What a pruned order's payload and a pruned webhook event's body become.
pub const PRUNED: &str = r#"{"pruned":true}"#;
/// Orders per prune transaction.
const PRUNE_CHUNK: i64 = 5_000;

/// The states whose orders no worker, reconciler or operator moves again: their personal data
/// can go, and a batch whose orders are all in them can be deleted. (`dead` and `needs_review`
/// can be requeued, which needs the payload.)
macro_rules! settled {
    () => {
        "state IN ('issued', 'failed', 'rejected', 'canceled')"
    };
}

/// Settled orders not pruned yet, updated before the numbered parameter `$cutoff`; the same terms as the partial index
/// `orders_prunable` (migration 0410), so the planner uses it.
macro_rules! prunable {
    ($cutoff:literal) => {
        concat!(
            "pruned_at IS NULL AND ",
            settled!(),
            " AND updated_at < $",
            $cutoff
        )
    };
}

/// Prunes the payloads of up to [`PRUNE_CHUNK`] prunable orders in transaction `$tx`;
/// evaluates to their ids.
macro_rules! prune_chunk {
    ($tx:expr, $settled_before_ms:expr, $now_ms:expr) => {{
        // language=SQL
        const SQL: &str = concat!(
            "UPDATE orders SET payload = $1, pruned_at = $3 WHERE id IN (SELECT id FROM orders WHERE ",
            prunable!("2"),
            " ORDER BY updated_at LIMIT $4) RETURNING id"
        );
        let ids: Vec<i64> = sqlx::query_scalar(SQL)
            .bind(PRUNED)
            .bind($settled_before_ms)
            .bind($now_ms)
            .bind(PRUNE_CHUNK)
            .fetch_all(&mut *$tx)
            .await?;
        ids
    }};
}

/// What a prune took (or, in a dry run, would take).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PruneCount {
    /// Orders whose payload was replaced by [`PRUNED`].
    pub orders: u64,
    /// Webhook events whose body was replaced by [`PRUNED`].
    pub webhook_events: u64,
}

impl Store {
    /// Replaces the payload of every order settled (issued, failed, rejected, canceled) before
    /// `settled_before_ms` with [`PRUNED`], and the bodies of their webhook events and of the
    /// unmatched or ignored events received before then. Everything else on the order stays:
    /// order_ref, idempotency key, refs, amounts, states, times. `dry_run` counts only.
    pub async fn order_prune_personal(
        &self,
        settled_before_ms: i64,
        now_ms: i64,
        dry_run: bool,
    ) -> Result<PruneCount> {
        if dry_run {
            return self.prune_count(settled_before_ms).await;
        }
        let mut count = PruneCount::default();
        loop {
            let (orders, events) = match &self.db {
                Db::Sqlite { write, .. } => {
                    let mut tx = write.begin_with("BEGIN IMMEDIATE").await?;
                    let ids = prune_chunk!(tx, settled_before_ms, now_ms);
                    let events = sqlx::query(
                        "UPDATE webhook_events SET body = $1 \
                         WHERE order_id IN (SELECT value FROM json_each($2)) AND body <> $1",
                    )
                    .bind(PRUNED)
                    .bind(serde_json::to_string(&ids).map_err(|e| corrupt("orders", e))?)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    tx.commit().await?;
                    (ids.len() as u64, events)
                }
                Db::Postgres(pool) => {
                    let mut tx = pool.begin().await?;
                    let ids = prune_chunk!(tx, settled_before_ms, now_ms);
                    let events = sqlx::query(
                        "UPDATE webhook_events SET body = $1 \
                         WHERE order_id = ANY($2) AND body <> $1",
                    )
                    .bind(PRUNED)
                    .bind(&ids)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    tx.commit().await?;
                    (ids.len() as u64, events)
                }
            };
            count.orders += orders;
            count.webhook_events += events;
            if orders < PRUNE_CHUNK as u64 {
                break;
            }
        }
        // language=SQL
        const UNMATCHED: &str = "UPDATE webhook_events SET body = $1 WHERE order_id IS NULL \
            AND outcome IN ('unmatched', 'ignored') AND received_at < $2 AND body <> $1";
        count.webhook_events += match &self.db {
            Db::Sqlite { write, .. } => sqlx::query(UNMATCHED)
                .bind(PRUNED)
                .bind(settled_before_ms)
                .execute(write)
                .await?
                .rows_affected(),
            Db::Postgres(pool) => sqlx::query(UNMATCHED)
                .bind(PRUNED)
                .bind(settled_before_ms)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(count)
    }

    async fn prune_count(&self, settled_before_ms: i64) -> Result<PruneCount> {
        // language=SQL
        const ORDERS: &str = concat!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE ",
            prunable!("1")
        );
        // language=SQL
        const EVENTS: &str = concat!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_events WHERE body <> $1 AND (",
            "(order_id IS NULL AND outcome IN ('unmatched', 'ignored') AND received_at < $2) ",
            "OR order_id IN (SELECT id FROM orders WHERE ",
            prunable!("2"),
            "))"
        );
        let (orders, events): (i64, i64) = match &self.db {
            Db::Sqlite { read, .. } => (
                sqlx::query_scalar(ORDERS)
                    .bind(settled_before_ms)
                    .fetch_one(read)
                    .await?,
                sqlx::query_scalar(EVENTS)
                    .bind(PRUNED)
                    .bind(settled_before_ms)
                    .fetch_one(read)
                    .await?,
            ),
            Db::Postgres(pool) => (
                sqlx::query_scalar(ORDERS)
                    .bind(settled_before_ms)
                    .fetch_one(pool)
                    .await?,
                sqlx::query_scalar(EVENTS)
                    .bind(PRUNED)
                    .bind(settled_before_ms)
                    .fetch_one(pool)
                    .await?,
            ),
        };
        Ok(PruneCount {
            orders: orders as u64,
            webhook_events: events as u64,
        })
    }

    /// Batches created before `created_before_ms` whose orders are all settled (issued,
    /// failed, rejected, canceled), oldest first: what a batch retention may delete. Read from
    /// the per-batch counters.
    pub async fn batch_list_expired(&self, created_before_ms: i64) -> Result<Vec<Uuid>> {
        // language=SQL
        const SQL: &str = concat!(
            "SELECT id FROM batches WHERE created_at < $1 AND id NOT IN (",
            "SELECT batch_id FROM batch_counts WHERE NOT ",
            settled!(),
            " GROUP BY batch_id, state HAVING SUM(n) <> 0) ORDER BY created_at, id"
        );
        let ids: Vec<String> = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_scalar(SQL)
                    .bind(created_before_ms)
                    .fetch_all(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar(SQL)
                    .bind(created_before_ms)
                    .fetch_all(pool)
                    .await?
            }
        };
        ids.iter()
            .map(|id| Uuid::parse_str(id).map_err(|e| corrupt("batches", e)))
            .collect()
    }

    /// Deletes a batch, its orders, their attempts and counters in one transaction; their
    /// webhook events stay, unlinked and with their bodies pruned. The orders' references go to
    /// `retired_refs`, so a re-upload of the batch's file is still refused as duplicates.
    /// Returns how many orders went.
    pub async fn batch_delete(&self, batch_id: Uuid) -> Result<u64> {
        const STEPS: [&str; 4] = [
            "INSERT INTO retired_refs (profile, order_ref, batch_id, line) \
             SELECT profile, order_ref, batch_id, line FROM orders WHERE batch_id = $1 \
             ON CONFLICT (profile, order_ref) DO NOTHING",
            "UPDATE webhook_events SET order_id = NULL, body = $2 \
             WHERE order_id IN (SELECT id FROM orders WHERE batch_id = $1)",
            "DELETE FROM attempts WHERE order_id IN (SELECT id FROM orders WHERE batch_id = $1)",
            "DELETE FROM orders WHERE batch_id = $1",
        ];
        const AFTER: [&str; 3] = [
            "DELETE FROM batch_counts WHERE batch_id = $1",
            "DELETE FROM batch_totals WHERE batch_id = $1",
            "DELETE FROM batches WHERE id = $1",
        ];
        let id = batch_id.to_string();
        macro_rules! run {
            ($tx:expr) => {{
                let mut orders = 0;
                for (i, sql) in STEPS.iter().enumerate() {
                    let mut q = sqlx::query(*sql).bind(&id);
                    if i == 1 {
                        q = q.bind(PRUNED);
                    }
                    let n = q.execute(&mut *$tx).await?.rows_affected();
                    if i == 3 {
                        orders = n;
                    }
                }
                for sql in AFTER {
                    sqlx::query(sql).bind(&id).execute(&mut *$tx).await?;
                }
                orders
            }};
        }
        match &self.db {
            Db::Sqlite { write, .. } => {
                let mut tx = write.begin_with("BEGIN IMMEDIATE").await?;
                let n = run!(tx);
                tx.commit().await?;
                Ok(n)
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let n = run!(tx);
                tx.commit().await?;
                Ok(n)
            }
        }
    }
}
