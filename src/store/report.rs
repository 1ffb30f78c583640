//! Read queries for the CLI, the API and tests. The SQL is the same on both engines (SQLite
//! accepts `$1` placeholders too).

use super::connect::{Db, Store};
use super::error::{Error, Result, corrupt};
use super::model::{BatchStatus, BatchSummary, OrderRow};
use super::reconcile_read::parse_confirmed_by;
use super::row::from_row;
use crate::domain::{OrderState, mask_message};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The `SELECT ... FROM orders` that [`RawOrder`] reads, as a literal for `concat!`.
macro_rules! select_orders {
    () => {
        "SELECT id, batch_id, order_ref, line, state, attempts, next_attempt_at, amount_minor, \
         currency, provider_refs, last_error_code, last_error_message, updated_at, card_ref, \
         confirmed_by, confirmed_at FROM orders"
    };
}

from_row! {
    struct RawOrder {
        id: i64,
        batch_id: String,
        order_ref: String,
        line: i64,
        state: String,
        attempts: i64,
        next_attempt_at: i64,
        amount_minor: Option<i64>,
        currency: Option<String>,
        provider_refs: Option<String>,
        last_error_code: Option<String>,
        last_error_message: Option<String>,
        updated_at: i64,
        card_ref: Option<String>,
        confirmed_by: Option<String>,
        confirmed_at: Option<i64>,
    }
}

impl RawOrder {
    fn parse(self) -> Result<OrderRow> {
        Ok(OrderRow {
            id: self.id,
            batch_id: Uuid::parse_str(&self.batch_id).map_err(|e| corrupt("orders", e))?,
            order_ref: self.order_ref,
            line: self.line as u64,
            state: self.state.parse().map_err(|e| corrupt("orders", e))?,
            attempts: self.attempts as u32,
            next_attempt_at_ms: self.next_attempt_at,
            amount_minor: self.amount_minor,
            currency: self.currency,
            provider_refs: self
                .provider_refs
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt("orders", e))?,
            last_error_code: self.last_error_code,
            // A provider's message can echo what was sent (a CPF, an e-mail, card digits):
            // every reader of an order gets it masked.
            last_error_message: self.last_error_message.as_deref().map(mask_message),
            updated_at_ms: self.updated_at,
            card_ref: self.card_ref,
            confirmed_by: parse_confirmed_by(self.confirmed_by.as_deref())?,
            confirmed_at_ms: self.confirmed_at,
        })
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

/// [`super::model::FAILING_STATES`] as an SQL list.
macro_rules! failing_states_sql {
    () => {
        "('rejected', 'dead', 'failed', 'needs_review', 'retry_wait')"
    };
}

impl Store {
    /// Every batch, newest first, with its counts per state and totals per currency.
    ///
    /// Counts and totals come from the per-batch counters the triggers of migration 0400 keep
    /// (`batch_counts`, `batch_totals`): O(batches), whatever the number of orders.
    pub async fn batch_list(&self) -> Result<Vec<BatchSummary>> {
        // language=SQL
        const BATCHES: &str = "SELECT id, profile, provider, source, created_at, state, state_reason, submitted_by, totals FROM batches ORDER BY created_at DESC, id";
        // language=SQL
        const COUNTS: &str = "SELECT batch_id, state, CAST(SUM(n) AS BIGINT) FROM batch_counts \
            GROUP BY batch_id, state HAVING SUM(n) <> 0";
        // language=SQL
        const TOTALS: &str = "SELECT batch_id, currency, CAST(SUM(total_minor) AS BIGINT) FROM batch_totals \
            GROUP BY batch_id, currency HAVING SUM(n) <> 0";
        let batches = fetch_all!(self, RawBatch, BATCHES);
        let counts = fetch_all!(self, (String, String, i64), COUNTS);
        let totals = fetch_all!(self, (String, String, i64), TOTALS);
        let mut out = batches
            .into_iter()
            .map(summary)
            .collect::<Result<Vec<_>>>()?;
        let index: BTreeMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, b)| (b.id.to_string(), i))
            .collect();
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

    /// One batch: counts per state, totals, and the orders needing attention.
    pub async fn batch_status(&self, batch_id: Uuid) -> Result<BatchStatus> {
        // `state <> 'queued'` is the predicate of the partial `orders_batch_state` index, said
        // literally so that both planners use it (SQLite proves a partial index usable only from
        // the same term); the states are written out too (a test checks they are FAILING_STATES).
        // language=SQL
        const FAILING: &str = concat!(
            select_orders!(),
            " WHERE batch_id = $1 AND state <> 'queued' AND state IN ",
            failing_states_sql!(),
            " ORDER BY line"
        );
        let summary = self.batch_summary(batch_id).await?;
        let failing = fetch_all!(self, RawOrder, FAILING, batch_id.to_string());
        Ok(BatchStatus {
            summary,
            failing: failing
                .into_iter()
                .map(RawOrder::parse)
                .collect::<Result<_>>()?,
        })
    }

