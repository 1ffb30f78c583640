//! Matching provider events to orders, and recording what they confirm: `submitted` moves to
//! `issued` or `failed`, fenced on the state, so a late or repeated event never moves an order
//! backwards. The event's own outcome is written in the same transaction. Both work on a whole
//! group of events at once (a few statements per group, not per event), which is what lets the
//! processor keep up with the endpoints.

use super::connect::{Db, Store};
use super::error::{Error, Result, corrupt};
use super::inbox::EventOutcome;
use crate::domain::{OrderState, ProviderKind};
use sqlx::{Postgres, Sqlite, Transaction};
use std::collections::HashSet;
use uuid::Uuid;

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

/// The keys an event carries, each tried in turn against the orders of `providers`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardMatchKey {
    /// The providers whose orders may match (QI's one endpoint serves two products).
    pub providers: Vec<ProviderKind>,
    /// The provider's card key (QI `card_key`, UQPAY `card_id`).
    pub card_ref: Option<String>,
    /// The provider's order key (UQPAY `card_order_id`, QI `payment_instrument_key`).
    pub card_order_ref: Option<String>,
    /// Our idempotency key as the provider echoes it (Alchemy Pay `orderNo`).
    pub idempotency_key: Option<String>,
}

/// An order an event matched.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchedOrder {
    /// The order's row id.
    pub id: i64,
    /// The batch the order came in.
    pub batch_id: Uuid,
    /// The profile it is issued through.
    pub profile: String,
    /// The profile's provider.
    pub provider: ProviderKind,
    /// The customer's reference.
    pub order_ref: String,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// Where it is in its life.
    pub state: OrderState,
    /// The refs recorded so far.
    pub provider_refs: Option<serde_json::Value>,
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
    pub provider_refs: Option<serde_json::Value>,
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
}

/// The columns [`RawMatch`] reads, for `concat!`.
macro_rules! match_columns {
    () => {
        "o.id, o.batch_id, o.profile, o.provider, o.order_ref, o.idempotency_key, o.state, \
         o.provider_refs"
    };
}

/// SQLite: the wanted `(provider, value, index)` triples travel as one JSON array; the join
/// probes the `(provider, <column>)` index once per triple.
macro_rules! sqlite_match {
    ($column:literal) => {
        sqlite_match!($column, "")
    };
    ($column:literal, $extra:literal) => {
        concat!(
            "SELECT CAST(j.value ->> 2 AS INTEGER), ",
            match_columns!(),
            " FROM json_each($1) AS j JOIN orders o ON o.provider = j.value ->> 0 AND o.",
            $column,
            " = j.value ->> 1",
            $extra
        )
    };
}

/// Postgres: the same triples as three arrays.
macro_rules! pg_match {
    ($column:literal) => {
        pg_match!($column, "")
    };
    ($column:literal, $extra:literal) => {
        concat!(
            "SELECT u.i, ",
            match_columns!(),
            " FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS u(p, v, i) \
             JOIN orders o ON o.provider = u.p AND o.",
            $column,
            " = u.v",
            $extra
        )
    };
}

/// The keys an event may match by, in order of precedence: (SQLite SQL, Postgres SQL).
const MATCHES: [(&str, &str); 3] = [
    (sqlite_match!("card_ref"), pg_match!("card_ref")),
    (sqlite_match!("card_order_ref"), pg_match!("card_order_ref")),
    // Only Alchemy Pay events carry our key (its `orderNo`); the literal provider lets the
    // planners use the partial `orders_alchemypay_key` index.
    (
        sqlite_match!("idempotency_key", " AND o.provider = 'alchemypay_vcc'"),
        pg_match!("idempotency_key", " AND o.provider = 'alchemypay_vcc'"),
    ),
];

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

type RawMatch = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

/// The card key and order key in a provider's refs, by the precedence `order_complete_many`
/// uses in SQL: card `card_key`, `postpaid_card_key`, `card_id`; order `card_order_id`,
/// `payment_instrument_key`.
pub fn card_refs_of(refs: &serde_json::Value) -> (Option<String>, Option<String>) {
    let first = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| refs.get(*n).and_then(serde_json::Value::as_str))
            .map(str::to_string)
    };
    (
        first(&["card_key", "postpaid_card_key", "card_id"]),
        first(&["card_order_id", "payment_instrument_key"]),
    )
}

impl Store {
    /// The order an event's keys point to: by card key, then order key, then idempotency key,
    /// for each provider in turn. `None` when no order carries any of them (yet).
    pub async fn order_match_card(&self, key: &CardMatchKey) -> Result<Option<MatchedOrder>> {
        Ok(self
            .order_match_many(std::slice::from_ref(key))
            .await?
            .pop()
            .flatten())
    }

