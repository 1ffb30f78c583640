//! Issuing benchmark: cardbatch against the in-process sandbox over loopback, end to end: a CSV
//! through ingest, the worker runtime with the real UQPAY client (token manager included), the
//! provider lane, and the sandbox creating one card per order.
//!
//! ```text
//! # (a) no rate limit, no latency: end-to-end orders/s
//! cargo run --release --example bench_issue -- --db sqlite --orders 20000
//! cargo run --release --example bench_issue -- --db postgres --url postgres://postgres@127.0.0.1:5432/postgres --orders 20000
//! # (b) profile and sandbox both at 50 req/s for 60 s
//! cargo run --release --example bench_issue -- --orders 3000 --rate 50 --sandbox-rate 50
//! # (c) 200 ms provider latency, 100 req/s limit
//! cargo run --release --example bench_issue -- --orders 6000 --rate 100 --latency-ms 200 --concurrency 32
//! # (d) then confirm every order by lookup, no webhooks (the reconciler's throughput)
//! cargo run --release --example bench_issue -- --orders 100000 --confirm
//! ```
//!
//! "Achieved" is measured on the sandbox's side: cards created between the first and the last
//! creation, over that time (the sandbox's own clock), plus the end-to-end time from the start of
//! the workers until every order was recorded.

use anyhow::{Context, bail};
use cardbatch::app::App;
use cardbatch::config::{Config, Profile, ServerConfig, WorkerConfig};
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::ingest::{SubmitOptions, submit};
use cardbatch::providers::Credentials;
use cardbatch::reconcile::{LookupOptions, Reconciler};
use cardbatch::sandbox::config::{DEV_UQPAY_API_KEY, DEV_UQPAY_CLIENT_ID};
use cardbatch::sandbox::{FaultConfig, ProviderSettings, Sandbox, SandboxConfig};
use cardbatch::store::Store;
use clap::Parser;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

/// Issue N UQPAY orders through cardbatch against the in-process sandbox.
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
    /// Orders to issue.
    #[arg(long, default_value_t = 20_000)]
    orders: u64,
    /// The profile's rate limit, calls/s (default: effectively none).
    #[arg(long, default_value_t = 1_000_000.0)]
    rate: f64,
    /// The sandbox's rate limit, calls/s (default: none).
    #[arg(long)]
    sandbox_rate: Option<f64>,
    /// The sandbox's latency per call, ms.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Provider calls in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: u32,
    /// Orders claimed per round trip.
    #[arg(long, default_value_t = 256)]
    claim_batch: u32,
    /// Then confirm every order by lookup (no webhooks): the reconciler's passes until none is
    /// left `submitted`, reported as confirmations per second.
    #[arg(long)]
    confirm: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scratch = scratch::ScratchDb::create(&args.db, args.url.as_deref()).await?;
    let result = bench(&args, &scratch.url, scratch.dir()).await;
    scratch.remove().await?;
    result
}

