//! When a profile's queue next has something to claim: so that an idle worker sleeps until a
//! retry comes due (or a lease runs out) instead of finding it at its next poll.

use super::connect::{Db, Store};
use super::error::Result;

impl Store {
    /// The earliest instant (Unix ms) at which an order of `profile` becomes claimable: a queued
    /// or retrying order's `next_attempt_at`, an order in doubt's next look, or the end of an
    /// in-flight order's lease. `None` when the profile has nothing waiting. Each part is one
    /// look at the matching partial index.
    pub async fn order_next_due(&self, profile: &str) -> Result<Option<i64>> {
        // language=SQL
        const SQL: &str = "SELECT \
            (SELECT MIN(next_attempt_at) FROM orders \
                WHERE profile = $1 AND state IN ('queued', 'retry_wait')), \
            (SELECT MIN(next_attempt_at) FROM orders WHERE profile = $1 AND state = 'in_doubt'), \
            (SELECT MIN(lease_expires_at) FROM orders WHERE profile = $1 AND state = 'in_flight')";
        type Row = (Option<i64>, Option<i64>, Option<i64>);
        let (due, doubt, lease): Row = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as::<_, Row>(SQL)
                    .bind(profile)
                    .fetch_one(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as::<_, Row>(SQL)
                    .bind(profile)
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok([due, doubt, lease].into_iter().flatten().min())
    }
}
