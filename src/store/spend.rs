//! The daily spend cap's ledger: per profile and day, the amounts reserved by claims. A
//! reservation either fits under the cap, atomically, or is refused and the order waits.

use super::connect::{Db, Store};
use super::error::Result;

// language=SQL
const OPEN_DAY: &str = "INSERT INTO spend_days (profile, day, spent_minor) VALUES ($1, $2, 0) \
    ON CONFLICT (profile, day) DO NOTHING";
/// One statement: concurrent claimers (other processes included) cannot both fit under the cap.
// language=SQL
const RESERVE: &str = "UPDATE spend_days SET spent_minor = spent_minor + $3 \
    WHERE profile = $1 AND day = $2 AND spent_minor + $3 <= $4";
/// Gives an order back as it was before its claim, due at `$3` (the next day).
// language=SQL
const DEFER: &str = "UPDATE orders SET state = claimed_from, attempts = attempts - 1, \
        lease_owner = NULL, lease_expires_at = NULL, claimed_from = NULL, next_attempt_at = $3, \
        updated_at = $4, last_error_code = 'spend_cap', last_error_message = $5 \
    WHERE id = $1 AND lease_owner = $2 AND state = 'in_flight' \
      AND claimed_from IN ('queued', 'retry_wait')";

/// Maker-checker, as for an approval: not by the batch's submitter.
// language=SQL
const WAIVE: &str = "UPDATE batches SET spend_cap_waived_by = $2 \
    WHERE id = $1 AND state = 'active' AND (submitted_by IS NULL OR submitted_by <> $2)";
/// The orders the cap held back are due at once.
// language=SQL
const RELEASE: &str = "UPDATE orders SET next_attempt_at = $2, last_error_code = NULL, \
        last_error_message = NULL, updated_at = $2 \
    WHERE batch_id = $1 AND state IN ('queued', 'retry_wait') AND last_error_code = 'spend_cap'";
// language=SQL
const HELD: &str = "SELECT COUNT(*) FROM orders \
    WHERE batch_id = $1 AND state IN ('queued', 'retry_wait') AND last_error_code = 'spend_cap'";

impl Store {
    /// The orders of `batch_id` the spend cap holds back now.
    pub async fn spend_held(&self, batch_id: uuid::Uuid) -> Result<u64> {
        let n: i64 = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_scalar(HELD)
                    .bind(batch_id.to_string())
                    .fetch_one(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar(HELD)
                    .bind(batch_id.to_string())
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok(n as u64)
    }

    /// `approver` lets the active batch `batch_id` spend past the daily cap: the orders the cap
    /// held back are due at `now_ms`, and later claims do not hold its orders. Returns how many
    /// were released; [`super::Error::SelfApproval`] for its submitter.
    pub async fn batch_waive_spend_cap(
        &self,
        batch_id: uuid::Uuid,
        approver: &str,
        now_ms: i64,
    ) -> Result<u64> {
        let id = batch_id.to_string();
        macro_rules! waive {
            ($pool:expr) => {{
                let waived = sqlx::query(WAIVE)
                    .bind(id.clone())
                    .bind(approver.to_owned())
                    .execute($pool)
                    .await?
                    .rows_affected();
                if waived == 0 {
                    None
                } else {
                    Some(
                        sqlx::query(RELEASE)
                            .bind(id.clone())
                            .bind(now_ms)
                            .execute($pool)
                            .await?
                            .rows_affected(),
                    )
                }
            }};
        }
        let released = match &self.db {
            Db::Sqlite { write, .. } => waive!(write),
            Db::Postgres(pool) => waive!(pool),
        };
        match released {
            Some(n) => {
                self.notify_work();
                Ok(n)
            }
            None => {
                let now = self.batch_control(batch_id).await?;
                Err(if now.state == crate::domain::BatchState::Active {
                    super::Error::SelfApproval(batch_id)
                } else {
                    super::Error::BatchStateForbids {
                        batch: batch_id,
                        state: now.state,
                        action: "approve",
                    }
                })
            }
        }
    }

    /// Reserves `amount_minor` of `profile`'s spend on `day` if the day's total stays at most
    /// `cap_minor`; `false` (nothing reserved) otherwise.
    pub async fn spend_reserve(
        &self,
        profile: &str,
        day: &str,
        amount_minor: i64,
        cap_minor: i64,
    ) -> Result<bool> {
        macro_rules! reserve {
            ($pool:expr) => {{
                sqlx::query(OPEN_DAY)
                    .bind(profile.to_owned())
                    .bind(day.to_owned())
                    .execute($pool)
                    .await?;
                sqlx::query(RESERVE)
                    .bind(profile.to_owned())
                    .bind(day.to_owned())
                    .bind(amount_minor)
                    .bind(cap_minor)
                    .execute($pool)
                    .await?
                    .rows_affected()
            }};
        }
        let done = match &self.db {
            Db::Sqlite { write, .. } => reserve!(write),
            Db::Postgres(pool) => reserve!(pool),
        };
        Ok(done == 1)
    }

    /// What `profile` reserved on `day`.
    pub async fn spend_on(&self, profile: &str, day: &str) -> Result<i64> {
        // language=SQL
        const SQL: &str = "SELECT spent_minor FROM spend_days WHERE profile = $1 AND day = $2";
        let spent: Option<i64> = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_scalar(SQL)
                    .bind(profile.to_owned())
                    .bind(day.to_owned())
                    .fetch_optional(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar(SQL)
                    .bind(profile)
                    .bind(day)
                    .fetch_optional(pool)
                    .await?
            }
        };
        Ok(spent.unwrap_or(0))
    }

    /// Gives the claimed order `order_id` back unstarted (its previous state, its attempt
    /// uncounted), due again at `until_ms`, with `why` as its last error; `false` if
    /// `worker_id` does not hold it.
    pub async fn order_defer(
        &self,
        order_id: i64,
        worker_id: &str,
        until_ms: i64,
        now_ms: i64,
        why: &str,
    ) -> Result<bool> {
        let done = match &self.db {
            Db::Sqlite { write, .. } => sqlx::query(DEFER)
                .bind(order_id)
                .bind(worker_id.to_owned())
                .bind(until_ms)
                .bind(now_ms)
                .bind(why.to_owned())
                .execute(write)
                .await?
                .rows_affected(),
            Db::Postgres(pool) => sqlx::query(DEFER)
                .bind(order_id)
                .bind(worker_id)
                .bind(until_ms)
                .bind(now_ms)
                .bind(why)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(done == 1)
    }
}
