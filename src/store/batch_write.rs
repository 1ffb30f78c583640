//! Writing a batch and all its orders in one transaction.
//!
//! On SQLite the writer buffers a chunk of orders and flushes it as one multi-row statement, so
//! memory stays at one chunk whatever the file's size; when the statement inserted fewer rows
//! than it had, one set-based lookup per chunk (its references joined against the unique index)
//! finds which batch (or which earlier line of this file) owns the others. On Postgres orders
//! stream through `COPY` into a staging table and move into `orders` a stage at a time
//! ([`super::pg_stage`]).

use super::connect::{Db, Store};
use super::error::{Result, corrupt};
use super::model::{BatchInsertReport, DuplicateOf, DuplicateSample};
use super::pg_stage::PgStage;
use super::prune::PRUNED;
use super::wake::{NOTIFY_CHANNEL, WakeHub};
use crate::domain::{NewBatch, NewOrder};
use sqlx::{Postgres, Sqlite, Transaction};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use uuid::Uuid;

/// Rows per SQLite statement and their fallbacks for the last, partial chunk. 500 rows use 3,004
/// bind parameters, well under SQLite's 32,766.
const SQLITE_CHUNKS: [usize; 4] = [500, 50, 5, 1];

/// Writes one batch and its orders in a single transaction. Dropping it without
/// [`BatchWriter::commit`] rolls everything back.
pub struct BatchWriter {
    tx: WriterTx,
    batch: NewBatch,
    batch_id: String,
    /// SQLite: the orders of the next statement.
    buffer: Vec<NewOrder>,
    report: BatchInsertReport,
    /// Orders and amount per currency inserted so far, for the batch's counters.
    totals: HashMap<String, (i64, i64)>,
    wake: Arc<WakeHub>,
}

enum WriterTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>, PgStage),
}

/// A row that was not inserted, and the order (or deleted batch's reference) holding its
/// reference.
struct Duplicate {
    line: u64,
    order_ref: String,
    owner_batch: String,
    owner_line: i64,
    /// Other content under the same reference (another order that would silently get no card).
    conflicting: bool,
}

impl Store {
    /// Opens the transaction and writes the batch row. Orders follow with
    /// [`BatchWriter::push`].
    pub async fn batch_writer(&self, batch: &NewBatch) -> Result<BatchWriter> {
        // language=SQL
        const INSERT_BATCH: &str = "INSERT INTO batches (id, profile, provider, source, created_at) VALUES ($1, $2, $3, $4, $5)";
        let batch_id = batch.id.to_string();
        macro_rules! insert {
            () => {
                sqlx::query(INSERT_BATCH)
                    .bind(batch_id.clone())
                    .bind(batch.profile.clone())
                    .bind(batch.provider.as_str())
                    .bind(batch.source.clone())
                    .bind(batch.created_at_ms)
            };
        }
        let tx = match &self.db {
            Db::Sqlite { write, .. } => {
                // IMMEDIATE takes the write lock up front: a deferred transaction that starts
                // reading and then writes can fail with SQLITE_BUSY when another process wrote.
                let mut tx = write.begin_with("BEGIN IMMEDIATE").await?;
                insert!().execute(&mut *tx).await?;
                WriterTx::Sqlite(tx)
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                insert!().execute(&mut *tx).await?;
                let stage = PgStage::create(&mut tx).await?;
                WriterTx::Postgres(tx, stage)
            }
        };
        Ok(BatchWriter {
            tx,
            batch: batch.clone(),
            buffer: Vec::with_capacity(SQLITE_CHUNKS[0]),
            report: BatchInsertReport {
                batch_id: batch.id,
                ..Default::default()
            },
            batch_id,
            totals: HashMap::new(),
            wake: self.wake.clone(),
        })
    }
}

