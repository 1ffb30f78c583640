//! API latency benchmark: fill a database with N orders in B batches, serve the HTTP API on
//! loopback, and time `GET /api/v1/batches` and pages of `GET /api/v1/batches/{id}/orders`
//! (keyset pages at random positions, with and without a state filter), one request at a time.
//! Prints p50, p99 and max per route.
//!
//! ```text
//! cargo run --release --example bench_api -- --db sqlite --orders 1000000
//! cargo run --release --example bench_api -- --db postgres --url postgres://postgres@127.0.0.1:5432/postgres --orders 1000000
//! ```

use anyhow::{Context, bail};
use cardbatch::config::Config;
use cardbatch::domain::Role;
use cardbatch::server::api::{ApiState, routes};
use cardbatch::store::Store;
use clap::Parser;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/fill.rs"]
mod fill;
#[path = "support/scratch.rs"]
mod scratch;

#[derive(Parser)]
struct Args {
    /// `sqlite` or `postgres`.
    #[arg(long, default_value = "sqlite")]
    db: String,
    /// Postgres server URL (a scratch database is created beside it).
    #[arg(long)]
    url: Option<String>,
    /// Orders in the database.
    #[arg(long, default_value_t = 1_000_000)]
    orders: u64,
    /// Batches they are spread over.
    #[arg(long, default_value_t = 10)]
    batches: u64,
    /// Requests timed per route.
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// Postgres: `VACUUM ANALYZE orders` after filling (what autovacuum reaches by itself a while
    /// after a large insert; before it, counts must visit the table, not only the index).
    #[arg(long)]
    vacuum: bool,
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

    // 1. The orders, in `batches` batches.
    let started = Instant::now();
    let per_batch = args.orders / args.batches;
    let ids = fill::fill_batches(&store, args.orders, args.batches, |_| "USD").await?;
    println!(
        "filled   {} orders in {} batches in {:.1?}",
        per_batch * args.batches,
        args.batches,
        started.elapsed()
    );
    if args.vacuum && url.starts_with("postgres") {
        let started = Instant::now();
        let pool = sqlx::PgPool::connect(url).await?;
        sqlx::raw_sql("VACUUM ANALYZE orders")
            .execute(&pool)
            .await?;
        pool.close().await;
        println!("vacuumed in {:.1?}", started.elapsed());
    }
    let token = cardbatch::control::tokens::create(&store, "bench", "bench", Role::Viewer, 0)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    // 2. The API on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = ApiState {
        store: store.clone(),
        config: Arc::new(Config::without_profiles()),
    };
    tokio::spawn(async move { axum::serve(listener, routes(state)).await });
    let client = reqwest::Client::new();

    // 3. The requests, one at a time.
    let get = |path: String| {
        let client = client.clone();
        let url = format!("{base}{path}");
        let token = token.clone();
        async move {
            let started = Instant::now();
            let response = client.get(&url).bearer_auth(token).send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            let took = started.elapsed();
            if !status.is_success() {
                bail!("{url}: {status}");
            }
            anyhow::Ok((took, body))
        }
    };
    // Warm-up: one of each.
    get("/api/v1/batches".into()).await?;
    let mut times = Vec::new();
    for _ in 0..args.requests {
        let (took, body) = get("/api/v1/batches".into()).await?;
        let list: serde_json::Value = serde_json::from_slice(&body)?;
        let total: u64 = list
            .as_array()
            .context("a list")?
            .iter()
            .map(|b| b["orders"].as_u64().unwrap_or(0))
            .sum();
        if total != per_batch * args.batches {
            bail!("GET /batches counted {total} orders");
        }
        times.push(took);
    }
    report("GET /api/v1/batches", &mut times);

    let mut times = Vec::new();
    let mut filtered = Vec::new();
    for i in 0..args.requests {
        let b = i % ids.len();
        let batch = ids[b];
        // A page at a pseudo-random position inside the batch (order ids are dense from 1, batch
        // after batch, so `after` can be any id of it).
        let after = b as u64 * per_batch + (i as u64 * 7_919 * 131) % (per_batch - 100);
        let (took, body) = get(format!(
            "/api/v1/batches/{batch}/orders?limit=100&after={after}"
        ))
        .await?;
        let page: serde_json::Value = serde_json::from_slice(&body)?;
        if page["orders"].as_array().map(Vec::len) != Some(100) {
            bail!("a page of {batch} after {after} is not full: {page}");
        }
        times.push(took);
        let (took, _) = get(format!(
            "/api/v1/batches/{batch}/orders?limit=100&state=queued&after={after}"
        ))
        .await?;
        filtered.push(took);
    }
    report(
        "GET /api/v1/batches/{id}/orders?limit=100&after=",
        &mut times,
    );
    report(
        "GET /api/v1/batches/{id}/orders?limit=100&state=queued&after=",
        &mut filtered,
    );
    store.close().await;
    Ok(())
}

fn report(route: &str, times: &mut [Duration]) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "{route}: n={} p50={:.1?} p99={:.1?} max={:.1?}",
        times.len(),
        at(0.50),
        at(0.99),
        times[times.len() - 1]
    );
}