async fn bench(args: &Args, url: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let kind = ProviderKind::Uqpay;
    let store = Store::connect(url).await?;
    store.migrate().await?;

    // 1. The sandbox on loopback, with the requested limit and latency.
    let faults = FaultConfig {
        latency_ms: args.latency_ms,
        rate_limit_per_sec: args.sandbox_rate,
        ..FaultConfig::default()
    };
    let settings = ProviderSettings {
        faults,
        ..ProviderSettings::default()
    };
    // Cards become active within milliseconds, so that a lookup finds them issued.
    let config = SandboxConfig {
        time_scale: 0.001,
        ..SandboxConfig::default()
    }
    .with_provider(kind, settings);
    let sandbox = Sandbox::start(config, tokio::net::TcpListener::bind("127.0.0.1:0").await?)?;
    let mut profile = Profile::sandbox(kind, &sandbox.addr().to_string());
    profile.rate_limit_per_sec = args.rate;
    profile.concurrency = args.concurrency;

    // 2. A CSV through the real ingest path.
    let path = dir.join("orders.csv");
    let mut csv = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(
        csv,
        "order_ref,cardholder_id,card_product_id,card_currency,card_limit"
    )?;
    for i in 0..args.orders {
        writeln!(
            csv,
            "bench-{i},25ea804d-7fd5-43d5-8792-0fc0214cdb2f,467e993f-317a-49fc-9ea0-bf49de7d1f76,USD,100.00"
        )?;
    }
    csv.into_inner()?.sync_all()?;
    let started = Instant::now();
    let report = submit(
        &store,
        kind.as_str(),
        &profile,
        &path,
        std::fs::File::open(&path)?,
        SubmitOptions::default(),
    )
    .await?;
    println!(
        "queued   {} orders in {:.2?}",
        report.insert.inserted,
        started.elapsed()
    );

    // 3. Issue them all.
    let config = Config {
        server: ServerConfig {
            public_url: Some("http://127.0.0.1:9".into()),
            ..ServerConfig::default()
        },
        worker: WorkerConfig {
            claim_batch: args.claim_batch,
            ..WorkerConfig::default()
        },
        profiles: BTreeMap::from([(kind.as_str().to_string(), profile)]),
        ..Config::without_profiles()
    };
    let app = App::with_store(&config, store.clone(), |_, _| {
        Ok(Credentials::from_pairs([
            ("client_id", DEV_UQPAY_CLIENT_ID),
            ("api_key", DEV_UQPAY_API_KEY),
        ]))
    })?;
    let started = Instant::now();
    let run = app.drain().await?;
    let elapsed = started.elapsed();

    // 4. Check and report.
    let counts = store.order_count_by_state().await?;
    let submitted = counts.get(&OrderState::Submitted).copied().unwrap_or(0);
    let ledger = sandbox.ledger().snapshot(Some(kind.as_str()));
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = ledger
        .cards
        .iter()
        .filter_map(|c| chrono::DateTime::parse_from_rfc3339(&c.created_at).ok())
        .collect();
    let span = match (times.iter().min(), times.iter().max()) {
        (Some(first), Some(last)) => (*last - *first).to_std().unwrap_or_default(),
        _ => std::time::Duration::ZERO,
    };
    let lane = app
        .clients()
        .get(kind.as_str())
        .context("the profile's client")?
        .lane()
        .stats();
    println!(
        "issued   {submitted} orders ({} cards, {} duplicate keys) in {elapsed:.2?}: {:.0} orders/s end to end",
        ledger.total_cards,
        ledger
            .duplicates
            .iter()
            .filter(|d| d.name == "idempotency_key")
            .count(),
        submitted as f64 / elapsed.as_secs_f64()
    );
    println!(
        "provider {:.1} cards/s between the first and the last card ({span:.2?}); {} requests, {} answered 429",
        (times.len().saturating_sub(1)) as f64 / span.as_secs_f64().max(1e-9),
        sandbox.stats().get(kind.as_str(), "requests"),
        sandbox.stats().get(kind.as_str(), "rate_limited"),
    );
    println!(
        "settings {} on {}, profile rate {}/s, sandbox rate {:?}/s, latency {} ms, concurrency {}, claim batch {}; lane ended at {:.1}/s; runtime completed {}",
        args.orders,
        args.db,
        args.rate,
        args.sandbox_rate,
        args.latency_ms,
        args.concurrency,
        args.claim_batch,
        lane.effective_rate,
        run.completed()
    );
    if submitted != args.orders {
        bail!(
            "expected {} submitted orders, found {counts:?}",
            args.orders
        );
    }
    if args.confirm {
        confirm_by_lookup(&store, &app).await?;
    }
    sandbox.shutdown().await;
    store.close().await;
    Ok(())
}

/// Runs reconciler passes (every order due at once) until no order is `submitted`.
async fn confirm_by_lookup(store: &Store, app: &App) -> anyhow::Result<()> {
    let options = LookupOptions {
        confirm_after: std::time::Duration::ZERO,
        interval: std::time::Duration::from_millis(10),
        max_backoff: std::time::Duration::from_millis(100),
        ..LookupOptions::default()
    };
    let reconciler = Reconciler::new(store.clone(), app.clients().clone(), options);
    let started = Instant::now();
    let mut confirmed = 0usize;
    let mut passes = 0u32;
    loop {
        let counts = store.order_count_by_state().await?;
        if counts.get(&OrderState::Submitted).copied().unwrap_or(0) == 0 {
            break;
        }
        let report = reconciler.pass(cardbatch::worker::system_now_ms()).await?;
        confirmed += report.issued;
        passes += 1;
        if report.examined == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    let elapsed = started.elapsed();
    println!(
        "confirm  {confirmed} orders by lookup in {elapsed:.2?} ({passes} passes): {:.0} confirmations/s",
        confirmed as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