impl BatchWriter {
    /// Adds one order; a full buffer is written at once.
    pub async fn push(&mut self, order: NewOrder) -> Result<()> {
        match &mut self.tx {
            WriterTx::Sqlite(_) => {
                self.buffer.push(order);
                if self.buffer.len() >= SQLITE_CHUNKS[0] {
                    self.flush().await?;
                }
            }
            WriterTx::Postgres(tx, stage) => {
                stage.encode(&order);
                if stage.stage_full() {
                    self.flush().await?;
                } else if stage.copy_full() {
                    stage.send(tx).await?;
                }
            }
        }
        Ok(())
    }

    /// Orders written so far (before commit they are visible to nobody else).
    pub fn inserted(&self) -> u64 {
        self.report.inserted
    }

    /// Records who submitted the batch and the state it starts in (`awaiting_approval` when over
    /// its profile's approval threshold), inside the batch's transaction, so no worker can claim
    /// an order before the batch is held.
    pub async fn set_control(
        &mut self,
        state: crate::domain::BatchState,
        reason: Option<&str>,
        submitted_by: &str,
    ) -> Result<()> {
        // language=SQL
        const SQL: &str =
            "UPDATE batches SET state = $2, state_reason = $3, submitted_by = $4 WHERE id = $1";
        macro_rules! set {
            ($tx:expr) => {
                sqlx::query(SQL)
                    .bind(self.batch_id.clone())
                    .bind(state.as_str())
                    .bind(reason.map(str::to_owned))
                    .bind(submitted_by.to_owned())
                    .execute(&mut **$tx)
                    .await?
                    .rows_affected()
            };
        }
        match &mut self.tx {
            WriterTx::Sqlite(tx) => set!(tx),
            WriterTx::Postgres(tx, _) => set!(tx),
        };
        Ok(())
    }

    /// The sum of the amounts of the orders this batch wrote so far, over every currency (0
    /// when none has one).
    pub async fn amount_total(&mut self) -> Result<i64> {
        self.flush().await?;
        Ok(self.totals.values().map(|(_, sum)| sum).sum())
    }

