//! The reconciler's queue: `submitted` orders with no confirmation after a while are claimed for
//! a status lookup at the provider, and the lookup's outcome is written back.
//!
//! A claim does not change the order's state (it stays `submitted`, so a webhook arriving
//! meanwhile still confirms it); it moves `lookup_next_at` past the lease, which keeps every
//! other reconciler off the order until the lookup is written or the lease runs out. Postgres
//! claims with `FOR UPDATE SKIP LOCKED`; SQLite's single writer makes its `UPDATE ... RETURNING`
//! atomic.

use super::claim::ClaimRow;
use super::complete::{pg_attempt_insert, sqlite_attempt_insert};
use super::confirm::{OrderConfirmation, first_confirmations, pg_confirm, sqlite_confirm};
use super::connect::{Db, Store};
use super::error::Result;
use super::model::{AttemptRecord, ClaimedOrder};

// language=SQLite
const SQLITE_CLAIM: &str = "UPDATE orders SET lookup_next_at = $4 \
    WHERE id IN (SELECT id FROM orders \
        WHERE profile = $1 AND state = 'submitted' AND updated_at <= $2 \
          AND (lookup_next_at IS NULL OR lookup_next_at <= $3) \
        ORDER BY updated_at LIMIT $5) \
    RETURNING id, batch_id, profile, provider, order_ref, idempotency_key, payload, amount_minor, \
        currency, provider_refs, attempts, claimed_from, created_at, lookup_count, updated_at";

// language=PostgreSQL
const PG_CLAIM: &str = "WITH picked AS ( \
        SELECT id FROM orders \
        WHERE profile = $1 AND state = 'submitted' AND updated_at <= $2 \
          AND (lookup_next_at IS NULL OR lookup_next_at <= $3) \
        ORDER BY updated_at LIMIT $5 FOR UPDATE SKIP LOCKED) \
    UPDATE orders o SET lookup_next_at = $4 FROM picked WHERE o.id = picked.id \
    RETURNING o.id, o.batch_id, o.profile, o.provider, o.order_ref, o.idempotency_key, o.payload, \
        o.amount_minor, o.currency, o.provider_refs, o.attempts, o.claimed_from, o.created_at, \
        o.lookup_count, o.updated_at";

/// Counts the lookup when the provider answered it and schedules the next one; records a mismatch
/// when given. Not fenced on the state: an order confirmed meanwhile simply never comes back to
/// the reconciler.
// language=SQL
const RESCHEDULE: &str = "UPDATE orders SET lookup_count = lookup_count + $5, lookup_next_at = $2, \
        mismatch = COALESCE($3, mismatch), \
        mismatch_at = CASE WHEN $3 IS NULL THEN mismatch_at ELSE $4 END \
    WHERE id = $1";

/// A confirmation that arrived too late: the order was confirmed otherwise meanwhile (a webhook
/// won the race against a lookup, or the other way round, or a later event contradicts the
/// first). When it says something else than the recorded state, that is a mismatch, kept for the
/// report; the order stays.
// language=SQL
pub(super) const LATE_MISMATCH: &str = "UPDATE orders SET mismatch_at = $3, \
        mismatch = 'the provider now says ' || $2 || ' but the order was already ' || state \
            || COALESCE(' (confirmed by ' || confirmed_by || ')', '') \
    WHERE id = $1 AND state <> 'submitted' AND state <> $2";

/// An order nothing confirmed and nothing can look up goes to an operator; fenced on
/// `submitted` like a confirmation (a webhook that came meanwhile wins).
// language=SQL
const ESCALATE: &str = "UPDATE orders SET state = 'needs_review', updated_at = $2, \
        last_error_code = $3, last_error_message = $4 \
    WHERE id = $1 AND state = 'submitted'";

struct LookupRow {
    order: ClaimRow,
    lookup_count: i32,
    /// When the order became `submitted` (nothing else changes a submitted order's row).
    updated_at: i64,
}

/// The claim's columns, then the lookup's own two.
impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for LookupRow
where
    &'r str: sqlx::ColumnIndex<R>,
    ClaimRow: sqlx::FromRow<'r, R>,
    i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> std::result::Result<Self, sqlx::Error> {
        Ok(LookupRow {
            order: ClaimRow::from_row(row)?,
            lookup_count: sqlx::Row::try_get(row, "lookup_count")?,
            updated_at: sqlx::Row::try_get(row, "updated_at")?,
        })
    }
}

/// The escalations among `outcomes` that carry no confirmation: (order id, (code, message)).
fn escalations(outcomes: &[LookupOutcome]) -> impl Iterator<Item = (i64, &(String, String))> {
    outcomes
        .iter()
        .filter(|o| o.confirm.is_none())
        .filter_map(|o| o.escalate.as_ref().map(|e| (o.order_id, e)))
}

/// (order id, call) for every call the outcomes made.
fn call_rows(outcomes: &[LookupOutcome]) -> Vec<(i64, &AttemptRecord)> {
    outcomes
        .iter()
        .flat_map(|o| o.calls.iter().map(move |c| (o.order_id, c)))
        .collect()
}