    /// One batch with its counts per state and totals ([`Error::BatchNotFound`] if none).
    pub async fn batch_summary(&self, batch_id: Uuid) -> Result<BatchSummary> {
        // language=SQL
        const BATCH: &str = "SELECT id, profile, provider, source, created_at, state, state_reason, submitted_by, totals FROM batches WHERE id = $1";
        // language=SQL
        const COUNTS: &str = "SELECT state, CAST(SUM(n) AS BIGINT) FROM batch_counts \
            WHERE batch_id = $1 GROUP BY state HAVING SUM(n) <> 0";
        // language=SQL
        const TOTALS: &str = "SELECT currency, CAST(SUM(total_minor) AS BIGINT) FROM batch_totals \
            WHERE batch_id = $1 GROUP BY currency HAVING SUM(n) <> 0";
        let id = batch_id.to_string();
        let batch = fetch_all!(self, RawBatch, BATCH, id.clone());
        let mut summary = summary(
            batch
                .into_iter()
                .next()
                .ok_or(Error::BatchNotFound(batch_id))?,
        )?;
        for (state, n) in fetch_all!(self, (String, i64), COUNTS, id.clone()) {
            summary
                .counts
                .insert(state.parse().map_err(|e| corrupt("orders", e))?, n as u64);
        }
        summary.totals_minor = fetch_all!(self, (String, i64), TOTALS, id)
            .into_iter()
            .collect();
        Ok(summary)
    }

    /// The orders of a batch by line, optionally only those in `state`.
    pub async fn order_list(
        &self,
        batch_id: Uuid,
        state: Option<OrderState>,
    ) -> Result<Vec<OrderRow>> {
        // language=SQL
        const ALL: &str = concat!(select_orders!(), " WHERE batch_id = $1 ORDER BY line");
        // language=SQL
        const IN_STATE: &str = concat!(
            select_orders!(),
            " WHERE batch_id = $1 AND state = $2 ORDER BY line"
        );
        let id = batch_id.to_string();
        let rows = match state {
            None => fetch_all!(self, RawOrder, ALL, id),
            Some(s) => fetch_all!(self, RawOrder, IN_STATE, id, s.as_str()),
        };
        rows.into_iter().map(RawOrder::parse).collect()
    }