    /// Writes what is buffered, commits, and wakes idle workers.
    pub async fn commit(mut self) -> Result<BatchInsertReport> {
        self.flush().await?;
        self.write_counters().await?;
        match self.tx {
            WriterTx::Sqlite(tx) => tx.commit().await?,
            WriterTx::Postgres(mut tx, _) => {
                if self.report.inserted > 0 {
                    // Delivered by Postgres only if, and when, the transaction commits.
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(NOTIFY_CHANNEL)
                        .bind(self.batch.profile.clone())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?
            }
        }
        if self.report.inserted > 0 {
            self.wake.bump();
        }
        Ok(self.report)
    }

    /// Discards the batch and every order pushed so far.
    pub async fn rollback(self) -> Result<()> {
        match self.tx {
            WriterTx::Sqlite(tx) => tx.rollback().await?,
            WriterTx::Postgres(tx, _) => tx.rollback().await?,
        }
        Ok(())
    }

    /// Writes what is buffered, so the report knows every duplicate, then rolls everything
    /// back: a dry run, or a file refused for its invalid rows.
    pub async fn abandon(mut self) -> Result<BatchInsertReport> {
        self.flush().await?;
        let report = std::mem::take(&mut self.report);
        self.rollback().await?;
        Ok(report)
    }

    /// Writes what is buffered and returns the report so far; the transaction stays open, so
    /// the caller can still decide to commit or roll back (conflicting duplicates are known
    /// only once written).
    pub async fn flush_report(&mut self) -> Result<&BatchInsertReport> {
        self.flush().await?;
        Ok(&self.report)
    }

    /// Commits when at least one order is new (`Ok`); when every row was a duplicate, rolls
    /// back instead, so no empty batch is left behind (`Err`, with the report).
    pub async fn commit_unless_empty(
        mut self,
    ) -> Result<std::result::Result<BatchInsertReport, BatchInsertReport>> {
        self.flush().await?;
        if self.report.inserted == 0 {
            return Ok(Err(self.abandon().await?));
        }
        Ok(Ok(self.commit().await?))
    }

    async fn flush(&mut self) -> Result<()> {
        let duplicates = match &mut self.tx {
            WriterTx::Sqlite(tx) => {
                if self.buffer.is_empty() {
                    return Ok(());
                }
                let chunk = std::mem::take(&mut self.buffer);
                let (inserted, owners) =
                    sqlite_insert(tx, &self.batch, &self.batch_id, &chunk).await?;
                self.report.inserted += inserted.len() as u64;
                for o in chunk.iter().filter(|o| inserted.contains(&(o.line as i64))) {
                    if let (Some(amount), Some(currency)) = (o.amount_minor, &o.currency) {
                        let t = self.totals.entry(currency.clone()).or_default();
                        t.0 += 1;
                        t.1 += amount;
                    }
                }
                let duplicates = if inserted.len() < chunk.len() {
                    sqlite_duplicates(&chunk, &inserted, &owners)?
                } else {
                    Vec::new()
                };
                self.buffer = chunk;
                self.buffer.clear();
                duplicates
            }
            WriterTx::Postgres(tx, stage) => {
                if stage.is_empty() {
                    return Ok(());
                }
                let moved = stage
                    .move_into_orders(tx, &self.batch_id, &self.batch.profile)
                    .await?;
                self.report.inserted += moved.inserted;
                for (currency, (n, sum)) in moved.totals {
                    let t = self.totals.entry(currency).or_default();
                    t.0 += n;
                    t.1 += sum;
                }
                moved
                    .duplicates
                    .into_iter()
                    .map(|d| Duplicate {
                        line: d.line as u64,
                        order_ref: d.order_ref,
                        owner_batch: d.owner_batch,
                        owner_line: d.owner_line,
                        conflicting: d.conflicting,
                    })
                    .collect()
            }
        };
        for duplicate in duplicates {
            self.record_duplicate(duplicate)?;
        }
        Ok(())
    }

    /// Adds the batch's new orders to its counters (`batch_counts`, `batch_totals`, migration
    /// 0400), in the batch's transaction. The writer counts its own inserts, once per batch:
    /// a trigger on INSERT cost Postgres 60% of its ingest time (BENCHMARKS.md); triggers count
    /// every later change of state.
    async fn write_counters(&mut self) -> Result<()> {
        // language=SQL
        const COUNTS: &str = "INSERT INTO batch_counts (batch_id, state, confirmed_by, slot, n) \
            VALUES ($1, 'queued', '', 0, $2) ON CONFLICT (batch_id, state, confirmed_by, slot) \
            DO UPDATE SET n = batch_counts.n + excluded.n";
        // language=SQL
        const TOTALS: &str = "INSERT INTO batch_totals (batch_id, currency, slot, n, total_minor) \
            VALUES ($1, $2, 0, $3, $4) ON CONFLICT (batch_id, currency, slot) \
            DO UPDATE SET n = batch_totals.n + excluded.n, \
            total_minor = batch_totals.total_minor + excluded.total_minor";
        if self.report.inserted == 0 {
            return Ok(());
        }
        let inserted = self.report.inserted as i64;
        let totals = std::mem::take(&mut self.totals);
        macro_rules! write {
            ($tx:expr) => {{
                sqlx::query(COUNTS)
                    .bind(&self.batch_id)
                    .bind(inserted)
                    .execute(&mut **$tx)
                    .await?;
                for (currency, (n, sum)) in &totals {
                    sqlx::query(TOTALS)
                        .bind(&self.batch_id)
                        .bind(currency)
                        .bind(n)
                        .bind(sum)
                        .execute(&mut **$tx)
                        .await?;
                }
            }};
        }
        match &mut self.tx {
            WriterTx::Sqlite(tx) => write!(tx),
            WriterTx::Postgres(tx, _) => write!(tx),
        }
        Ok(())
    }

    /// Counts one row that was not inserted, against the batch (or the earlier line of this
    /// file) holding its reference.
    fn record_duplicate(&mut self, duplicate: Duplicate) -> Result<()> {
        let batch_id = Uuid::parse_str(&duplicate.owner_batch).map_err(|e| corrupt("orders", e))?;
        let within_file = batch_id == self.report.batch_id;
        let duplicate_of = if within_file {
            self.report.duplicates_within_file += 1;
            DuplicateOf::EarlierLine(duplicate.owner_line as u64)
        } else {
            *self.report.duplicates_by_batch.entry(batch_id).or_default() += 1;
            DuplicateOf::Batch(batch_id)
        };
        self.report.duplicates += 1;
        let sample = DuplicateSample {
            line: duplicate.line,
            order_ref: duplicate.order_ref,
            duplicate_of,
        };
        // A repeat within the file is an error even with the same content: one file names each
        // order once, so a second row is a mistake (a pasted row, a wrong reference) that the
        // operator must see, not a re-upload to skip.
        if duplicate.conflicting || within_file {
            self.report.conflicting += 1;
            if self.report.conflicts.len() < BatchInsertReport::CONFLICT_LIMIT {
                self.report.conflicts.push(sample.clone());
            }
        }
        if self.report.samples.len() < BatchInsertReport::SAMPLE_LIMIT {
            self.report.samples.push(sample);
        }
        Ok(())
    }
}

/// The rows of `chunk` that were not inserted, each named by the order that holds its
/// reference (`owners`, found by one set-based lookup per chunk).
fn sqlite_duplicates(
    chunk: &[NewOrder],
    inserted: &HashSet<i64>,
    owners: &Owners,
) -> Result<Vec<Duplicate>> {
    let dups = chunk
        .iter()
        .filter(|o| !inserted.contains(&(o.line as i64)));
    let mut out = Vec::new();
    for order in dups {
        let (batch_id, line, payload) = owners.get(&order.order_ref).ok_or_else(|| {
            corrupt(
                "orders",
                format!("duplicate `{}` has no owner", order.order_ref),
            )
        })?;
        // The same content again is a harmless re-upload; other content under the same
        // reference is another order that would silently get no card. A pruned order's
        // content is gone (`cardbatch prune`): its reference alone makes the duplicate.
        let conflicting = payload != PRUNED
            && payload != order.payload.json()
            && serde_json::from_str::<serde_json::Value>(payload).ok()
                != Some(order.payload.value());
        out.push(Duplicate {
            line: order.line,
            order_ref: order.order_ref.clone(),
            owner_batch: batch_id.clone(),
            owner_line: *line,
            conflicting,
        });
    }
    Ok(out)
}

/// `INSERT ... SELECT ... FROM (VALUES (...), (...))` for `rows` rows, the batch's constants
/// taken from its `batches` row (bound last).
///
/// Every placeholder is an anonymous `?`: SQLite looks a named or numbered placeholder up by a
/// linear scan, and the driver asks for every parameter's name, which made a 3,000-parameter
/// statement quadratic (half of all ingest time went to `sqlite3_bind_parameter_name`).
fn sqlite_insert_sql(rows: usize) -> &'static str {
    static SQL: [OnceLock<String>; SQLITE_CHUNKS.len()] =
        [const { OnceLock::new() }; SQLITE_CHUNKS.len()];
    let slot = SQLITE_CHUNKS
        .iter()
        .position(|&n| n == rows)
        .expect("a known chunk size");
    SQL[slot].get_or_init(|| {
        let mut sql = String::from(
            "INSERT INTO orders (batch_id, profile, provider, state, attempts, next_attempt_at, \
             created_at, updated_at, order_ref, line, idempotency_key, payload, amount_minor, currency) \
             SELECT b.id, b.profile, b.provider, 'queued', 0, b.created_at, b.created_at, b.created_at, \
             v.column1, v.column2, v.column3, v.column4, v.column5, v.column6 FROM (VALUES ",
        );
        for row in 0..rows {
            let sep = if row == 0 { "" } else { ", " };
            write!(sql, "{sep}(?, ?, ?, ?, ?, ?)").expect("writing to a String");
        }
        // `WHERE` before `ON CONFLICT` resolves SQLite's INSERT ... SELECT upsert ambiguity.
        // A reference of a deleted batch (`retired_refs`) is a duplicate too.
        sql.push_str(
            ") AS v, batches AS b WHERE b.id = ? AND NOT EXISTS (SELECT 1 FROM retired_refs AS r \
             WHERE r.profile = b.profile AND r.order_ref = v.column1) \
             ON CONFLICT (profile, order_ref) DO NOTHING",
        );
        sql
    })
}

