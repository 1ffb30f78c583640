//! The Postgres side of the batch writer: orders stream into a temporary staging table with
//! `COPY ... FROM STDIN`, then move into `orders` with one `INSERT ... SELECT` per staged chunk,
//! all inside the batch's transaction. The move is a plain insert in a savepoint; if a reference
//! is taken it is rolled back and made again with `ON CONFLICT DO NOTHING`.
//!
//! `COPY` costs the server a fraction of what a bound multi-row `INSERT` does (no parameter
//! arrays to decode, no plan per statement), and the staging table is temporary, so its rows
//! write no WAL. Duplicates cost nothing when there are none: the insert's row count equals the
//! staged count. Otherwise one join of the staged keys against the `(profile, order_ref)`
//! unique index (and `retired_refs`) names the owner of every row that was not inserted.

use super::error::Result;
use super::prune::PRUNED;
use sqlx::{Postgres, Transaction};
use std::collections::HashMap;

/// Rows sent per `COPY` statement (about 1 MB of UQPAY rows).
const COPY_ROWS: usize = 10_000;
/// Rows staged before they move into `orders`: bounds the staging table (and the sort that
/// keeps file order, in memory under the `work_mem` set below).
const STAGE_ROWS: u64 = 100_000;

/// Created once per batch transaction, dropped at its end (commit or rollback).
// language=PostgreSQL
const CREATE: &str = "CREATE TEMPORARY TABLE cardbatch_stage (order_ref TEXT NOT NULL, \
    line BIGINT NOT NULL, idempotency_key TEXT NOT NULL, payload TEXT NOT NULL, \
    amount_minor BIGINT, currency TEXT) ON COMMIT DROP";
/// The sort by line (so the earliest line of a reference repeated within the file is the one
/// inserted, whatever join the planner picks) fits in memory for one staged chunk; and no JIT:
/// the staged statements are estimated costly enough for it, and compiling took longer (about a
/// second per statement) than running them.
// language=PostgreSQL
const SETTINGS: [&str; 2] = ["SET LOCAL work_mem = '64MB'", "SET LOCAL jit = off"];
// language=PostgreSQL
const COPY: &str = "COPY cardbatch_stage FROM STDIN";
/// A few rows are staged by one `INSERT` instead of a `COPY`. sqlx writes a `COPY`'s data and
/// its end as two small TCP segments without `TCP_NODELAY`, so Nagle's algorithm holds the end
/// until the server's delayed ACK, about 40 ms later: a one-order batch took 45 ms to commit.
const SMALL_ROWS: usize = 100;
// language=PostgreSQL
const INSERT_SMALL: &str = "INSERT INTO cardbatch_stage \
    SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[])";
/// The batch's constants come from its row (Postgres has no foreign key from orders to batches:
/// this join is what guarantees the batch exists; migration 0050). A reference of a deleted
/// batch (`retired_refs`) is a duplicate too.
macro_rules! move_select {
    () => {
        "INSERT INTO orders (batch_id, profile, provider, state, attempts, \
    next_attempt_at, created_at, updated_at, order_ref, line, idempotency_key, payload, \
    amount_minor, currency) \
    SELECT b.id, b.profile, b.provider, 'queued', 0, b.created_at, b.created_at, b.created_at, \
      s.order_ref, s.line, s.idempotency_key, s.payload, s.amount_minor, s.currency \
    FROM batches AS b, cardbatch_stage AS s \
    WHERE b.id = $1 AND NOT EXISTS (SELECT 1 FROM retired_refs AS r \
      WHERE r.profile = b.profile AND r.order_ref = s.order_ref) \
    ORDER BY s.line"
    };
}
// language=PostgreSQL
const MOVE: &str = move_select!();
/// The move when a staged reference may already be taken: a conflicting row is skipped (and
/// reported by [`DUPLICATES`]).
// language=PostgreSQL
const MOVE_ON_CONFLICT: &str = concat!(
    move_select!(),
    " ON CONFLICT (profile, order_ref) DO NOTHING"
);
/// The optimistic move runs in this savepoint: a taken reference aborts it with a unique
/// violation, and the stage moves again with [`MOVE_ON_CONFLICT`]. `ON CONFLICT` inserts each row
/// speculatively (one more index probe and WAL record per row): about a third of the move's
/// time when nothing conflicts, which is every chunk of a new file (BENCHMARKS.md). The server
/// logs the aborted insert as an error (a duplicate key): once per batch at most.
// language=PostgreSQL
const SAVEPOINT: &str = "SAVEPOINT cardbatch_move";
// language=PostgreSQL
const RELEASE: &str = "RELEASE SAVEPOINT cardbatch_move";
// language=PostgreSQL
const ROLLBACK: &str = "ROLLBACK TO SAVEPOINT cardbatch_move";
/// The staged rows that were not inserted, in file order, each with the order (or retired
/// reference) holding its reference, and whether the content differs (a pruned order's content
/// is gone: its reference alone makes the duplicate). Each staged row probes the unique index
/// (`LATERAL ... LIMIT 1` keeps the planner from hashing every order of the profile instead).
// language=PostgreSQL
const DUPLICATES: &str = "SELECT line, order_ref, owner_batch, owner_line, conflicting, \
      amount_minor, currency FROM ( \
    SELECT s.line, s.order_ref, o.batch_id AS owner_batch, o.line AS owner_line, \
      CASE WHEN o.payload = $3 OR o.payload = s.payload THEN FALSE \
        ELSE o.payload::jsonb IS DISTINCT FROM s.payload::jsonb END AS conflicting, \
      s.amount_minor, s.currency \
    FROM cardbatch_stage AS s CROSS JOIN LATERAL (SELECT batch_id, line, payload FROM orders \
      WHERE profile = $1 AND order_ref = s.order_ref LIMIT 1) AS o \
    WHERE o.batch_id <> $2 OR o.line <> s.line \
    UNION ALL \
    SELECT s.line, s.order_ref, r.batch_id, r.line, FALSE, s.amount_minor, s.currency \
    FROM cardbatch_stage AS s CROSS JOIN LATERAL (SELECT batch_id, line FROM retired_refs \
      WHERE profile = $1 AND order_ref = s.order_ref LIMIT 1) AS r) AS d \
    ORDER BY line";
