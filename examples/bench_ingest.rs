//! Ingest throughput: parse + validate a CSV, then parse + validate + write it as one batch.
//!
//! ```sh
//! cargo run --release --example gen_orders -- --provider uqpay --rows 1000000 -o /tmp/orders.csv
//! cargo run --release --example bench_ingest -- --file /tmp/orders.csv --provider uqpay --db sqlite
//! cargo run --release --example bench_ingest -- --file /tmp/orders.csv --provider uqpay \
//!     --db postgres://postgres@127.0.0.1:5432/test
//! ```
//! Peak memory is best read from the real command:
//! `/usr/bin/time -v cardbatch --database-url sqlite:///tmp/b.db submit /tmp/orders.csv --provider uqpay`.

use anyhow::Context;
use cardbatch::config::{DEFAULT_SANDBOX_ADDR, Profile};
use cardbatch::domain::ProviderKind;
use cardbatch::ingest::{CsvOrders, SubmitOptions, submit};
use cardbatch::store::Store;
use clap::Parser;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// The CSV file to ingest.
    #[arg(long)]
    file: PathBuf,
    /// Provider whose rules validate the file (its built-in sandbox profile is used).
    #[arg(long)]
    provider: ProviderKind,
    /// `sqlite` (a fresh temporary file) or a Postgres URL (a fresh database is created on it).
    #[arg(long, default_value = "sqlite")]
    db: String,
    /// Only parse and validate.
    #[arg(long)]
    parse_only: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let profile = Profile::sandbox(args.provider, DEFAULT_SANDBOX_ADDR);
    println!(
        "cores: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    let started = Instant::now();
    let reader = CsvOrders::new(open(&args.file)?, args.provider, &profile.defaults)?;
    let (mut ok, mut bad) = (0u64, 0u64);
    for row in reader {
        match row {
            Ok(_) => ok += 1,
            Err(_) => bad += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "parse+validate: {ok} valid, {bad} invalid rows in {secs:.2} s = {:.0} rows/s",
        (ok + bad) as f64 / secs
    );
    if args.parse_only {
        return Ok(());
    }

    let (store, scratch) = fresh_store(&args.db).await?;
    let started = Instant::now();
    let report = submit(
        &store,
        args.provider.as_str(),
        &profile,
        &args.file,
        open(&args.file)?,
        SubmitOptions::default(),
    )
    .await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "submit ({:?}): {} orders queued in {secs:.2} s = {:.0} rows/s",
        store.engine(),
        report.insert.inserted,
        report.rows as f64 / secs
    );
    store.close().await;
    if let Scratch::Postgres(name) = scratch {
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&args.db).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut admin)
        .await?;
    }
    Ok(())
}

/// What to clean up after the run.
enum Scratch {
    /// A temporary directory holding the SQLite file (removed on drop).
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    /// A Postgres database created for the run.
    Postgres(String),
}

fn open(path: &PathBuf) -> anyhow::Result<BufReader<std::fs::File>> {
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    Ok(BufReader::with_capacity(1 << 20, file))
}

/// A fresh database and what to clean up afterwards.
async fn fresh_store(db: &str) -> anyhow::Result<(Store, Scratch)> {
    if db == "sqlite" {
        let dir = tempfile::tempdir()?;
        let store = Store::connect(&format!(
            "sqlite://{}",
            dir.path().join("bench.db").display()
        ))
        .await?;
        store.migrate().await?;
        return Ok((store, Scratch::Sqlite(dir)));
    }
    let name = format!("cardbatch_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(db).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    let base = db
        .rsplit_once('/')
        .map(|(b, _)| b)
        .context("a Postgres URL with a database name")?;
    let store = Store::connect(&format!("{base}/{name}")).await?;
    store.migrate().await?;
    Ok((store, Scratch::Postgres(name)))
}
