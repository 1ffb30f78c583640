//! Read queries for the reconciliation report: how each batch's orders were confirmed, which
//! still wait for a confirmation, and where the provider disagrees with what we recorded. The
//! SQL is the same on both engines (SQLite accepts `$1` placeholders too).

use super::confirm::ConfirmedBy;
use super::connect::{Db, Store};
use super::error::{Result, corrupt};
use crate::domain::OrderState;
use uuid::Uuid;

/// How many orders of a batch are in one state, confirmed one way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationCount {
    /// The batch.
    pub batch_id: Uuid,
    /// The orders' state.
    pub state: OrderState,
    /// What confirmed it, if anything did.
    pub confirmed_by: Option<ConfirmedBy>,
    /// How many orders.
    pub count: u64,
}

/// A `submitted` order still waiting for the provider's confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingOrder {
    /// The order's row id.
    pub id: i64,
    /// The customer's reference.
    pub order_ref: String,
    /// Physical line in the source file.
    pub line: u64,
    /// When it became `submitted` (Unix ms).
    pub submitted_at_ms: i64,
    /// The provider's card key, when it gave one.
    pub card_ref: Option<String>,
    /// How many times the reconciler looked it up.
    pub lookups: u32,
}

/// An order where the provider says one thing and we recorded another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MismatchedOrder {
    /// The order's row id.
    pub id: i64,
    /// The customer's reference.
    pub order_ref: String,
    /// Its state as we hold it (never moved by the mismatch).
    pub state: OrderState,
    /// What confirmed that state, if anything.
    pub confirmed_by: Option<ConfirmedBy>,
    /// What the provider said, in words.
    pub note: String,
    /// When the mismatch was seen (Unix ms).
    pub seen_at_ms: i64,
}

/// Parses `orders.confirmed_by`.
pub(crate) fn parse_confirmed_by(value: Option<&str>) -> Result<Option<ConfirmedBy>> {
    match value {
        None => Ok(None),
        Some("webhook") => Ok(Some(ConfirmedBy::Webhook)),
        Some("lookup") => Ok(Some(ConfirmedBy::Lookup)),
        Some(other) => Err(corrupt("orders", format!("unknown confirmed_by `{other}`"))),
    }
}

/// Runs one read query on whichever engine, binding the same values.
macro_rules! fetch_all {
    ($store:expr, $ty:ty, $sql:expr $(, $arg:expr)*) => {
        match &$store.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.fetch_all(read).await?
            }
            Db::Postgres(pool) => sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.fetch_all(pool).await?,
        }
    };
}

impl Store {
    /// Orders per batch, state and confirmation source; of one batch, or of all when `None`.
    /// Read from the per-batch counters (migration 0400): O(batches).
    pub async fn order_count_by_confirmation(
        &self,
        batch_id: Option<Uuid>,
    ) -> Result<Vec<ConfirmationCount>> {
        // language=SQL
        const ALL: &str = "SELECT batch_id, state, NULLIF(confirmed_by, ''), CAST(SUM(n) AS BIGINT) \
            FROM batch_counts GROUP BY batch_id, state, confirmed_by HAVING SUM(n) <> 0";
        // language=SQL
        const ONE: &str = "SELECT batch_id, state, NULLIF(confirmed_by, ''), CAST(SUM(n) AS BIGINT) \
            FROM batch_counts WHERE batch_id = $1 GROUP BY batch_id, state, confirmed_by HAVING SUM(n) <> 0";
        let rows = match batch_id {
            None => fetch_all!(self, (String, String, Option<String>, i64), ALL),
            Some(id) => fetch_all!(
                self,
                (String, String, Option<String>, i64),
                ONE,
                id.to_string()
            ),
        };
        rows.into_iter()
            .map(|(batch, state, by, n)| {
                Ok(ConfirmationCount {
                    batch_id: Uuid::parse_str(&batch).map_err(|e| corrupt("orders", e))?,
                    state: state.parse().map_err(|e| corrupt("orders", e))?,
                    confirmed_by: parse_confirmed_by(by.as_deref())?,
                    count: n as u64,
                })
            })
            .collect()
    }

    /// The `limit` oldest `submitted` orders of a batch, oldest first.
    pub async fn order_list_awaiting(
        &self,
        batch_id: Uuid,
        limit: u32,
    ) -> Result<Vec<AwaitingOrder>> {
        // language=SQL
        const SQL: &str = "SELECT id, order_ref, line, updated_at, card_ref, lookup_count \
            FROM orders WHERE batch_id = $1 AND state = 'submitted' ORDER BY updated_at, id LIMIT $2";
        let rows = fetch_all!(
            self,
            (i64, String, i64, i64, Option<String>, i32),
            SQL,
            batch_id.to_string(),
            i64::from(limit)
        );
        Ok(rows
            .into_iter()
            .map(
                |(id, order_ref, line, submitted_at_ms, card_ref, lookups)| AwaitingOrder {
                    id,
                    order_ref,
                    line: line as u64,
                    submitted_at_ms,
                    card_ref,
                    lookups: lookups.max(0) as u32,
                },
            )
            .collect())
    }

    /// Every order of a batch with a recorded mismatch, by line.
    pub async fn order_list_mismatches(&self, batch_id: Uuid) -> Result<Vec<MismatchedOrder>> {
        // language=SQL
        const SQL: &str = "SELECT id, order_ref, state, confirmed_by, mismatch, mismatch_at \
            FROM orders WHERE batch_id = $1 AND mismatch IS NOT NULL ORDER BY line";
        let rows = fetch_all!(
            self,
            (i64, String, String, Option<String>, String, Option<i64>),
            SQL,
            batch_id.to_string()
        );
        rows.into_iter()
            .map(|(id, order_ref, state, by, note, at)| {
                Ok(MismatchedOrder {
                    id,
                    order_ref,
                    state: state.parse().map_err(|e| corrupt("orders", e))?,
                    confirmed_by: parse_confirmed_by(by.as_deref())?,
                    note,
                    seen_at_ms: at.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// How many orders of a batch carry a recorded mismatch (the `orders_mismatch` partial
    /// index: the mismatched rows only, never the batch's other orders).
    pub async fn order_count_mismatches(&self, batch_id: Uuid) -> Result<u64> {
        // language=SQL
        const SQL: &str =
            "SELECT COUNT(*) FROM orders WHERE batch_id = $1 AND mismatch IS NOT NULL";
        let rows = fetch_all!(self, (i64,), SQL, batch_id.to_string());
        Ok(rows.first().map_or(0, |(n,)| (*n).max(0) as u64))
    }
}