/// An order claimed for a status lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupClaim {
    /// The order, as the provider's `status` reads it.
    pub order: ClaimedOrder,
    /// How many lookups came before this one.
    pub lookups: u32,
    /// When the order became `submitted` (Unix ms).
    pub submitted_at_ms: i64,
}

/// What one lookup decided for its order.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupOutcome {
    /// The order looked up.
    pub order_id: i64,
    /// `issued` or `failed`, confirmed by lookup; applied only while the order is `submitted`.
    pub confirm: Option<OrderConfirmation>,
    /// The provider disagrees with what we recorded: why, in words.
    pub mismatch: Option<String>,
    /// `(code, message)`: move the order to `needs_review` (if still `submitted`); nothing
    /// confirmed it and nothing can look it up.
    pub escalate: Option<(String, String)>,
    /// When to look again if the order is still `submitted` (Unix ms).
    pub next_lookup_at_ms: i64,
    /// The provider answered the lookup (an answer of any kind, even "pending"). A lookup that
    /// failed (429, 5xx, unreachable) is not counted: until one is answered the order still
    /// counts as unconfirmed, and `run --until-idle` waits for it.
    pub answered: bool,
    /// The lookup's provider calls, for the `attempts` table.
    pub calls: Vec<AttemptRecord>,
}

impl Store {
    /// Claims up to `limit` orders of `profile` for a status lookup: `submitted` since
    /// `submitted_before_ms` or earlier, never looked up or due again at `now_ms`, oldest first.
    /// They are fenced from other reconcilers until `lease_until_ms`.
    pub async fn order_claim_lookups(
        &self,
        profile: &str,
        submitted_before_ms: i64,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
    ) -> Result<Vec<LookupClaim>> {
        let rows: Vec<LookupRow> = match &self.db {
            Db::Sqlite { write, .. } => {
                sqlx::query_as(SQLITE_CLAIM)
                    .bind(profile.to_owned())
                    .bind(submitted_before_ms)
                    .bind(now_ms)
                    .bind(lease_until_ms)
                    .bind(i64::from(limit))
                    .fetch_all(write)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(PG_CLAIM)
                    .bind(profile)
                    .bind(submitted_before_ms)
                    .bind(now_ms)
                    .bind(lease_until_ms)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?
            }
        };
        let mut claimed = rows
            .into_iter()
            .map(|row| {
                let mut order = row.order.into_claimed()?;
                // `claimed_from` is the worker's history; a lookup is no takeover.
                order.previous_outcome_unknown = false;
                Ok(LookupClaim {
                    order,
                    lookups: row.lookup_count.max(0) as u32,
                    submitted_at_ms: row.updated_at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|c| c.order.id);
        Ok(claimed)
    }

    /// Writes the outcomes of a round of lookups in one transaction: confirmations first (each
    /// fenced on `state = 'submitted'`, like a webhook's), then, per order, the lookup count, the
    /// next lookup time and any mismatch. A confirmation that finds its order already confirmed
    /// otherwise records a mismatch when the two disagree; escalations and the calls made come
    /// last. Returns, per outcome, whether its confirmation or escalation moved the order.
    pub async fn order_lookup_settle_many(
        &self,
        outcomes: &[LookupOutcome],
        now_ms: i64,
    ) -> Result<Vec<bool>> {
        let first = first_confirmations(outcomes.iter().filter_map(|o| o.confirm.as_ref()))?;
        // The same statements on either engine, in the open transaction `$tx`.
        macro_rules! settle_in {
            ($tx:ident, $confirm:ident, $insert_attempts:ident) => {{
                let mut moved = $confirm(&mut $tx, &first, now_ms).await?;
                for o in outcomes {
                    sqlx::query(RESCHEDULE)
                        .bind(o.order_id)
                        .bind(o.next_lookup_at_ms)
                        .bind(o.mismatch.as_deref())
                        .bind(now_ms)
                        .bind(i32::from(o.answered))
                        .execute(&mut *$tx)
                        .await?;
                }
                for c in first.iter().filter(|c| !moved.contains(&c.order_id)) {
                    sqlx::query(LATE_MISMATCH)
                        .bind(c.order_id)
                        .bind(c.state.as_str())
                        .bind(now_ms)
                        .execute(&mut *$tx)
                        .await?;
                }
                for (id, (code, message)) in escalations(outcomes) {
                    let done = sqlx::query(ESCALATE)
                        .bind(id)
                        .bind(now_ms)
                        .bind(code.as_str())
                        .bind(message.as_str())
                        .execute(&mut *$tx)
                        .await?;
                    if done.rows_affected() > 0 {
                        moved.insert(id);
                    }
                }
                $insert_attempts(&mut $tx, &call_rows(outcomes)).await?;
                $tx.commit().await?;
                moved
            }};
        }
        let moved = match &self.db {
            Db::Sqlite { write, .. } => {
                let mut tx = write.begin_with("BEGIN IMMEDIATE").await?;
                settle_in!(tx, sqlite_confirm, sqlite_attempt_insert)
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                settle_in!(tx, pg_confirm, pg_attempt_insert)
            }
        };
        Ok(outcomes
            .iter()
            .map(|o| (o.confirm.is_some() || o.escalate.is_some()) && moved.contains(&o.order_id))
            .collect())
    }
}