    /// [`Store::order_match_card`] for many events at once: three queries whatever their
    /// number. Returns, per key and in order, the matched order.
    pub async fn order_match_many(
        &self,
        keys: &[CardMatchKey],
    ) -> Result<Vec<Option<MatchedOrder>>> {
        let mut found: Vec<Option<MatchedOrder>> = vec![None; keys.len()];
        let values: [fn(&CardMatchKey) -> Option<&String>; 3] = [
            |k| k.card_ref.as_ref(),
            |k| k.card_order_ref.as_ref(),
            |k| k.idempotency_key.as_ref(),
        ];
        for ((sqlite_sql, pg_sql), value) in MATCHES.into_iter().zip(values) {
            // Only keys still unmatched are looked up by the next, weaker key.
            let wanted: Vec<(&str, &str, i64)> = keys
                .iter()
                .enumerate()
                .filter(|(i, _)| found[*i].is_none())
                .filter_map(|(i, k)| value(k).map(|v| (i, k, v)))
                .flat_map(|(i, k, v)| {
                    k.providers
                        .iter()
                        .map(move |p| (p.as_str(), v.as_str(), i as i64))
                })
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let rows: Vec<RawMatch> = match &self.db {
                Db::Sqlite { read, .. } => {
                    let triples: Vec<serde_json::Value> = wanted
                        .iter()
                        .map(|(p, v, i)| serde_json::json!([p, v, i]))
                        .collect();
                    sqlx::query_as(sqlite_sql)
                        .bind(serde_json::Value::Array(triples).to_string())
                        .fetch_all(read)
                        .await?
                }
                Db::Postgres(pool) => {
                    sqlx::query_as(pg_sql)
                        .bind(wanted.iter().map(|w| w.0).collect::<Vec<&str>>())
                        .bind(wanted.iter().map(|w| w.1).collect::<Vec<&str>>())
                        .bind(wanted.iter().map(|w| w.2).collect::<Vec<i64>>())
                        .fetch_all(pool)
                        .await?
                }
            };
            for row in rows {
                let index = row.0 as usize;
                let order = parse_match(row)?;
                // Should two orders carry the same key, the oldest answers.
                match &found[index] {
                    Some(known) if known.id <= order.id => {}
                    _ => found[index] = Some(order),
                }
            }
        }
        Ok(found)
    }

    /// Writes every settlement in one transaction, two statements whatever their number: first
    /// the orders' confirmations (each fenced on `state = 'submitted'`), then the events'
    /// outcomes (fenced on `outcome = 'pending'`, so two processors cannot settle one event
    /// twice). Settlements are in order of receipt: when several confirm the same order, only
    /// the first can move it. Returns, per settlement, whether its confirmation moved the
    /// order; when it did not, the event's note says so.
    pub async fn webhook_event_settle_many(
        &self,
        settlements: &[EventSettlement],
        now_ms: i64,
    ) -> Result<Vec<bool>> {
        if let Some(bad) = settlements
            .iter()
            .filter_map(|s| s.confirm.as_ref())
            .find(|c| !matches!(c.state, OrderState::Issued | OrderState::Failed))
        {
            return Err(Error::InvalidCompletion(bad.state));
        }
        if settlements.is_empty() {
            return Ok(Vec::new());
        }
        let mut seen = HashSet::new();
        let first: Vec<&OrderConfirmation> = settlements
            .iter()
            .filter_map(|s| s.confirm.as_ref())
            .filter(|c| seen.insert(c.order_id))
            .collect();
        let moved = match &self.db {
            Db::Sqlite { write, .. } => {
                let mut tx = write.begin_with("BEGIN IMMEDIATE").await?;
                let moved = sqlite_confirm(&mut tx, &first, now_ms).await?;
                let notes = notes(settlements, &first, &moved);
                sqlite_settle(&mut tx, settlements, &notes, now_ms).await?;
                tx.commit().await?;
                moved
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let moved = pg_confirm(&mut tx, &first, now_ms).await?;
                let notes = notes(settlements, &first, &moved);
                pg_settle(&mut tx, settlements, &notes, now_ms).await?;
                tx.commit().await?;
                moved
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
    let refs = c.provider_refs.as_ref().map(|r| r.to_string());
    let card_ref = c.provider_refs.as_ref().and_then(|r| card_refs_of(r).0);
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

fn parse_match(
    (_, id, batch_id, profile, provider, order_ref, idempotency_key, state, refs): RawMatch,
) -> Result<MatchedOrder> {
    Ok(MatchedOrder {
        id,
        batch_id: Uuid::parse_str(&batch_id).map_err(|e| corrupt("orders", e))?,
        profile,
        provider: provider.parse().map_err(|e| corrupt("orders", e))?,
        order_ref,
        idempotency_key,
        state: state.parse().map_err(|e| corrupt("orders", e))?,
        provider_refs: refs
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt("orders", e))?,
    })
}
