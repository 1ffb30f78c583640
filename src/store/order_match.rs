//! Finding the order an event is about: by the provider's card key, its order key, or our
//! idempotency key as the provider echoes it. The card keys are recorded in indexed columns
//! beside the refs when the create answer is recorded (`complete.rs`), and the lookup works on
//! a whole group of events at once (one query per key kind, whatever the group's size).

use super::connect::{Db, Store};
use super::error::{Result, corrupt};
use crate::domain::{OrderState, ProviderKind, ProviderRefs};
use uuid::Uuid;

/// The keys an event carries, each tried in turn against the orders of `providers`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardMatchKey {
    /// The providers whose orders may match (QI's one endpoint serves two products).
    pub providers: Vec<ProviderKind>,
    /// The provider's card key (QI `card_key`, UQPAY `card_id`).
    pub card_ref: Option<String>,
    /// The provider's order key (UQPAY `card_order_id`, QI `payment_instrument_key`).
    pub card_order_ref: Option<String>,
    /// Our idempotency key as the provider echoes it (Alchemy Pay `orderNo`; only Alchemy Pay
    /// orders are matched this way).
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
    pub refs: ProviderRefs,
    /// Create attempts made so far.
    pub attempts: u32,
}

/// The columns [`RawMatch`] reads, for `concat!`.
macro_rules! match_columns {
    () => {
        "o.id, o.batch_id, o.profile, o.provider, o.order_ref, o.idempotency_key, o.state, \
         o.provider_refs, o.attempts"
    };
}

/// SQLite: the wanted `(provider, value, index)` triples travel as one JSON array; the join
/// probes the `(provider, <column>)` index once per triple.
macro_rules! sqlite_match {
    ($column:literal) => {
        concat!(
            "SELECT CAST(j.value ->> 2 AS INTEGER), ",
            match_columns!(),
            " FROM json_each($1) AS j JOIN orders o ON o.provider = j.value ->> 0 AND o.",
            $column,
            " = j.value ->> 1"
        )
    };
}

/// Postgres: the same triples as three arrays.
macro_rules! pg_match {
    ($column:literal) => {
        concat!(
            "SELECT u.i, ",
            match_columns!(),
            " FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS u(p, v, i) \
             JOIN orders o ON o.provider = u.p AND o.",
            $column,
            " = u.v"
        )
    };
}

/// Matching by our idempotency key serves Alchemy Pay's `orderNo` only, and its index is
/// partial on the literal `provider = 'alchemypay_vcc'` (see the `orders_alchemypay_key`
/// migration), so the provider is a literal here too for the planner to use it.
// language=SQLite
const SQLITE_MATCH_ALCHEMYPAY_KEY: &str = concat!(
    "SELECT CAST(j.value ->> 2 AS INTEGER), ",
    match_columns!(),
    " FROM json_each($1) AS j JOIN orders o ON o.provider = 'alchemypay_vcc' \
     AND j.value ->> 0 = 'alchemypay_vcc' AND o.idempotency_key = j.value ->> 1"
);
// language=PostgreSQL
const PG_MATCH_ALCHEMYPAY_KEY: &str = concat!(
    "SELECT u.i, ",
    match_columns!(),
    " FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS u(p, v, i) \
     JOIN orders o ON o.provider = 'alchemypay_vcc' AND u.p = 'alchemypay_vcc' \
     AND o.idempotency_key = u.v"
);

/// The keys an event may match by, in order of precedence: (SQLite SQL, Postgres SQL).
const MATCHES: [(&str, &str); 3] = [
    (sqlite_match!("card_ref"), pg_match!("card_ref")),
    (sqlite_match!("card_order_ref"), pg_match!("card_order_ref")),
    (SQLITE_MATCH_ALCHEMYPAY_KEY, PG_MATCH_ALCHEMYPAY_KEY),
];

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
    i64,
);

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
}

fn parse_match(
    (_, id, batch_id, profile, provider, order_ref, idempotency_key, state, refs, attempts): RawMatch,
) -> Result<MatchedOrder> {
    Ok(MatchedOrder {
        id,
        batch_id: Uuid::parse_str(&batch_id).map_err(|e| corrupt("orders", e))?,
        profile,
        provider: provider.parse().map_err(|e| corrupt("orders", e))?,
        order_ref,
        idempotency_key,
        state: state.parse().map_err(|e| corrupt("orders", e))?,
        refs: super::claim::stored_refs(refs.as_deref())?,
        attempts: u32::try_from(attempts).map_err(|e| corrupt("orders", e))?,
    })
}
