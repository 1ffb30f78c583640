//! Pickup latency benchmark: how soon an idle worker starts on a new order queued by another
//! process, on a retry coming due and on a requeued (resumed) order. Prints p50 / p99 / max.
//!
//! ```text
//! cargo run --release --example bench_pickup -- --db sqlite --samples 200
//! cargo run --release --example bench_pickup -- --db postgres --url postgres://postgres@127.0.0.1:5432/postgres --samples 200
//! ```
//!
//! The probe is the one the flow test `pickup` runs (`tests/support/pickup.rs`).

use cardbatch::store::Store;
use clap::Parser;

#[path = "support/scratch.rs"]
mod scratch;

#[path = "../tests/support/pickup.rs"]
mod pickup;

#[derive(Parser)]
struct Args {
    /// `sqlite` or `postgres`.
    #[arg(long, default_value = "sqlite")]
    db: String,
    /// Postgres server URL (any database on it; a scratch one is created beside it).
    #[arg(long)]
    url: Option<String>,
    /// Rounds of the three pickups.
    #[arg(long, default_value_t = 200)]
    samples: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scratch = scratch::ScratchDb::create(&args.db, args.url.as_deref()).await?;
    Store::connect(&scratch.url).await?.close().await;
    let report = pickup::measure(&scratch.url, args.samples).await;
    println!(
        "pickup latency, {} ({} samples each):\n{report}",
        args.db, args.samples
    );
    scratch.remove().await?;
    Ok(())
}
