//! The database source: the rows of a query on an upstream system's database, named as the
//! provider's CSV columns, validated and written exactly as a CSV file's rows are.
//!
//! 1. Open the source read-only (Postgres `default_transaction_read_only`, SQLite `mode=ro`)
//!    with a statement timeout (Postgres `statement_timeout`; for SQLite, which has none, a
//!    deadline on reading the rows). Errors and logs show the URL without its password.
//! 2. Prepare `SELECT * FROM (query)` to learn its column names; they are the header that
//!    ingest's [`RowChecker`] resolves against the provider's schema (the cursor column may be
//!    extra). Every column is read as text (`CAST(.. AS TEXT)`), whatever its SQL type.
//! 3. With a cursor, only rows whose cursor value is above the last one recorded are read, in
//!    cursor order.
//! 4. Stream the rows (memory stays flat) into ingest's batch loop ([`ingest_rows`]): one
//!    transaction, committed only when every row is valid (or `skip_invalid`), dedupe by
//!    `order_ref`. More rows than `max_orders` fail the run with nothing ingested.

use super::schedule::DbSource;
use crate::cli::redact_url;
use crate::config::Profile;
use crate::domain::NewBatch;
use crate::ingest::{
    FileError, HANDOFF_ROWS, HandoffSender, Handoffs, Positions, Problem, RowChecker, RowError,
    RowSource, SubmitError, SubmitOptions, SubmitReport, ingest_rows,
};
use crate::store::Store;
use futures::StreamExt;
use futures::stream::BoxStream;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Column, ConnectOptions, Executor, Row, SqlSafeStr, Statement, TypeInfo};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// How long connecting to a source may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a database run read and wrote.
#[derive(Debug)]
pub struct DbRun {
    /// Ingest's report (`None` when the query returned no row: nothing to do).
    pub report: Option<SubmitReport>,
    /// Rows read.
    pub rows: u64,
    /// The highest cursor value read (text, kind), when the schedule has a cursor.
    pub cursor: Option<(String, String)>,
    /// Order refs (and cursor values) of invalid rows, one line each.
    pub problems: Vec<String>,
}

