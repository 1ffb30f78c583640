//! Recording what provider events confirm: `submitted` moves to `issued` or `failed`, fenced on
//! the state, so a late or repeated event never moves an order backwards. The event's own
//! outcome is written in the same transaction, and a whole group of events costs two
//! statements, which is what lets the processor keep up with the endpoints.

use super::complete::{pg_attempt_insert, sqlite_attempt_insert};
use super::connect::{Db, Store};
use super::error::{Error, Result};
use super::inbox::EventOutcome;
use super::model::AttemptRecord;
use super::reconcile_lookup::LATE_MISMATCH;
use crate::domain::{OrderState, ProviderRefs};
use sqlx::{Postgres, Sqlite, Transaction};
use std::collections::HashSet;

/// What confirmed an order's final state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmedBy {
    /// A verified webhook.
    Webhook,
    /// A lookup at the provider (an unsigned callback checked against the provider's card info,
    /// or the reconciler's poll).
    Lookup,
}

impl ConfirmedBy {
    /// The value stored in `orders.confirmed_by`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfirmedBy::Webhook => "webhook",
            ConfirmedBy::Lookup => "lookup",
        }
    }
}

/// A confirmed final state for a `submitted` order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderConfirmation {
    /// The order.
    pub order_id: i64,
    /// `issued` or `failed`.
    pub state: OrderState,
    /// Webhook or lookup.
    pub by: ConfirmedBy,
    /// Replaces the stored refs when given (Alchemy Pay's card id arrives this way).
    pub provider_refs: Option<ProviderRefs>,
    /// `(code, message)` of a failure.
    pub error: Option<(String, String)>,
}

/// What the processor decided about one event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSettlement {
    /// The event.
    pub event_id: i64,
    /// Its new outcome; `pending` keeps it for another look at `recheck_at_ms`.
    pub outcome: EventOutcome,
    /// The order it matched.
    pub order_id: Option<i64>,
    /// Why, in words.
    pub note: String,
    /// For `pending`: when to look again (Unix ms).
    pub recheck_at_ms: i64,
    /// The order's new state, applied only if the order is still `submitted`.
    pub confirm: Option<OrderConfirmation>,
    /// Provider calls made to check the event (Alchemy Pay's card info), for the `attempts`
    /// table, with the order they were about.
    pub calls: Vec<(i64, AttemptRecord)>,
}

// language=SQLite
const SQLITE_CONFIRM: &str = "UPDATE orders SET state = u.state, confirmed_by = u.by, \
        confirmed_at = $2, updated_at = $2, provider_refs = COALESCE(u.refs, orders.provider_refs), \
        card_ref = COALESCE(u.card_ref, orders.card_ref), \
        last_error_code = COALESCE(u.code, orders.last_error_code), \
        last_error_message = COALESCE(u.msg, orders.last_error_message) \
    FROM (SELECT value ->> 0 AS id, value ->> 1 AS state, value ->> 2 AS by, value ->> 3 AS refs, \
            value ->> 4 AS card_ref, value ->> 5 AS code, value ->> 6 AS msg FROM json_each($1)) AS u \
    WHERE orders.id = u.id AND orders.state = 'submitted' RETURNING orders.id";

// language=PostgreSQL
const PG_CONFIRM: &str = "UPDATE orders o SET state = u.state, confirmed_by = u.by, \
        confirmed_at = $8, updated_at = $8, provider_refs = COALESCE(u.refs, o.provider_refs), \
        card_ref = COALESCE(u.card_ref, o.card_ref), \
        last_error_code = COALESCE(u.code, o.last_error_code), \
        last_error_message = COALESCE(u.msg, o.last_error_message) \
    FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) \
        AS u(id, state, by, refs, card_ref, code, msg) \
    WHERE o.id = u.id AND o.state = 'submitted' RETURNING o.id";

// language=SQLite
const SQLITE_SETTLE: &str = "UPDATE webhook_events SET outcome = u.outcome, order_id = u.order_id, \
        note = u.note, checks = webhook_events.checks + 1, next_check_at = u.next, \
        processed_at = CASE WHEN u.outcome = 'pending' THEN NULL ELSE $2 END \
    FROM (SELECT value ->> 0 AS id, value ->> 1 AS outcome, value ->> 2 AS order_id, \
            value ->> 3 AS note, value ->> 4 AS next FROM json_each($1)) AS u \
    WHERE webhook_events.id = u.id AND webhook_events.outcome = 'pending'";

// language=PostgreSQL
const PG_SETTLE: &str = "UPDATE webhook_events w SET outcome = u.outcome, order_id = u.order_id, \
        note = u.note, checks = w.checks + 1, next_check_at = u.next, \
        processed_at = CASE WHEN u.outcome = 'pending' THEN NULL ELSE $6::bigint END \
    FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::bigint[]) \
        AS u(id, outcome, order_id, note, next) \
    WHERE w.id = u.id AND w.outcome = 'pending'";

