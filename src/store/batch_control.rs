//! An operator's decisions about a whole batch: pause, resume, cancel, approve. The batch's
//! `state` column gates the claim (`claim.rs` skips due orders of a batch that is not `active`);
//! cancel also turns the batch's unsent orders (`queued`, `retry_wait`) into `canceled` in the
//! same transaction, and never touches an order in flight or sent.

use super::connect::{Db, Store};
use super::error::{Error, Result, corrupt};
use crate::domain::BatchState;
use uuid::Uuid;

/// A batch's state and who submitted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchControl {
    /// Whether its orders are claimed.
    pub state: BatchState,
    /// Why it is in that state (an auto-pause's numbers, an operator's note), if anyone said.
    pub state_reason: Option<String>,
    /// `cli:<user>` or `token:<name>`; `None` for batches from before controls existed.
    pub submitted_by: Option<String>,
    /// Who approved spending past the daily spend cap for it, if anyone.
    pub spend_cap_waived_by: Option<String>,
}

// language=SQL
const READ: &str =
    "SELECT state, state_reason, submitted_by, spend_cap_waived_by FROM batches WHERE id = $1";
// language=SQL
const MOVE: &str = "UPDATE batches SET state = $2, state_reason = $3 WHERE id = $1 AND state = $4";
// language=SQL
const CANCEL_BATCH: &str = "UPDATE batches SET state = 'canceled', state_reason = $2 \
    WHERE id = $1 AND state IN ('active', 'paused', 'awaiting_approval')";
/// Only orders no call was made for yet; `in_flight`, `in_doubt` and every sent state stay.
// language=SQL
const CANCEL_ORDERS: &str = "UPDATE orders SET state = 'canceled', updated_at = $2, \
        last_error_code = 'canceled', last_error_message = 'canceled by an operator' \
    WHERE batch_id = $1 AND state IN ('queued', 'retry_wait')";
// language=SQL
const APPROVE: &str = "UPDATE batches SET state = 'active', state_reason = NULL, spend_cap_waived_by = $2 \
    WHERE id = $1 AND state = 'awaiting_approval' AND (submitted_by IS NULL OR submitted_by <> $2)";

impl Store {
    /// The state of `batch_id` and its submitter; [`Error::BatchNotFound`] when there is none.
    pub async fn batch_control(&self, batch_id: Uuid) -> Result<BatchControl> {
        let id = batch_id.to_string();
        type Row = (String, Option<String>, Option<String>, Option<String>);
        let row: Option<Row> = match &self.db {
            Db::Sqlite { read, .. } => sqlx::query_as(READ).bind(id).fetch_optional(read).await?,
            Db::Postgres(pool) => sqlx::query_as(READ).bind(id).fetch_optional(pool).await?,
        };
        let (state, state_reason, submitted_by, spend_cap_waived_by) =
            row.ok_or(Error::BatchNotFound(batch_id))?;
        Ok(BatchControl {
            state: state.parse().map_err(|e| corrupt("batches", e))?,
            state_reason,
            submitted_by,
            spend_cap_waived_by,
        })
    }

    /// Pauses an `active` batch: its orders are no longer claimed (calls in flight finish).
    /// `reason` is shown with the batch (the failure threshold's numbers, an operator's note).
    pub async fn batch_pause(&self, batch_id: Uuid, reason: Option<&str>) -> Result<()> {
        self.batch_move(
            batch_id,
            BatchState::Active,
            BatchState::Paused,
            reason,
            "pause",
        )
        .await
    }

    /// Resumes a `paused` batch: its due orders are claimable again, at once. `reason` (e.g.
    /// `resumed by cli:ana`) stays with the batch; a reason starting with `resumed` keeps the
    /// failure threshold from pausing it again.
    pub async fn batch_resume(&self, batch_id: Uuid, reason: Option<&str>) -> Result<()> {
        self.batch_move(
            batch_id,
            BatchState::Paused,
            BatchState::Active,
            reason,
            "resume",
        )
        .await?;
        self.wake_workers().await
    }