// language=PostgreSQL
const EMPTY: &str = "TRUNCATE cardbatch_stage";

/// A staged row that was not inserted, and who holds its reference.
pub(super) struct StagedDuplicate {
    pub line: i64,
    pub order_ref: String,
    pub owner_batch: String,
    pub owner_line: i64,
    pub conflicting: bool,
}

/// A row of [`DUPLICATES`].
type DuplicateRow = (i64, String, String, i64, bool, Option<i64>, Option<String>);

/// What one move from the staging table did.
pub(super) struct Moved {
    pub inserted: u64,
    /// Orders and amount per currency of the inserted rows.
    pub totals: HashMap<String, (i64, i64)>,
    pub duplicates: Vec<StagedDuplicate>,
}

/// Rows on their way to `orders`: encoded for `COPY`, then staged.
#[derive(Default)]
pub(super) struct PgStage {
    /// `COPY` text-format rows not yet sent.
    copy: Vec<u8>,
    copy_rows: usize,
    /// The same rows while they are at most [`SMALL_ROWS`], to stage them without a `COPY`.
    small: Vec<crate::domain::NewOrder>,
    /// Rows sent to the staging table and not yet moved.
    staged: u64,
    /// A move of this batch met a taken reference: the next ones go straight to `ON CONFLICT`
    /// (a re-submitted file conflicts on every chunk; one aborted insert per batch is enough).
    conflicted: bool,
    /// Orders and amount per currency of the rows encoded or staged since the last move.
    totals: HashMap<String, (i64, i64)>,
}

impl PgStage {
    /// Creates the staging table in the batch's transaction.
    pub async fn create(tx: &mut Transaction<'static, Postgres>) -> Result<Self> {
        sqlx::query(CREATE).execute(&mut **tx).await?;
        for setting in SETTINGS {
            sqlx::query(setting).execute(&mut **tx).await?;
        }
        Ok(Self {
            copy: Vec::with_capacity(2 << 20),
            ..Self::default()
        })
    }

    /// Encodes one order for the next `COPY` and adds it to the pending totals.
    pub fn encode(&mut self, order: &crate::domain::NewOrder) {
        if self.copy_rows < SMALL_ROWS {
            self.small.push(order.clone());
        }
        let out = &mut self.copy;
        put_text(out, &order.order_ref);
        out.push(b'\t');
        out.extend_from_slice(order.line.to_string().as_bytes());
        out.push(b'\t');
        put_text(out, &order.idempotency_key);
        out.push(b'\t');
        put_text(out, order.payload.json());
        out.push(b'\t');
        match order.amount_minor {
            Some(a) => out.extend_from_slice(a.to_string().as_bytes()),
            None => out.extend_from_slice(b"\\N"),
        }
        out.push(b'\t');
        match &order.currency {
            Some(c) => put_text(out, c),
            None => out.extend_from_slice(b"\\N"),
        }
        out.push(b'\n');
        self.copy_rows += 1;
        if let (Some(amount), Some(currency)) = (order.amount_minor, &order.currency) {
            let t = self.totals.entry(currency.clone()).or_default();
            t.0 += 1;
            t.1 += amount;
        }
    }

    /// Whether a `COPY` chunk is full.
    pub fn copy_full(&self) -> bool {
        self.copy_rows >= COPY_ROWS
    }

    /// Whether the staging table holds enough rows to move them.
    pub fn stage_full(&self) -> bool {
        self.staged + self.copy_rows as u64 >= STAGE_ROWS
    }

