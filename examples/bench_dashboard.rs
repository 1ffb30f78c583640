//! Dashboard latency benchmark: every page of the dashboard, served by the real router on
//! loopback with a logged-in session, timed one request at a time over a database holding N
//! orders in B batches. Prints p50, p99 and max per page.
//!
//! Two steps, so that the (long, untimed) filling can run while the machine is shared and only
//! the timing needs it quiet:
//!
//! ```text
//! # 1. fill a database that is kept (SQLite file, or a Postgres database created beforehand)
//! cargo run --release --example bench_dashboard -- --url sqlite:///tmp/dash.db --fill 1000000
//! # 2. time the pages over it (as often as wanted)
//! cargo run --release --example bench_dashboard -- --url sqlite:///tmp/dash.db --time
//! ```
//!
//! The filled orders are spread over the states a batch really holds: of every 10 orders of a
//! batch, 6 `issued` (5 confirmed by webhook, 1 by lookup), 1 `submitted`, 1 `failed` with a
//! provider code and message, 1 `dead`, 1 `queued`; one order in 10,000 carries a mismatch.

#[path = "support/fill.rs"]
mod fill;

use anyhow::{Context, bail};
use cardbatch::config::Config;
use cardbatch::domain::Role;
use cardbatch::providers::ProfileClients;
use cardbatch::server::api::ApiState;
use cardbatch::store::Store;
use clap::Parser;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// The store (`sqlite://FILE`, created if missing, or `postgres://…/DB` of an existing
    /// database).
    #[arg(long)]
    url: String,
    /// Fill the store with this many orders first.
    #[arg(long)]
    fill: Option<u64>,
    /// Batches the orders are spread over.
    #[arg(long, default_value_t = 10)]
    batches: u64,
    /// Time the pages.
    #[arg(long)]
    time: bool,
    /// Requests timed per page.
    #[arg(long, default_value_t = 300)]
    requests: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let store = Store::connect(&args.url).await?;
    if let Some(orders) = args.fill {
        fill(&store, &args.url, orders, args.batches).await?;
    }
    if args.time {
        time(&store, args.requests).await?;
    }
    store.close().await;
    Ok(())
}

async fn fill(store: &Store, url: &str, orders: u64, batches: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let per_batch = orders / batches;
    fill::fill_batches(store, orders, batches, |b| {
        if b % 3 == 0 { "BRL" } else { "USD" }
    })
    .await?;
    println!(
        "filled   {} orders in {batches} batches in {:.1?}",
        per_batch * batches,
        started.elapsed()
    );
    // The states, by id (dense from 1): the counters' triggers follow each change.
    let started = Instant::now();
    let states = [
        "UPDATE orders SET state = 'issued', confirmed_by = 'webhook' WHERE id % 10 IN (0, 1, 2, 3, 4)",
        "UPDATE orders SET state = 'issued', confirmed_by = 'lookup' WHERE id % 10 = 5",
        "UPDATE orders SET state = 'submitted' WHERE id % 10 = 6",
        "UPDATE orders SET state = 'failed', last_error_code = 'CARD000123', \
         last_error_message = 'the card product is not enabled for this account' WHERE id % 10 = 7",
        "UPDATE orders SET state = 'dead', last_error_code = '500', \
         last_error_message = 'internal server error' WHERE id % 10 = 8",
        "UPDATE orders SET mismatch = 'the provider says failed', mismatch_at = 1 WHERE id % 10000 = 1",
    ];
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await?;
        for sql in states {
            sqlx::raw_sql(sql).execute(&pool).await?;
        }
        sqlx::raw_sql("VACUUM ANALYZE").execute(&pool).await?;
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await?;
        for sql in states {
            sqlx::raw_sql(sql).execute(&pool).await?;
        }
        sqlx::raw_sql("ANALYZE").execute(&pool).await?;
        pool.close().await;
    }
    println!("states   set in {:.1?}", started.elapsed());
    Ok(())
}

async fn time(store: &Store, requests: usize) -> anyhow::Result<()> {
    let batches = store.batch_list().await?;
    if batches.is_empty() {
        bail!("an empty store: --fill it first");
    }
    let orders: u64 = batches.iter().map(|b| b.total()).sum();
    let token = cardbatch::control::tokens::create(
        store,
        &format!("bench-{}", uuid::Uuid::new_v4().simple()),
        "bench",
        Role::Operator,
        0,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = ApiState {
        store: store.clone(),
        // The repository's `jobs/` examples are the schedules page's (run from the checkout).
        config: Arc::new(Config::builtin()),
    };
    let router = cardbatch::server::dashboard::routes(state, ProfileClients::new());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let cookie = format!("cardbatch_session={token}");
    let get = |path: String, needle: String| {
        let (client, cookie) = (client.clone(), cookie.clone());
        let url = format!("{base}{path}");
        async move {
            let started = Instant::now();
            let response = client.get(&url).header("cookie", cookie).send().await?;
            let status = response.status();
            let body = response.text().await?;
            let took = started.elapsed();
            if !status.is_success() || !body.contains(&needle) {
                bail!("{url}: {status}, without `{needle}`: {body}");
            }
            anyhow::Ok(took)
        }
    };
    println!(
        "timing   {requests} requests per page over {orders} orders in {} batches",
        batches.len()
    );
    let pages: Vec<(&str, Page)> = vec![
        (
            "GET / (batches)",
            Box::new(|_| ("/".into(), "Batches".into())),
        ),
        (
            "GET /batches/{id}",
            Box::new(|i| {
                let b = &batches[i % batches.len()];
                (format!("/batches/{}", b.id), "Reconciliation".into())
            }),
        ),
        (
            "GET /batches/{id}?state=failed",
            Box::new(|i| {
                let b = &batches[i % batches.len()];
                (
                    format!("/batches/{}?state=failed", b.id),
                    "CARD000123".into(),
                )
            }),
        ),
        (
            "GET /batches/{id}?q=<order_ref>",
            Box::new(|i| {
                let b = &batches[i % batches.len()];
                let n = b.total().max(1);
                let at = (i as u64 * 7_919 * 131) % n;
                let index: u64 = b
                    .source
                    .trim_start_matches("bench-")
                    .trim_end_matches(".csv")
                    .parse()
                    .unwrap_or(0);
                let r = format!("b{index}-{at}");
                (format!("/batches/{}?q={r}", b.id), format!("<td>{r}</td>"))
            }),
        ),
        (
            "GET /lanes",
            Box::new(|_| ("/lanes".into(), "Provider lanes".into())),
        ),
        (
            "GET /schedules",
            Box::new(|_| ("/schedules".into(), "Schedules".into())),
        ),
    ];
    for (name, page) in &pages {
        // Warm-up: one request.
        let (path, needle) = page(0);
        get(path, needle).await.context(*name)?;
        let mut times = Vec::with_capacity(requests);
        for i in 0..requests {
            let (path, needle) = page(i + 1);
            times.push(get(path, needle).await.context(*name)?);
        }
        report(name, &mut times);
    }
    Ok(())
}

/// The path of a page's `i`-th request, and a text its answer must hold.
type Page<'a> = Box<dyn Fn(usize) -> (String, String) + 'a>;

fn report(page: &str, times: &mut [Duration]) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "{page}: n={} p50={:.1?} p99={:.1?} max={:.1?}",
        times.len(),
        at(0.50),
        at(0.99),
        times[times.len() - 1]
    );
}
