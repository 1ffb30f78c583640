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

#[path = "support/scratch.rs"]
mod scratch;

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

    let scratch = scratch::ScratchDb::create(&args.db, None).await?;
    let store = Store::connect(&scratch.url).await?;
    store.migrate().await?;
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
    scratch.remove().await?;
    Ok(())
}

fn open(path: &PathBuf) -> anyhow::Result<BufReader<std::fs::File>> {
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    Ok(BufReader::with_capacity(1 << 20, file))
}
