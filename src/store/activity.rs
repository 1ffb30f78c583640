//! Whether anything is left to do: `cardbatch run --until-idle` exits once nothing is.

use super::connect::{Db, Store};
use super::error::Result;

/// Orders still moving, and how the ones that settled ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Orders queued, in flight, waiting for a retry or in doubt.
    pub moving: u64,
    /// Orders accepted by the provider whose confirmation has not come and that the reconciler
    /// has not looked up yet (after a lookup, an order still unconfirmed waits on the provider,
    /// e.g. a plastic card in production, and counts as settled).
    pub unconfirmed: u64,
    /// Orders that ended `failed`, `rejected`, `dead` or `needs_review` since the given time.
    pub failed_since: u64,
    /// Orders that ended `issued` since the given time.
    pub issued_since: u64,
}

impl Store {
    /// The queue's [`Activity`], counting outcomes reached at or after `since_ms` (Unix ms).
    pub async fn order_activity(&self, since_ms: i64) -> Result<Activity> {
        // language=SQL
        const SQL: &str = "SELECT \
            CAST(COALESCE(SUM(CASE WHEN state IN ('queued', 'in_flight', 'retry_wait', 'in_doubt') THEN 1 ELSE 0 END), 0) AS BIGINT), \
            CAST(COALESCE(SUM(CASE WHEN state = 'submitted' AND lookup_count = 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
            CAST(COALESCE(SUM(CASE WHEN state IN ('failed', 'rejected', 'dead', 'needs_review') AND updated_at >= $1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
            CAST(COALESCE(SUM(CASE WHEN state = 'issued' AND updated_at >= $1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
            FROM orders";
        let (moving, unconfirmed, failed, issued) = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as::<_, (i64, i64, i64, i64)>(SQL)
                    .bind(since_ms)
                    .fetch_one(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as::<_, (i64, i64, i64, i64)>(SQL)
                    .bind(since_ms)
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok(Activity {
            moving: moving.max(0) as u64,
            unconfirmed: unconfirmed.max(0) as u64,
            failed_since: failed.max(0) as u64,
            issued_since: issued.max(0) as u64,
        })
    }
}
