//! The per-batch counters recounted from the orders themselves: O(orders), for checking the
//! counters the triggers keep (tests, and an operator who doubts them).

use super::connect::{Db, Store};
use super::error::{Result, corrupt};
use super::model::BatchSummary;
use super::reconcile_read::{ConfirmationCount, parse_confirmed_by};
use crate::domain::OrderState;
use std::collections::BTreeMap;
use uuid::Uuid;

impl Store {
    /// Every batch as [`Store::batch_list`] returns it, but with its counts per state and totals
    /// per currency counted over its orders instead of read from the counters. Equal to
    /// `batch_list` whenever the counters are right.
    pub async fn batch_list_recounted(&self) -> Result<Vec<BatchSummary>> {
        // language=SQL
        const COUNTS: &str =
            "SELECT batch_id, state, COUNT(*) FROM orders GROUP BY batch_id, state";
        // language=SQL
        const TOTALS: &str = "SELECT batch_id, currency, CAST(SUM(amount_minor) AS BIGINT) FROM orders \
            WHERE currency IS NOT NULL AND amount_minor IS NOT NULL GROUP BY batch_id, currency";
        let counts: Vec<(String, String, i64)> = match &self.db {
            Db::Sqlite { read, .. } => sqlx::query_as(COUNTS).fetch_all(read).await?,
            Db::Postgres(pool) => sqlx::query_as(COUNTS).fetch_all(pool).await?,
        };
        let totals: Vec<(String, String, i64)> = match &self.db {
            Db::Sqlite { read, .. } => sqlx::query_as(TOTALS).fetch_all(read).await?,
            Db::Postgres(pool) => sqlx::query_as(TOTALS).fetch_all(pool).await?,
        };
        let mut out = self.batch_list().await?;
        let index: BTreeMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, b)| (b.id.to_string(), i))
            .collect();
        for b in &mut out {
            b.counts.clear();
            b.totals_minor.clear();
        }
        for (batch, state, n) in counts {
            if let Some(&i) = index.get(&batch) {
                let state: OrderState = state.parse().map_err(|e| corrupt("orders", e))?;
                out[i].counts.insert(state, n as u64);
            }
        }
        for (batch, currency, sum) in totals {
            if let Some(&i) = index.get(&batch) {
                out[i].totals_minor.insert(currency, sum);
            }
        }
        Ok(out)
    }

    /// [`Store::order_count_by_confirmation`] of every batch, counted over the orders.
    pub async fn order_count_by_confirmation_recounted(&self) -> Result<Vec<ConfirmationCount>> {
        // language=SQL
        const SQL: &str = "SELECT batch_id, state, confirmed_by, COUNT(*) FROM orders \
            GROUP BY batch_id, state, confirmed_by";
        let rows: Vec<(String, String, Option<String>, i64)> = match &self.db {
            Db::Sqlite { read, .. } => sqlx::query_as(SQL).fetch_all(read).await?,
            Db::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await?,
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
}
