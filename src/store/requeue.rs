//! An operator gives a batch's stuck orders another go: `dead` orders go back to the queue,
//! `needs_review` ones back to doubt, so the worker resolves them (a lookup, or an idempotent
//! replay) before anything is sent again. Either way the order keeps its idempotency key, so a
//! provider that already has the card answers with it instead of making a second one.

use super::connect::{Db, Store};
use super::error::{Error, Result};
use crate::domain::OrderState;
use uuid::Uuid;

/// The same SQL on both engines. The attempt count starts again; the last error stays until the
/// next attempt replaces it.
// language=SQL
const REQUEUE: &str = "UPDATE orders SET state = $3, attempts = 0, next_attempt_at = $4, \
        updated_at = $4, lease_owner = NULL, lease_expires_at = NULL, claimed_from = NULL, \
        lookup_next_at = NULL \
    WHERE batch_id = $1 AND state = $2";

impl Store {
    /// Requeues the orders of `batch_id` in `state` (`dead` or `needs_review`), due at `now_ms`;
    /// returns how many moved.
    pub async fn order_requeue(
        &self,
        batch_id: Uuid,
        state: OrderState,
        now_ms: i64,
    ) -> Result<u64> {
        let to = match state {
            OrderState::Dead => OrderState::Queued,
            OrderState::NeedsReview => OrderState::InDoubt,
            other => return Err(Error::InvalidRequeue(other)),
        };
        let id = batch_id.to_string();
        let moved = match &self.db {
            Db::Sqlite { write, .. } => sqlx::query(REQUEUE)
                .bind(&id)
                .bind(state.as_str())
                .bind(to.as_str())
                .bind(now_ms)
                .execute(write)
                .await?
                .rows_affected(),
            Db::Postgres(pool) => {
                let moved = sqlx::query(REQUEUE)
                    .bind(&id)
                    .bind(state.as_str())
                    .bind(to.as_str())
                    .bind(now_ms)
                    .execute(pool)
                    .await?
                    .rows_affected();
                if moved > 0 {
                    // Workers of other processes wake up at once instead of at their next poll.
                    sqlx::query("SELECT pg_notify($1, '')")
                        .bind(super::wake::NOTIFY_CHANNEL)
                        .execute(pool)
                        .await?;
                }
                moved
            }
        };
        if moved > 0 {
            self.notify_work();
        }
        Ok(moved)
    }
}