/// The confirmations to apply, in order, keeping only the first for each order (a later one for
/// the same order cannot move it any more); an error if one would move an order anywhere but to
/// `issued` or `failed`.
pub(super) fn first_confirmations<'a>(
    confirmations: impl Iterator<Item = &'a OrderConfirmation>,
) -> Result<Vec<&'a OrderConfirmation>> {
    let mut seen = HashSet::new();
    let mut first = Vec::new();
    for c in confirmations {
        if !matches!(c.state, OrderState::Issued | OrderState::Failed) {
            return Err(Error::InvalidCompletion(c.state));
        }
        if seen.insert(c.order_id) {
            first.push(c);
        }
    }
    Ok(first)
}

/// (order id, call) for every call the settlements made.
fn call_rows(settlements: &[EventSettlement]) -> Vec<(i64, &AttemptRecord)> {
    settlements
        .iter()
        .flat_map(|s| s.calls.iter().map(|(id, c)| (*id, c)))
        .collect()
}

impl Store {
    /// Writes every settlement in one transaction, two statements whatever their number: first
    /// the orders' confirmations (each fenced on `state = 'submitted'`; one refused because the
    /// order was already confirmed otherwise is recorded as a mismatch when it disagrees), then
    /// the events' outcomes (fenced on `outcome = 'pending'`, so two processors cannot settle one event
    /// twice). Settlements are in order of receipt: when several confirm the same order, only
    /// the first can move it. Returns, per settlement, whether its confirmation moved the
    /// order; when it did not, the event's note says so.
    pub async fn webhook_event_settle_many(
        &self,
        settlements: &[EventSettlement],
        now_ms: i64,
    ) -> Result<Vec<bool>> {
        let first = first_confirmations(settlements.iter().filter_map(|s| s.confirm.as_ref()))?;
        if settlements.is_empty() {
            return Ok(Vec::new());
        }
        // The same statements on either engine, in the open transaction `$tx`.
        macro_rules! settle_in {
            ($tx:ident, $confirm:ident, $settle:ident, $insert_attempts:ident) => {{
                let moved = $confirm(&mut $tx, &first, now_ms).await?;
                for c in first.iter().filter(|c| !moved.contains(&c.order_id)) {
                    sqlx::query(LATE_MISMATCH)
                        .bind(c.order_id)
                        .bind(c.state.as_str())
                        .bind(now_ms)
                        .execute(&mut *$tx)
                        .await?;
                }
                let notes = notes(settlements, &first, &moved);
                $settle(&mut $tx, settlements, &notes, now_ms).await?;
                $insert_attempts(&mut $tx, &call_rows(settlements)).await?;
                $tx.commit().await?;
                moved
            }};
        }
        let moved = match &self.db {
            Db::Sqlite { write, .. } => {
                let mut tx = write.begin_with("BEGIN IMMEDIATE").await?;
                settle_in!(tx, sqlite_confirm, sqlite_settle, sqlite_attempt_insert)
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                pg_lock_in_id_order(&mut tx, &first).await?;
                settle_in!(tx, pg_confirm, pg_settle, pg_attempt_insert)
            }
        };
        Ok(applied(settlements, &first, &moved))
    }

    /// How the order `order_id` was confirmed: `(confirmed_by, confirmed_at_ms)`.
    pub async fn order_confirmation(&self, order_id: i64) -> Result<Option<(String, i64)>> {
        // language=SQL
        const SQL: &str = "SELECT confirmed_by, confirmed_at FROM orders \
            WHERE id = $1 AND confirmed_by IS NOT NULL";
        let row: Option<(String, i64)> = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as(SQL)
                    .bind(order_id)
                    .fetch_optional(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(SQL)
                    .bind(order_id)
                    .fetch_optional(pool)
                    .await?
            }
        };
        Ok(row)
    }
}

/// Per settlement: did its own confirmation move the order? (Only the first confirmation of
/// an order is sent; a later one in the same group never moves it.)
fn applied(
    settlements: &[EventSettlement],
    first: &[&OrderConfirmation],
    moved: &HashSet<i64>,
) -> Vec<bool> {
    let firsts: HashSet<*const OrderConfirmation> = first
        .iter()
        .map(|c| *c as *const OrderConfirmation)
        .collect();
    settlements
        .iter()
        .map(|s| {
            s.confirm.as_ref().is_some_and(|c| {
                firsts.contains(&(c as *const OrderConfirmation)) && moved.contains(&c.order_id)
            })
        })
        .collect()
}

/// The notes as stored: a confirmation that did not move its order says so.
fn notes(
    settlements: &[EventSettlement],
    first: &[&OrderConfirmation],
    moved: &HashSet<i64>,
) -> Vec<String> {
    let applied = applied(settlements, first, moved);
    settlements
        .iter()
        .zip(applied)
        .map(|(s, applied)| match (&s.confirm, applied) {
            (Some(_), false) => format!("{}; no change: the order was no longer submitted", s.note),
            _ => s.note.clone(),
        })
        .collect()
}