/// Why a database run could not even be tried, or was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Connecting, preparing or reading failed; the message never holds a password.
    #[error("{0}")]
    Source(String),
    /// The query's columns do not fit the provider's schema.
    #[error("the query's columns: {0}")]
    Columns(FileError),
    /// The source had more rows than `max_orders`; nothing was ingested.
    #[error("{0}")]
    TooMany(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

enum Conn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// The cursor as the query sees it.
struct CursorPlan {
    /// Its position among the selected columns (after the header's).
    pos: usize,
    /// Postgres: the column's type, for `CAST($1 AS type)`.
    pg_type: Option<String>,
}

/// Shared between the producer task and the caller.
#[derive(Default)]
struct Stats {
    rows: u64,
    cursor: Option<(String, String)>,
    too_many: Option<String>,
}

/// Runs `source` once for `schedule`, above `after` (the cursor recorded by the last run).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    store: &Store,
    schedule: &str,
    profile_name: &str,
    profile: &Profile,
    source: &DbSource,
    after: Option<(String, String)>,
    options: SubmitOptions,
    max_orders: Option<u64>,
) -> Result<DbRun, DbError> {
    // 1. Connect.
    let url = source.url.resolve().map_err(DbError::Source)?;
    let shown = redact_url(&url);
    let mut conn = connect(&url, source.statement_timeout).await.map_err(|e| {
        DbError::Source(format!(
            "cannot open the source database {shown}: {}",
            scrub(&e, &url)
        ))
    })?;

    // 2. The columns.
    let inner = format!("SELECT * FROM ({}) AS cardbatch_src", source.query);
    let columns: Vec<(String, String)> = match &mut conn {
        Conn::Postgres(c) => c
            .prepare(AssertSqlSafe(inner.clone()).into_sql_str())
            .await
            .map(|s| describe(s.columns())),
        Conn::Sqlite(c) => c
            .prepare(AssertSqlSafe(inner.clone()).into_sql_str())
            .await
            .map(|s| describe(s.columns())),
    }
    .map_err(|e| {
        DbError::Source(format!(
            "the query cannot run on {shown}: {}",
            scrub(&e.to_string(), &url)
        ))
    })?;
    let schema_columns = crate::ingest::columns(profile.provider);
    let cursor_col = match &source.cursor {
        Some(name) => Some(
            columns
                .iter()
                .position(|(c, _)| c == name)
                .or_else(|| {
                    columns
                        .iter()
                        .position(|(c, _)| c.eq_ignore_ascii_case(name))
                })
                .ok_or_else(|| {
                    DbError::Source(format!(
                        "the cursor column `{name}` is not a column of the query (its columns: {})",
                        columns
                            .iter()
                            .map(|(c, _)| c.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?,
        ),
        None => None,
    };
    // The header: the query's columns, less a cursor column the provider does not know.
    let header_cols: Vec<usize> = (0..columns.len())
        .filter(|&i| {
            Some(i) != cursor_col
                || schema_columns
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(columns[i].0.trim()))
        })
        .collect();
    let header = csv::StringRecord::from(
        header_cols
            .iter()
            .map(|&i| columns[i].0.as_str())
            .collect::<Vec<_>>(),
    );
    let checker =
        RowChecker::new(profile.provider, &header, &profile.defaults).map_err(DbError::Columns)?;
    let width = header.len();

    // 3. The query, every column as text.
    let mut select: Vec<String> = header_cols
        .iter()
        .map(|&i| format!("CAST(s.{} AS TEXT)", quote_ident(&columns[i].0)))
        .collect();
    let cursor = match cursor_col {
        Some(i) => {
            let ident = quote_ident(&columns[i].0);
            select.push(format!("CAST(s.{ident} AS TEXT)"));
            let pg_type = match &conn {
                Conn::Postgres(_) => Some(columns[i].1.clone()),
                Conn::Sqlite(_) => {
                    select.push(format!("typeof(s.{ident})"));
                    None
                }
            };
            Some((
                ident,
                CursorPlan {
                    pos: width,
                    pg_type,
                },
            ))
        }
        None => None,
    };
    let mut sql = format!("SELECT {} FROM ({}) AS s", select.join(", "), source.query);
    if let Some((ident, plan)) = &cursor {
        if after.is_some() {
            match &plan.pg_type {
                Some(ty) => {
                    if !ty
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ')
                    {
                        return Err(DbError::Source(format!(
                            "the cursor column has type {ty}, which cardbatch cannot compare; use an integer, text or timestamp column"
                        )));
                    }
                    sql.push_str(&format!(" WHERE s.{ident} > CAST($1 AS {ty})"));
                }
                None => sql.push_str(&format!(" WHERE s.{ident} > $1")),
            }
        }
        sql.push_str(&format!(" ORDER BY s.{ident}"));
    }

    // 4. Stream into ingest.
    let stats = Arc::new(Mutex::new(Stats::default()));
    let (tx, handoffs) = Handoffs::channel();
    let producer = {
        let stats = stats.clone();
        let url = url.clone();
        let timeout = source.statement_timeout;
        let cursor_pos = cursor
            .as_ref()
            .map(|(_, p)| (p.pos, p.pg_type.as_deref().map(pg_kind)));
        tokio::spawn(async move {
            produce(
                conn, sql, after, cursor_pos, checker, width, max_orders, timeout, tx, stats, url,
            )
            .await
        })
    };
    let batch = NewBatch {
        id: Uuid::new_v4(),
        profile: profile_name.to_string(),
        provider: profile.provider,
        source: format!("schedule:{schedule}"),
        created_at_ms: chrono::Utc::now().timestamp_millis(),
    };
    let label = format!("schedule {schedule}");
    let rows = RowSource {
        handoffs,
        reader: producer,
        rejects: None,
        positions: Positions::QUERY_ROWS,
    };
    let actor = format!("schedule:{schedule}");
    let result = ingest_rows(
        store,
        profile,
        &actor,
        batch,
        Path::new(&label),
        rows,
        options,
    )
    .await;
    let stats = std::mem::take(&mut *stats.lock().expect("stats lock"));
    if let Some(message) = stats.too_many {
        return Err(DbError::TooMany(message));
    }
    let cursor_of_names =
        |e: &RowError| describe_row_error(e, &header_cols, cursor.is_some(), &header);
    match result {
        Ok(report) => {
            let problems = report.errors.iter().map(cursor_of_names).collect();
            Ok(DbRun {
                rows: report.rows,
                cursor: stats.cursor,
                problems,
                report: Some(report),
            })
        }
        Err(SubmitError::File {
            source: FileError::NoOrders,
            ..
        }) => Ok(DbRun {
            report: None,
            rows: 0,
            cursor: None,
            problems: Vec::new(),
        }),
        Err(SubmitError::Unreadable { source, .. }) => Err(DbError::Source(source.reason)),
        Err(SubmitError::Store(e)) => Err(DbError::Store(e)),
        Err(other) => Err(DbError::Source(other.to_string())),
    }
}

/// The name and type of each column.
fn describe<C: Column>(columns: &[C]) -> Vec<(String, String)> {
    columns
        .iter()
        .map(|c| (c.name().to_string(), c.type_info().name().to_string()))
        .collect()
}

/// `name` as a quoted SQL identifier (both engines).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// An error text with the URL's password taken out, should a driver ever repeat the URL.
fn scrub(text: &str, url: &str) -> String {
    text.replace(url, &redact_url(url))
}

async fn connect(url: &str, statement_timeout: Duration) -> Result<Conn, String> {
    let connecting = async {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| e.to_string())?
                .read_only(true)
                .create_if_missing(false)
                .busy_timeout(Duration::from_secs(30));
            options
                .connect()
                .await
                .map(Conn::Sqlite)
                .map_err(|e| e.to_string())
        } else {
            let timeout_ms = statement_timeout.as_millis().to_string();
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| e.to_string())?
                .application_name("cardbatch-schedule")
                .options([
                    ("default_transaction_read_only", "on"),
                    ("statement_timeout", timeout_ms.as_str()),
                ]);
            options
                .connect()
                .await
                .map(Conn::Postgres)
                .map_err(|e| e.to_string())
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()))?
}

/// One row as read: the header's cells, then the cursor's text and kind.
struct RawRow {
    cells: Vec<Option<String>>,
    cursor: Option<(Option<String>, String)>,
}

#[allow(clippy::too_many_arguments)]
async fn produce(
    mut conn: Conn,
    sql: String,
    after: Option<(String, String)>,
    cursor_pos: Option<(usize, Option<String>)>,
    mut checker: RowChecker,
    width: usize,
    max_orders: Option<u64>,
    timeout: Duration,
    tx: HandoffSender,
    stats: Arc<Mutex<Stats>>,
    url: String,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut rows: BoxStream<'_, Result<RawRow, sqlx::Error>> = match &mut conn {
        Conn::Postgres(c) => {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            if let Some((value, _)) = &after {
                q = q.bind(value.clone());
            }
            q.fetch(c)
                .map(move |r| {
                    r.and_then(|row| {
                        let cells = (0..width)
                            .map(|i| row.try_get::<Option<String>, _>(i))
                            .collect::<Result<Vec<_>, _>>()?;
                        let cursor = match &cursor_pos {
                            Some((pos, kind)) => Some((
                                row.try_get::<Option<String>, _>(*pos)?,
                                kind.clone().unwrap_or_else(|| "text".to_string()),
                            )),
                            None => None,
                        };
                        Ok(RawRow { cells, cursor })
                    })
                })
                .boxed()
        }
        Conn::Sqlite(c) => {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            if let Some((value, kind)) = &after {
                q = match kind.as_str() {
                    "integer" => match value.parse::<i64>() {
                        Ok(v) => q.bind(v),
                        Err(_) => q.bind(value.clone()),
                    },
                    "real" => match value.parse::<f64>() {
                        Ok(v) => q.bind(v),
                        Err(_) => q.bind(value.clone()),
                    },
                    _ => q.bind(value.clone()),
                };
            }
            q.fetch(c)
                .map(move |r| {
                    r.and_then(|row| {
                        let cells = (0..width)
                            .map(|i| row.try_get::<Option<String>, _>(i))
                            .collect::<Result<Vec<_>, _>>()?;
                        let cursor = match &cursor_pos {
                            Some((pos, _)) => Some((
                                row.try_get::<Option<String>, _>(*pos)?,
                                row.try_get::<String, _>(*pos + 1)?,
                            )),
                            None => None,
                        };
                        Ok(RawRow { cells, cursor })
                    })
                })
                .boxed()
        }
    };
    let mut chunk = Vec::with_capacity(HANDOFF_ROWS);
    let mut n: u64 = 0;
    let mut highest: Option<(String, String)> = None;
    let fatal = |line: u64, reason: String| {
        RowError::new(
            line,
            vec![Problem {
                column: None,
                reason,
            }],
            csv::StringRecord::new(),
            true,
        )
    };
    loop {
        let next = match tokio::time::timeout_at(deadline, rows.next()).await {
            Err(_) => Some(Err(format!(
                "the query ran longer than its statement timeout ({} s, source.statement_timeout_secs)",
                timeout.as_secs()
            ))),
            Ok(None) => None,
            Ok(Some(Err(e))) => Some(Err(format!(
                "reading the query's rows failed: {}",
                scrub(&e.to_string(), &url)
            ))),
            Ok(Some(Ok(raw))) => Some(Ok(raw)),
        };
        let raw = match next {
            None => break,
            Some(Err(reason)) => {
                chunk.push(Err(fatal(n + 1, reason)));
                break;
            }
            Some(Ok(raw)) => raw,
        };
        n += 1;
        if let Some(max) = max_orders
            && n > max
        {
            let message =
                format!("the source has more than max_orders ({max}) rows; nothing was ingested");
            stats.lock().expect("stats lock").too_many = Some(message.clone());
            chunk.push(Err(fatal(n, message)));
            break;
        }
        if let Some((Some(value), kind)) = &raw.cursor {
            highest = Some((value.clone(), kind.clone()));
        }
        let item = checker.check(&raw.cells, width, n).map_err(|problems| {
            let mut record: csv::StringRecord = raw
                .cells
                .iter()
                .map(|c| c.as_deref().unwrap_or(""))
                .collect();
            if let Some((value, _)) = &raw.cursor {
                record.push_field(value.as_deref().unwrap_or(""));
            }
            RowError::new(n, problems, record, false)
        });
        chunk.push(item);
        if chunk.len() == HANDOFF_ROWS {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(HANDOFF_ROWS));
            if tx.send(full).await.is_err() {
                return;
            }
        }
    }
    drop(rows);
    {
        let mut stats = stats.lock().expect("stats lock");
        stats.rows = n;
        stats.cursor = highest;
    }
    if !chunk.is_empty() {
        let _ = tx.send(chunk).await;
    }
    match conn {
        Conn::Postgres(c) => drop(c),
        Conn::Sqlite(c) => drop(c),
    }
}

/// How a Postgres cursor column compares, for the record (Postgres itself compares with the
/// column's own type).
fn pg_kind(type_name: &str) -> String {
    match type_name {
        "INT2" | "INT4" | "INT8" => "integer",
        "FLOAT4" | "FLOAT8" | "NUMERIC" => "real",
        _ => "text",
    }
    .to_string()
}

/// An invalid row, named by its `order_ref` and cursor value.
fn describe_row_error(
    e: &RowError,
    header_cols: &[usize],
    has_cursor: bool,
    header: &csv::StringRecord,
) -> String {
    let order_ref = header
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case("order_ref"))
        .and_then(|i| e.record.get(i))
        .filter(|r| !r.trim().is_empty());
    let cursor = has_cursor
        .then(|| e.record.get(header_cols.len()))
        .flatten();
    let mut out = format!("row {}", e.line);
    if let Some(r) = order_ref {
        out.push_str(&format!(", order_ref {}", r.trim()));
    }
    if let Some(c) = cursor {
        out.push_str(&format!(" (cursor {c})"));
    }
    out.push_str(&format!(": {}", e.reason));
    out
}