async fn sqlite_insert(
    tx: &mut Transaction<'static, Sqlite>,
    batch: &NewBatch,
    batch_id: &str,
    chunk: &[NewOrder],
) -> Result<(HashSet<i64>, Owners)> {
    let mut inserted = HashSet::with_capacity(chunk.len());
    let mut all_owners = Owners::new();
    let mut rest = chunk;
    while !rest.is_empty() {
        let n = *SQLITE_CHUNKS
            .iter()
            .find(|&&n| n <= rest.len())
            .expect("1 always fits");
        let (part, tail) = rest.split_at(n);
        rest = tail;
        let mut q = sqlx::query(sqlite_insert_sql(n));
        for o in part {
            q = q
                .bind(o.order_ref.as_str())
                .bind(o.line as i64)
                .bind(o.idempotency_key.as_str())
                .bind(o.payload.json())
                .bind(o.amount_minor)
                .bind(o.currency.as_deref());
        }
        q = q.bind(batch_id);
        let affected = q.execute(&mut **tx).await?.rows_affected();
        if affected as usize == part.len() {
            inserted.extend(part.iter().map(|o| o.line as i64));
            continue;
        }
        // Some rows were duplicates: the rows this batch now owns at their own line are new.
        // (Counting rows instead of `RETURNING` them keeps the common, duplicate-free path cheap.)
        let refs: Vec<&str> = part.iter().map(|o| o.order_ref.as_str()).collect();
        let owners = sqlite_owners(tx, &batch.profile, &refs).await?;
        inserted.extend(part.iter().filter_map(|o| {
            let (owner_batch, owner_line, _) = owners.get(&o.order_ref)?;
            (owner_batch == batch_id && *owner_line == o.line as i64).then_some(o.line as i64)
        }));
        all_owners.extend(owners);
    }
    Ok((inserted, all_owners))
}

