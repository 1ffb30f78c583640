//! When a profile's queue next has something to claim: so that an idle worker sleeps until a
//! retry comes due (or a lease runs out) instead of finding it at its next poll.

use super::connect::{Db, Store};
use super::error::Result;
use std::time::Duration;

impl Store {
    /// The earliest instant (Unix ms) at which an order of `profile` becomes claimable by
    /// `worker_id`, by the claim's own rules: a queued or retrying order of an active batch
    /// (its `next_attempt_at`), an order in doubt's next look, or the end of another worker's
    /// lease (plus `doubt_wait` when its create was sent). `None` when nothing waits.
    pub async fn order_next_due(
        &self,
        profile: &str,
        worker_id: &str,
        doubt_wait: Duration,
    ) -> Result<Option<i64>> {
        // language=SQL
        const SQL: &str = "SELECT \
            (SELECT MIN(next_attempt_at) FROM orders \
                WHERE profile = $1 AND state IN ('queued', 'retry_wait') \
                  AND batch_id NOT IN (SELECT id FROM batches WHERE state <> 'active')), \
            (SELECT MIN(next_attempt_at) FROM orders WHERE profile = $1 AND state = 'in_doubt'), \
            (SELECT MIN(lease_expires_at + CASE WHEN sent_at IS NULL THEN 0 ELSE $3 END) \
                FROM orders WHERE profile = $1 AND state = 'in_flight' \
                  AND (lease_owner IS NULL OR lease_owner <> $2))";
        type Row = (Option<i64>, Option<i64>, Option<i64>);
        let doubt_ms = i64::try_from(doubt_wait.as_millis()).unwrap_or(i64::MAX / 4);
        let (due, doubt, lease): Row = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as::<_, Row>(SQL)
                    .bind(profile)
                    .bind(worker_id)
                    .bind(doubt_ms)
                    .fetch_one(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as::<_, Row>(SQL)
                    .bind(profile)
                    .bind(worker_id)
                    .bind(doubt_ms)
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok([due, doubt, lease].into_iter().flatten().min())
    }
}
