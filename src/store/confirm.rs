//! Matching provider events to orders, and recording what they confirm: `submitted` moves to
//! `issued` or `failed`, fenced on the state, so a late or repeated event never moves an order
//! backwards. The event's own outcome is written in the same transaction.

use super::connect::{Db, Store};
use super::error::{Error, Result, corrupt};
use super::inbox::EventOutcome;
use crate::domain::{OrderState, ProviderKind};
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

// language=SQL
const MATCH_BY_CARD_REF: &str = "SELECT id, batch_id, profile, provider, order_ref, idempotency_key, \
    state, provider_refs FROM orders WHERE provider = $1 AND card_ref = $2 ORDER BY id LIMIT 1";
// language=SQL
const MATCH_BY_ORDER_REF: &str = "SELECT id, batch_id, profile, provider, order_ref, idempotency_key, \
    state, provider_refs FROM orders WHERE provider = $1 AND card_order_ref = $2 ORDER BY id LIMIT 1";
// language=SQL
const MATCH_BY_KEY: &str = "SELECT id, batch_id, profile, provider, order_ref, idempotency_key, \
    state, provider_refs FROM orders WHERE provider = $1 AND idempotency_key = $2 ORDER BY id LIMIT 1";

/// The same SQL on both engines: `CAST` types the optional parameters for Postgres.
// language=SQL
const CONFIRM: &str = "UPDATE orders SET state = $1, confirmed_by = $2, confirmed_at = $3, \
    updated_at = $3, provider_refs = COALESCE(CAST($4 AS TEXT), provider_refs), \
    card_ref = COALESCE(CAST($5 AS TEXT), card_ref), \
    last_error_code = COALESCE(CAST($6 AS TEXT), last_error_code), \
    last_error_message = COALESCE(CAST($7 AS TEXT), last_error_message) \
    WHERE id = $8 AND state = 'submitted'";

// language=SQL
const SETTLE: &str = "UPDATE webhook_events SET outcome = $1, order_id = $2, note = $3, \
    checks = checks + 1, next_check_at = $4, \
    processed_at = CASE WHEN $1 = 'pending' THEN NULL ELSE CAST($5 AS BIGINT) END \
    WHERE id = $6 AND outcome = 'pending'";

type RawMatch = (
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

/// One settlement inside the caller's transaction (`$tx`: a SQLite or Postgres transaction).
/// A macro rather than a generic function: the statements are the same, the executor types are
/// not, and sqlx's generic bounds would outweigh the body.
macro_rules! settle_one {
    ($tx:expr, $s:expr, $now_ms:expr) => {{
        let s: &EventSettlement = $s;
        let mut note = s.note.clone();
        let applied = match &s.confirm {
            None => false,
            Some(c) => {
                let refs = c.provider_refs.as_ref().map(|r| r.to_string());
                let card_ref = c.provider_refs.as_ref().and_then(|r| card_refs_of(r).0);
                let (code, message) = c.error.clone().unzip();
                let done = sqlx::query(CONFIRM)
                    .bind(c.state.as_str())
                    .bind(c.by.as_str())
                    .bind($now_ms)
                    .bind(refs)
                    .bind(card_ref)
                    .bind(code)
                    .bind(message)
                    .bind(c.order_id)
                    .execute(&mut *$tx)
                    .await?
                    .rows_affected();
                if done == 0 {
                    note = format!("{note}; no change: the order was no longer submitted");
                }
                done == 1
            }
        };
        sqlx::query(SETTLE)
            .bind(s.outcome.as_str())
            .bind(s.order_id)
            .bind(note)
            .bind(s.recheck_at_ms)
            .bind($now_ms)
            .bind(s.event_id)
            .execute(&mut *$tx)
            .await?;
        applied
    }};
}
impl Store {
    /// The order an event's keys point to: by card key, then order key, then idempotency key,
    /// for each provider in turn. `None` when no order carries any of them (yet).
    pub async fn order_match_card(&self, key: &CardMatchKey) -> Result<Option<MatchedOrder>> {
        let lookups = [
            (MATCH_BY_CARD_REF, &key.card_ref),
            (MATCH_BY_ORDER_REF, &key.card_order_ref),
            (MATCH_BY_KEY, &key.idempotency_key),
        ];
        for (sql, value) in lookups {
            let Some(value) = value else { continue };
            for provider in &key.providers {
                let row: Option<RawMatch> = match &self.db {
                    Db::Sqlite { read, .. } => {
                        sqlx::query_as(sql)
                            .bind(provider.as_str())
                            .bind(value.clone())
                            .fetch_optional(read)
                            .await?
                    }
                    Db::Postgres(pool) => {
                        sqlx::query_as(sql)
                            .bind(provider.as_str())
                            .bind(value.clone())
                            .fetch_optional(pool)
                            .await?
                    }
                };
                if let Some(row) = row {
                    return parse_match(row).map(Some);
                }
            }
        }
        Ok(None)
    }

    /// Writes every settlement in one transaction: first the order's confirmation (fenced on
    /// `state = 'submitted'`), then the event's outcome (fenced on `outcome = 'pending'`, so two
    /// processors cannot settle one event twice). Returns, per settlement, whether its
    /// confirmation moved the order; when it did not, the event's note says so.
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
        match &self.db {
            Db::Sqlite { write, .. } => {
                let mut tx = write.begin_with("BEGIN IMMEDIATE").await?;
                let mut applied = Vec::with_capacity(settlements.len());
                for s in settlements {
                    applied.push(settle_one!(tx, s, now_ms));
                }
                tx.commit().await?;
                Ok(applied)
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let mut applied = Vec::with_capacity(settlements.len());
                for s in settlements {
                    applied.push(settle_one!(tx, s, now_ms));
                }
                tx.commit().await?;
                Ok(applied)
            }
        }
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

fn parse_match(
    (id, batch_id, profile, provider, order_ref, idempotency_key, state, refs): RawMatch,
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