/// The order holding each reference: (batch id, line, payload as stored; [`PRUNED`] for a
/// deleted batch's reference).
type Owners = HashMap<String, (String, i64, String)>;

/// The orders of `profile` holding any of `refs`, in one statement: the references travel as
/// one JSON array and are joined against the `(profile, order_ref)` unique index, rather than
/// looked up one statement per row (a re-upload of 3M rows took 20x its fresh ingest).
async fn sqlite_owners(
    tx: &mut Transaction<'static, Sqlite>,
    profile: &str,
    refs: &[&str],
) -> Result<Owners> {
    // language=SQLite
    const SQL: &str = "SELECT order_ref, batch_id, line, payload FROM orders \
        WHERE profile = ? AND order_ref IN (SELECT value FROM json_each(?)) \
        UNION ALL SELECT order_ref, batch_id, line, ? FROM retired_refs \
        WHERE profile = ? AND order_ref IN (SELECT value FROM json_each(?))";
    let refs = serde_json::to_string(refs).map_err(|e| corrupt("orders", e))?;
    let rows: Vec<(String, String, i64, String)> = sqlx::query_as(SQL)
        .bind(profile)
        .bind(refs.clone())
        .bind(PRUNED)
        .bind(profile)
        .bind(refs)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(r, b, l, p)| (r, (b, l, p)))
        .collect())
}
