//! Drain benchmark: queue N orders, drain them through the apalis workers with a no-op handler,
//! print orders per second.
//!
//! ```text
//! cargo run --release --example bench_drain -- --db sqlite --orders 100000
//! cargo run --release --example bench_drain -- --db postgres --url postgres://postgres@127.0.0.1:5432/postgres --orders 100000
//! ```
//!
//! On Postgres the benchmark creates a scratch database next to the one in `--url` and drops it
//! afterwards; on SQLite it uses a file in a temporary directory.

use anyhow::bail;
use cardbatch::config::{Profile, WorkerConfig};
use cardbatch::domain::{NewBatch, NewOrder, OrderState, ProviderKind};
use cardbatch::store::Store;
use cardbatch::worker::{Outcome, Runtime, handler_fn, system_now_ms};
use clap::Parser;
use std::collections::BTreeMap;
use std::time::Instant;

/// Queue N orders, drain them with a no-op handler, report throughput.
#[path = "support/scratch.rs"]
mod scratch;

#[derive(Parser)]
struct Args {
    /// `sqlite` or `postgres`.
    #[arg(long, default_value = "sqlite")]
    db: String,
    /// Postgres server URL (any database on it; a scratch one is created beside it).
    #[arg(long)]
    url: Option<String>,
    /// How many orders to queue and drain.
    #[arg(long, default_value_t = 100_000)]
    orders: u64,
    /// Handler calls in flight at once (the no-op handler finishes at once, so this mostly sets
    /// the claim size).
    #[arg(long, default_value_t = 256)]
    concurrency: u32,
    /// Orders claimed per round trip.
    #[arg(long, default_value_t = 256)]
    claim_batch: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scratch = scratch::ScratchDb::create(&args.db, args.url.as_deref()).await?;
    let result = bench(&args, &scratch.url).await;
    scratch.remove().await?;
    result
}

async fn bench(args: &Args, url: &str) -> anyhow::Result<()> {
    let store = Store::connect(url).await?;
    let profile_name = "bench";

    // 1. Queue the orders in one batch.
    let batch = NewBatch {
        id: uuid::Uuid::new_v4(),
        profile: profile_name.to_string(),
        provider: ProviderKind::Uqpay,
        source: "bench".to_string(),
        created_at_ms: system_now_ms(),
    };
    let started = Instant::now();
    let mut writer = store.batch_writer(&batch).await?;
    for i in 0..args.orders {
        writer
            .push(NewOrder {
                line: i + 2,
                order_ref: format!("bench-{i}"),
                idempotency_key: format!("idem-bench-{i}"),
                payload: serde_json::json!({ "card_holder": "Bench Holder", "email": "bench@example.com" }).into(),
                amount_minor: Some(10_000),
                currency: Some("USD".to_string()),
            })
            .await?;
    }
    let report = writer.commit().await?;
    let ingest = started.elapsed();
    println!(
        "queued   {} orders in {:.2?} ({:.0} rows/s)",
        report.inserted,
        ingest,
        report.inserted as f64 / ingest.as_secs_f64()
    );

    // 2. Drain them through the apalis lane with a handler that accepts at once.
    let mut profile = Profile::sandbox(ProviderKind::Uqpay, "127.0.0.1:9");
    profile.concurrency = args.concurrency;
    let config = WorkerConfig {
        claim_batch: args.claim_batch,
        ..WorkerConfig::default()
    };
    let handler = handler_fn(|_order| async {
        Outcome::Submitted {
            refs: Default::default(),
        }
        .into()
    });
    let started = Instant::now();
    let run = Runtime::new(
        store.clone(),
        BTreeMap::from([(profile_name.to_string(), profile)]),
        handler,
        config,
    )
    .drain_until_idle()
    .await?;
    let drain = started.elapsed();

    // 3. Check that every order was recorded.
    let counts = store.order_count_by_state().await?;
    let submitted = counts.get(&OrderState::Submitted).copied().unwrap_or(0);
    if submitted != args.orders || run.completed() != args.orders {
        bail!(
            "expected {} submitted orders, found {counts:?}",
            args.orders
        );
    }
    println!(
        "drained  {} orders in {:.2?} ({:.0} orders/s) on {} with concurrency {}, claim batch {}",
        submitted,
        drain,
        submitted as f64 / drain.as_secs_f64(),
        args.db,
        args.concurrency,
        args.claim_batch
    );
    store.close().await;
    Ok(())
}
