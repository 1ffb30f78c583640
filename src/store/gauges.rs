//! The counts behind the `/metrics` gauges.

use super::connect::{Db, Store};
use super::error::{Result, corrupt};
use crate::domain::OrderState;
use std::collections::BTreeMap;

/// Runs one read query on whichever engine.
macro_rules! fetch_all {
    ($store:expr, $ty:ty, $sql:expr) => {
        match &$store.db {
            Db::Sqlite { read, .. } => sqlx::query_as::<_, $ty>($sql).fetch_all(read).await?,
            Db::Postgres(pool) => sqlx::query_as::<_, $ty>($sql).fetch_all(pool).await?,
        }
    };
}

impl Store {
    /// Number of orders per profile and state, from the per-batch counters (O(batches): a
    /// scrape never scans the orders).
    pub async fn order_count_by_profile_and_state(
        &self,
    ) -> Result<BTreeMap<(String, OrderState), u64>> {
        // language=SQL
        const SQL: &str = "SELECT b.profile, c.state, CAST(SUM(c.n) AS BIGINT) \
            FROM batch_counts c JOIN batches b ON b.id = c.batch_id \
            GROUP BY b.profile, c.state HAVING SUM(c.n) <> 0";
        fetch_all!(self, (String, String, i64), SQL)
            .into_iter()
            .map(|(p, s, n)| {
                let state = s.parse().map_err(|e| corrupt("orders", e))?;
                Ok(((p, state), n as u64))
            })
            .collect()
    }

    /// When the oldest due order of `profile` (`queued` / `retry_wait`, due at or before
    /// `now_ms`) became due (Unix ms), or `None`. The predicate is the `orders_due` partial
    /// index's, so MIN reads one index entry (EXPLAIN on both engines: BENCHMARKS.md,
    /// "Dashboard (issue 14)"). Orders of paused batches count: they are due, only held.
    pub async fn order_oldest_due(&self, profile: &str, now_ms: i64) -> Result<Option<i64>> {
        // language=SQL
        const SQL: &str = "SELECT MIN(next_attempt_at) FROM orders \
            WHERE profile = $1 AND state IN ('queued', 'retry_wait') AND next_attempt_at <= $2";
        let row: (Option<i64>,) = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as(SQL)
                    .bind(profile)
                    .bind(now_ms)
                    .fetch_one(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(SQL)
                    .bind(profile)
                    .bind(now_ms)
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok(row.0)
    }
}