    /// Approves a batch `awaiting_approval` for `approver`, who must not be its submitter
    /// ([`Error::SelfApproval`]).
    pub async fn batch_approve(&self, batch_id: Uuid, approver: &str) -> Result<()> {
        let id = batch_id.to_string();
        let moved = match &self.db {
            Db::Sqlite { write, .. } => sqlx::query(APPROVE)
                .bind(id)
                .bind(approver.to_owned())
                .execute(write)
                .await?
                .rows_affected(),
            Db::Postgres(pool) => sqlx::query(APPROVE)
                .bind(id)
                .bind(approver)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        if moved == 0 {
            let now = self.batch_control(batch_id).await?;
            if now.state == BatchState::AwaitingApproval {
                return Err(Error::SelfApproval(batch_id));
            }
            return Err(Error::BatchStateForbids {
                batch: batch_id,
                state: now.state,
                action: "approve",
            });
        }
        self.wake_workers().await
    }

    /// Cancels a batch that is not canceled yet: in one transaction, the batch becomes
    /// `canceled` and its `queued` and `retry_wait` orders become `canceled`. Orders in flight, in
    /// doubt or already sent are left as they are (a call may have reached the provider).
    /// Returns how many orders were canceled.
    pub async fn batch_cancel(
        &self,
        batch_id: Uuid,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Result<u64> {
        let id = batch_id.to_string();
        macro_rules! cancel {
            ($tx:expr) => {{
                let moved = sqlx::query(CANCEL_BATCH)
                    .bind(id.clone())
                    .bind(reason.map(str::to_owned))
                    .execute(&mut *$tx)
                    .await?
                    .rows_affected();
                if moved == 0 {
                    None
                } else {
                    Some(
                        sqlx::query(CANCEL_ORDERS)
                            .bind(id.clone())
                            .bind(now_ms)
                            .execute(&mut *$tx)
                            .await?
                            .rows_affected(),
                    )
                }
            }};
        }
        let canceled = match &self.db {
            Db::Sqlite { write, .. } => {
                let mut tx = write.begin_with("BEGIN IMMEDIATE").await?;
                let n = cancel!(tx);
                tx.commit().await?;
                n
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let n = cancel!(tx);
                tx.commit().await?;
                n
            }
        };
        match canceled {
            Some(n) => Ok(n),
            None => Err(self.refusal(batch_id, "cancel").await),
        }
    }

    async fn batch_move(
        &self,
        batch_id: Uuid,
        from: BatchState,
        to: BatchState,
        reason: Option<&str>,
        action: &'static str,
    ) -> Result<()> {
        let id = batch_id.to_string();
        let moved = match &self.db {
            Db::Sqlite { write, .. } => sqlx::query(MOVE)
                .bind(id)
                .bind(to.as_str())
                .bind(reason.map(str::to_owned))
                .bind(from.as_str())
                .execute(write)
                .await?
                .rows_affected(),
            Db::Postgres(pool) => sqlx::query(MOVE)
                .bind(id)
                .bind(to.as_str())
                .bind(reason)
                .bind(from.as_str())
                .execute(pool)
                .await?
                .rows_affected(),
        };
        match moved {
            0 => Err(self.refusal(batch_id, action).await),
            _ => Ok(()),
        }
    }

    /// Why `action` changed nothing: no such batch, or its state forbids it.
    async fn refusal(&self, batch_id: Uuid, action: &'static str) -> Error {
        match self.batch_control(batch_id).await {
            Ok(now) => Error::BatchStateForbids {
                batch: batch_id,
                state: now.state,
                action,
            },
            Err(e) => e,
        }
    }

    /// Wakes the workers of this process and, on Postgres, of every other.
    async fn wake_workers(&self) -> Result<()> {
        if let Db::Postgres(pool) = &self.db {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(super::wake::NOTIFY_CHANNEL)
                .execute(pool)
                .await?;
        }
        self.notify_work();
        Ok(())
    }
}