fn confirm_columns(c: &OrderConfirmation) -> (Option<String>, Option<String>) {
    let refs = c.provider_refs.as_ref().map(ProviderRefs::to_json);
    let card_ref = c
        .provider_refs
        .as_ref()
        .and_then(|r| r.card_key())
        .map(str::to_string);
    (refs, card_ref)
}

pub(super) async fn sqlite_confirm(
    tx: &mut Transaction<'static, Sqlite>,
    first: &[&OrderConfirmation],
    now_ms: i64,
) -> Result<HashSet<i64>> {
    if first.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<serde_json::Value> = first
        .iter()
        .map(|c| {
            let (refs, card_ref) = confirm_columns(c);
            let (code, msg) = c.error.clone().unzip();
            serde_json::json!([
                c.order_id,
                c.state.as_str(),
                c.by.as_str(),
                refs,
                card_ref,
                code,
                msg
            ])
        })
        .collect();
    Ok(sqlx::query_scalar::<_, i64>(SQLITE_CONFIRM)
        .bind(serde_json::Value::Array(rows).to_string())
        .bind(now_ms)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect())
}

async fn sqlite_settle(
    tx: &mut Transaction<'static, Sqlite>,
    settlements: &[EventSettlement],
    notes: &[String],
    now_ms: i64,
) -> Result<()> {
    let rows: Vec<serde_json::Value> = settlements
        .iter()
        .zip(notes)
        .map(|(s, note)| {
            serde_json::json!([
                s.event_id,
                s.outcome.as_str(),
                s.order_id,
                note,
                s.recheck_at_ms
            ])
        })
        .collect();
    sqlx::query(SQLITE_SETTLE)
        .bind(serde_json::Value::Array(rows).to_string())
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Locks the orders a group confirms, in id order, before it writes any of them. Two processors
/// settling events of the same orders received in different orders would otherwise lock the rows
/// in their own orders (the confirm's `UPDATE ... FROM UNNEST` follows the array) and deadlock;
/// each deadlock stalls both for `deadlock_timeout` (1 s) and fails one group. In id order, one
/// waits for the other.
async fn pg_lock_in_id_order(
    tx: &mut Transaction<'static, Postgres>,
    first: &[&OrderConfirmation],
) -> Result<()> {
    if first.is_empty() {
        return Ok(());
    }
    // Not `in_flight` rows: the confirm cannot move them, and waiting for one a worker is
    // completing would bring the completion's own lock order into the cycle.
    // language=PostgreSQL
    const LOCK: &str = "SELECT id FROM orders WHERE id = ANY($1) AND state <> 'in_flight' \
        ORDER BY id FOR NO KEY UPDATE";
    sqlx::query(LOCK)
        .bind(first.iter().map(|c| c.order_id).collect::<Vec<i64>>())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn pg_confirm(
    tx: &mut Transaction<'static, Postgres>,
    first: &[&OrderConfirmation],
    now_ms: i64,
) -> Result<HashSet<i64>> {
    if first.is_empty() {
        return Ok(HashSet::new());
    }
    let (refs, card_refs): (Vec<Option<String>>, Vec<Option<String>>) =
        first.iter().map(|c| confirm_columns(c)).unzip();
    Ok(sqlx::query_scalar::<_, i64>(PG_CONFIRM)
        .bind(first.iter().map(|c| c.order_id).collect::<Vec<i64>>())
        .bind(
            first
                .iter()
                .map(|c| c.state.as_str())
                .collect::<Vec<&str>>(),
        )
        .bind(first.iter().map(|c| c.by.as_str()).collect::<Vec<&str>>())
        .bind(refs)
        .bind(card_refs)
        .bind(
            first
                .iter()
                .map(|c| c.error.as_ref().map(|e| e.0.as_str()))
                .collect::<Vec<Option<&str>>>(),
        )
        .bind(
            first
                .iter()
                .map(|c| c.error.as_ref().map(|e| e.1.as_str()))
                .collect::<Vec<Option<&str>>>(),
        )
        .bind(now_ms)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect())
}

async fn pg_settle(
    tx: &mut Transaction<'static, Postgres>,
    settlements: &[EventSettlement],
    notes: &[String],
    now_ms: i64,
) -> Result<()> {
    sqlx::query(PG_SETTLE)
        .bind(settlements.iter().map(|s| s.event_id).collect::<Vec<i64>>())
        .bind(
            settlements
                .iter()
                .map(|s| s.outcome.as_str())
                .collect::<Vec<&str>>(),
        )
        .bind(
            settlements
                .iter()
                .map(|s| s.order_id)
                .collect::<Vec<Option<i64>>>(),
        )
        .bind(notes)
        .bind(
            settlements
                .iter()
                .map(|s| s.recheck_at_ms)
                .collect::<Vec<i64>>(),
        )
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