    /// One page of a batch's orders by id (keyset pagination): at most `limit` orders whose id
    /// is above `after`, only those in `state` when given, and only those whose `order_ref`
    /// contains `q` when given.
    pub async fn order_page(
        &self,
        batch_id: Uuid,
        state: Option<OrderState>,
        q: Option<&str>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<OrderRow>> {
        // One statement per combination of filters, so that each gets a plan of its own (an
        // `$3 IS NULL OR state = $3` keeps Postgres from using the index that fits).
        // language=SQL
        const ALL: &str = concat!(
            select_orders!(),
            // `batch_id, id`: the order of `orders_batch_id`, so that no plan walks the primary
            // key from `$2` filtering on the batch (the later batches sit far from id 0).
            " WHERE batch_id = $1 AND id > $2 ORDER BY batch_id, id LIMIT $3"
        );
        // language=SQL
        const IN_STATE: &str = concat!(
            select_orders!(),
            " WHERE batch_id = $1 AND id > $2 AND state = $4 ORDER BY id LIMIT $3"
        );
        // language=SQL
        const MATCHING: &str = concat!(
            select_orders!(),
            " WHERE batch_id = $1 AND id > $2 AND order_ref LIKE $4 ESCAPE '\\' ORDER BY batch_id, id LIMIT $3"
        );
        // language=SQL
        const IN_STATE_MATCHING: &str = concat!(
            select_orders!(),
            " WHERE batch_id = $1 AND id > $2 AND state = $4 AND order_ref LIKE $5 ESCAPE '\\' \
              ORDER BY id LIMIT $3"
        );
        let pattern = q.map(|q| {
            let escaped = q
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        let (id, after, limit) = (batch_id.to_string(), after.unwrap_or(0), i64::from(limit));
        let rows = match (state, pattern) {
            (None, None) => fetch_all!(self, RawOrder, ALL, id, after, limit),
            (Some(s), None) => fetch_all!(self, RawOrder, IN_STATE, id, after, limit, s.as_str()),
            (None, Some(p)) => fetch_all!(self, RawOrder, MATCHING, id, after, limit, p),
            (Some(s), Some(p)) => {
                fetch_all!(
                    self,
                    RawOrder,
                    IN_STATE_MATCHING,
                    id,
                    after,
                    limit,
                    s.as_str(),
                    p
                )
            }
        };
        rows.into_iter().map(RawOrder::parse).collect()
    }

    /// The orders of `batch_id` (of `profile`) whose `order_ref` is exactly `order_ref`, in
    /// `state` if given: at most one, found through the `(profile, order_ref)` unique index
    /// (the dashboard's search; [`Store::order_page`]'s `q` is a substring match, which walks
    /// the batch).
    pub async fn order_find_in_batch(
        &self,
        batch_id: Uuid,
        profile: &str,
        state: Option<OrderState>,
        order_ref: &str,
    ) -> Result<Vec<OrderRow>> {
        // language=SQL
        const SQL: &str = concat!(
            select_orders!(),
            " WHERE profile = $1 AND order_ref = $2 AND batch_id = $3"
        );
        let rows = fetch_all!(
            self,
            RawOrder,
            SQL,
            profile,
            order_ref,
            batch_id.to_string()
        );
        rows.into_iter()
            .map(RawOrder::parse)
            .filter(|r| match (r, state) {
                (Ok(row), Some(s)) => row.state == s,
                _ => true,
            })
            .collect()
    }

    /// One order by id, if it exists.
    pub async fn order_get(&self, order_id: i64) -> Result<Option<OrderRow>> {
        // language=SQL
        const SQL: &str = concat!(select_orders!(), " WHERE id = $1");
        let rows = fetch_all!(self, RawOrder, SQL, order_id);
        rows.into_iter().next().map(RawOrder::parse).transpose()
    }

    /// Number of orders per state, over every batch of every profile.
    pub async fn order_count_by_state(&self) -> Result<BTreeMap<OrderState, u64>> {
        // language=SQL
        const SQL: &str = "SELECT state, CAST(SUM(n) AS BIGINT) FROM batch_counts \
            GROUP BY state HAVING SUM(n) <> 0";
        fetch_all!(self, (String, i64), SQL)
            .into_iter()
            .map(|(s, n)| Ok((s.parse().map_err(|e| corrupt("orders", e))?, n as u64)))
            .collect()
    }

    /// Streams every order of a batch by line, for the results export; memory stays flat.
    pub fn order_export(&self, batch_id: Uuid) -> BoxStream<'_, Result<OrderRow>> {
        // language=SQL
        const SQL: &str = concat!(select_orders!(), " WHERE batch_id = $1 ORDER BY line");
        let id = batch_id.to_string();
        let rows = match &self.db {
            Db::Sqlite { read, .. } => sqlx::query_as::<_, RawOrder>(SQL).bind(id).fetch(read),
            Db::Postgres(pool) => sqlx::query_as::<_, RawOrder>(SQL).bind(id).fetch(pool),
        };
        rows.map_err(Error::from)
            .and_then(|r| async move { r.parse() })
            .boxed()
    }
}

/// A `batches` row: id, profile, provider, source, created_at, state, state_reason, submitted_by,
/// totals (JSON, `None` for batches written before totals were stored).
type RawBatch = (
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn summary(
    (id, profile, provider, source, created_at, state, state_reason, submitted_by, totals): RawBatch,
) -> Result<BatchSummary> {
    let totals_minor = totals
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| corrupt("batches", e))?
        .unwrap_or_default();
    Ok(BatchSummary {
        state: state.parse().map_err(|e| corrupt("batches", e))?,
        state_reason,
        submitted_by,
        id: Uuid::parse_str(&id).map_err(|e| corrupt("batches", e))?,
        profile,
        provider: provider.parse().map_err(|e| corrupt("batches", e))?,
        source,
        created_at_ms: created_at,
        counts: BTreeMap::new(),
        totals_minor,
    })
}

#[cfg(test)]
mod failing_states_tests {
    use crate::domain::OrderState;
    use crate::store::FAILING_STATES;

    #[test]
    fn the_sql_list_of_failing_states_is_failing_states() {
        let listed = FAILING_STATES
            .map(OrderState::as_str)
            .map(|s| format!("'{s}'"))
            .join(", ");
        assert_eq!(failing_states_sql!(), format!("({listed})"));
    }
}
