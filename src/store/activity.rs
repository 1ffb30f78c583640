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

impl Activity {
    /// Nothing is moving and nothing waits for its confirmation.
    pub fn idle(&self) -> bool {
        self.moving == 0 && self.unconfirmed == 0
    }
}

// The per-batch counters (O(batches)) and the `orders_submitted` partial index (only the orders
// awaiting their confirmation): asked every quarter second by `run --until-idle`, so it must not
// read every order of a store that holds millions.
// language=SQL
const IN_PROGRESS: &str = "SELECT \
    (SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM batch_counts \
        WHERE state IN ('queued', 'in_flight', 'retry_wait', 'in_doubt')), \
    (SELECT COUNT(*) FROM orders WHERE state = 'submitted' AND lookup_count = 0)";

// What ended since the run began, read once when the run stops: one range of the
// `orders_prunable` index on updated_at (settled orders not yet pruned; its predicate is written
// out so that SQLite uses it) and one of `orders_ended_badly` (dead, needs_review). A prune never
// takes an order settled less than a day ago, nor changes updated_at.
// language=SQL
const ENDED_SINCE: &str = "SELECT \
    CAST(COALESCE(SUM(CASE WHEN state IN ('failed', 'rejected') THEN 1 ELSE 0 END), 0) AS BIGINT) \
    + (SELECT COUNT(*) FROM orders WHERE state IN ('dead', 'needs_review') AND updated_at >= $1), \
    CAST(COALESCE(SUM(CASE WHEN state = 'issued' THEN 1 ELSE 0 END), 0) AS BIGINT) \
    FROM orders WHERE pruned_at IS NULL \
        AND state IN ('issued', 'failed', 'rejected', 'canceled') AND updated_at >= $1";

impl Store {
    /// The queue's [`Activity`] without the outcomes (`failed_since` and `issued_since` are 0):
    /// cheap at any store size.
    pub async fn order_in_progress(&self) -> Result<Activity> {
        let (moving, unconfirmed) = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as::<_, (i64, i64)>(IN_PROGRESS)
                    .fetch_one(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as::<_, (i64, i64)>(IN_PROGRESS)
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok(Activity {
            moving: moving.max(0) as u64,
            unconfirmed: unconfirmed.max(0) as u64,
            ..Activity::default()
        })
    }

    /// The queue's [`Activity`], counting outcomes reached at or after `since_ms` (Unix ms).
    pub async fn order_activity(&self, since_ms: i64) -> Result<Activity> {
        let in_progress = self.order_in_progress().await?;
        let (failed, issued) = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as::<_, (i64, i64)>(ENDED_SINCE)
                    .bind(since_ms)
                    .fetch_one(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as::<_, (i64, i64)>(ENDED_SINCE)
                    .bind(since_ms)
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok(Activity {
            failed_since: failed.max(0) as u64,
            issued_since: issued.max(0) as u64,
            ..in_progress
        })
    }
}