    /// Whether nothing waits to be moved.
    pub fn is_empty(&self) -> bool {
        self.staged == 0 && self.copy_rows == 0
    }

    /// Sends the encoded rows to the staging table with one `COPY`.
    pub async fn send(&mut self, tx: &mut Transaction<'static, Postgres>) -> Result<()> {
        if self.copy_rows == 0 {
            return Ok(());
        }
        if self.copy_rows <= SMALL_ROWS {
            let rows = &self.small;
            sqlx::query(INSERT_SMALL)
                .bind(
                    rows.iter()
                        .map(|o| o.order_ref.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(rows.iter().map(|o| o.line as i64).collect::<Vec<_>>())
                .bind(
                    rows.iter()
                        .map(|o| o.idempotency_key.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind(rows.iter().map(|o| o.payload.json()).collect::<Vec<_>>())
                .bind(rows.iter().map(|o| o.amount_minor).collect::<Vec<_>>())
                .bind(
                    rows.iter()
                        .map(|o| o.currency.as_deref())
                        .collect::<Vec<_>>(),
                )
                .execute(&mut **tx)
                .await?;
        } else {
            let mut copy = tx.copy_in_raw(COPY).await?;
            copy.send(self.copy.as_slice()).await?;
            let rows = copy.finish().await?;
            debug_assert_eq!(rows, self.copy_rows as u64);
        }
        self.staged += self.copy_rows as u64;
        self.copy.clear();
        self.copy_rows = 0;
        self.small.clear();
        Ok(())
    }

    /// Moves every staged row into `orders` as the batch's, reports those that were not
    /// inserted, and empties the stage.
    pub async fn move_into_orders(
        &mut self,
        tx: &mut Transaction<'static, Postgres>,
        batch_id: &str,
        profile: &str,
    ) -> Result<Moved> {
        self.send(tx).await?;
        let staged = self.staged;
        let mut totals = std::mem::take(&mut self.totals);
        if staged == 0 {
            return Ok(Moved {
                inserted: 0,
                totals,
                duplicates: Vec::new(),
            });
        }
        let inserted = self.insert_staged(tx, batch_id).await?;
        let mut duplicates = Vec::new();
        if inserted < staged {
            let rows: Vec<DuplicateRow> = sqlx::query_as(DUPLICATES)
                .bind(profile)
                .bind(batch_id)
                .bind(PRUNED)
                .persistent(false)
                .fetch_all(&mut **tx)
                .await?;
            let mut last_line = None;
            for (line, order_ref, owner_batch, owner_line, conflicting, amount, currency) in rows {
                // A reference both retired and held (never expected) is reported once.
                if last_line == Some(line) {
                    continue;
                }
                last_line = Some(line);
                if let (Some(amount), Some(currency)) = (amount, &currency)
                    && let Some(t) = totals.get_mut(currency)
                {
                    t.0 -= 1;
                    t.1 -= amount;
                }
                duplicates.push(StagedDuplicate {
                    line,
                    order_ref,
                    owner_batch,
                    owner_line,
                    conflicting,
                });
            }
        }
        totals.retain(|_, (n, _)| *n > 0);
        sqlx::query(EMPTY).execute(&mut **tx).await?;
        self.staged = 0;
        Ok(Moved {
            inserted,
            totals,
            duplicates,
        })
    }

    /// Inserts the staged rows into `orders`, skipping taken references; returns how many went
    /// in. Tries a plain insert first (see [`SAVEPOINT`]).
    async fn insert_staged(
        &mut self,
        tx: &mut Transaction<'static, Postgres>,
        batch_id: &str,
    ) -> Result<u64> {
        if !self.conflicted {
            sqlx::query(SAVEPOINT).execute(&mut **tx).await?;
            let plain = sqlx::query(MOVE)
                .bind(batch_id)
                .persistent(false)
                .execute(&mut **tx)
                .await;
            match plain {
                Ok(done) => {
                    sqlx::query(RELEASE).execute(&mut **tx).await?;
                    return Ok(done.rows_affected());
                }
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    sqlx::query(ROLLBACK).execute(&mut **tx).await?;
                    sqlx::query(RELEASE).execute(&mut **tx).await?;
                    self.conflicted = true;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(sqlx::query(MOVE_ON_CONFLICT)
            .bind(batch_id)
            .persistent(false)
            .execute(&mut **tx)
            .await?
            .rows_affected())
    }
}

/// Appends `s` escaped for `COPY`'s text format (backslash, tab, newline, carriage return).
fn put_text(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !bytes
        .iter()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::put_text;

    #[test]
    fn copy_text_escapes_its_delimiters() {
        let mut out = Vec::new();
        put_text(&mut out, "a\\b\tc\nd\re");
        assert_eq!(out, b"a\\\\b\\tc\\nd\\re");
        let mut plain = Vec::new();
        put_text(&mut plain, r#"{"k":"v"}"#);
        assert_eq!(plain, br#"{"k":"v"}"#);
    }
}
