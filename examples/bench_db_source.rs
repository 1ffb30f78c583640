//! The database source on a million rows: a scheduled run reads an upstream table of UQPAY
//! orders (every column as text, streamed), validates each row as a CSV row and writes them all
//! as one batch. Prints rows/s and the process's peak RSS (VmHWM), which stays flat because the
//! rows are streamed.
//!
//! ```sh
//! cargo run --release --example bench_db_source -- --db sqlite --rows 1000000
//! cargo run --release --example bench_db_source -- --db postgres://postgres@127.0.0.1:5432/test --rows 1000000
//! ```
//! The upstream table is made inside the same scratch database (SQLite file or Postgres
//! database) by SQL alone, so the client never holds the rows.

use cardbatch::config::Config;
use cardbatch::jobs::{load_one, run_slot};
use cardbatch::store::{RunRetake, Store};
use clap::Parser;
use std::time::Instant;

#[path = "support/scratch.rs"]
mod scratch;

#[derive(Parser)]
struct Args {
    /// `sqlite` (a fresh temporary file) or a Postgres URL (a fresh database is created on it).
    #[arg(long, default_value = "sqlite")]
    db: String,
    /// Rows in the upstream table.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Read with a cursor (`ORDER BY id` on the source).
    #[arg(long)]
    cursor: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!(
        "cores: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let scratch = scratch::ScratchDb::create(&args.db, None).await?;
    let store = Store::connect(&scratch.url).await?;
    store.migrate().await?;

    // The upstream table, made by the database itself.
    let started = Instant::now();
    let n = args.rows;
    let create = "CREATE TABLE card_requests (id BIGINT PRIMARY KEY, request_no TEXT NOT NULL, \
                  holder_id TEXT NOT NULL, limit_value NUMERIC(12, 2) NOT NULL)";
    if scratch.url.starts_with("sqlite:") {
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&scratch.url).await?;
        let fill = format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
             INSERT INTO card_requests SELECT i, 'BENCH-' || i, '25ea804d-7fd5-43d5-8792-0fc0214cdb2f', 100.5 FROM n"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("{create}; {fill}")))
            .execute(&mut conn)
            .await?;
    } else {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&scratch.url).await?;
        let fill = format!(
            "INSERT INTO card_requests SELECT i, 'BENCH-' || i, '25ea804d-7fd5-43d5-8792-0fc0214cdb2f', 100.5 \
             FROM generate_series(1, {n}) AS i"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "{create}; {fill}; ANALYZE card_requests"
        )))
        .execute(&mut conn)
        .await?;
    }
    println!(
        "upstream table: {n} rows made in {:.1} s; peak RSS so far {} MB",
        started.elapsed().as_secs_f64(),
        peak_rss_mb()
    );

    // The schedule.
    let mut config = Config::builtin();
    config.database_url = scratch.url.clone();
    config.jobs_dir = scratch.dir().join("jobs");
    std::fs::create_dir_all(&config.jobs_dir)?;
    let (select_id, cursor) = match args.cursor {
        true => ("id, ", "cursor = \"id\"\n"),
        false => ("", ""),
    };
    std::fs::write(
        config.jobs_dir.join("bench.toml"),
        format!(
            "cron = \"0 2 * * *\"\nprofile = \"uqpay\"\nmax_orders = {}\n[source]\ndatabase_url = \"{}\"\n\
             query = \"SELECT {select_id}request_no AS order_ref, holder_id AS cardholder_id, limit_value AS card_limit FROM card_requests\"\n{cursor}",
            n + 1,
            scratch.url
        ),
    )?;
    let schedule = load_one(&config, "bench")?;

    let started = Instant::now();
    let slot = chrono::Utc::now();
    let report = run_slot(
        &store,
        &config,
        &schedule,
        slot,
        "bench",
        RunRetake::Finished,
    )
    .await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "scheduled run ({:?}{}): {:?}, {} rows read, {} queued in {secs:.2} s = {:.0} rows/s; peak RSS {} MB",
        store.engine(),
        if args.cursor { ", cursor" } else { "" },
        report.outcome,
        report.rows,
        report.inserted,
        report.rows as f64 / secs,
        peak_rss_mb()
    );
    store.close().await;
    scratch.remove().await?;
    Ok(())
}

/// The process's peak resident set (VmHWM), in MB; 0 where /proc is not there.
fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
