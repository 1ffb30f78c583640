//! Webhook ingest benchmark: N UQPAY-signed `card.create.succeeded` events, one per submitted
//! order, sent by a concurrent load generator over loopback to cardbatch's real server (verify
//! the HMAC-SHA512 signature, persist to the inbox, answer 200), with the event processor
//! running (match, move the order to `issued`). Prints events per second acknowledged and
//! matched, and the p50 / p99 / max request latency.
//!
//! ```text
//! cargo run --release --example bench_webhooks -- --db sqlite --events 20000 --concurrency 64
//! cargo run --release --example bench_webhooks -- --db postgres --url postgres://postgres@127.0.0.1:5432/postgres
//! ```
//!
//! On Postgres the benchmark creates a scratch database next to the one in `--url` and drops it
//! afterwards; on SQLite it uses a file in a temporary directory.

use anyhow::{Context, bail};
use cardbatch::app::{App, Services};
use cardbatch::config::{Config, Profile, ServerConfig};
use cardbatch::domain::{NewBatch, NewOrder, OrderState, ProviderKind, ProviderRefs};
use cardbatch::providers::Credentials;
use cardbatch::store::{Completion, Store};
use cardbatch::webhooks::sign_uqpay;
use clap::Parser;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SECRET: &str = "bench-webhook-secret";
const PROFILE: &str = "uqpay";

/// Send N signed UQPAY webhooks to the real server, report throughput and latency.
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
    /// Events to send (one per order).
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
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
    submitted_orders(&store, args.events).await?;

    // The real server (webhook routes, body limits) and the event processor, assembled by the
    // application's composition root for one UQPAY profile.
    let config = Config {
        server: ServerConfig {
            listen: "127.0.0.1:0".parse()?,
            public_url: None,
        },
        profiles: BTreeMap::from([(
            PROFILE.to_string(),
            Profile::sandbox(ProviderKind::Uqpay, "127.0.0.1:9"),
        )]),
        ..Config::without_profiles()
    };
    let app = App::with_store(&config, store.clone(), |_, _| {
        Ok(Credentials::from_pairs([
            ("client_id", "bench"),
            ("api_key", "bench"),
            ("webhook_secret", SECRET),
        ]))
    })?;
    let running = app.start(Services::SERVER).await?;
    let addr = running.server_addr().context("the server's address")?;
    let base = format!("http://{addr}/webhooks/uqpay");

    // The load generator: `concurrency` senders sharing one keep-alive client.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..args.concurrency {
        let (http, next, base, n) = (http.clone(), next.clone(), base.clone(), args.events);
        senders.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let body = event(i);
                let ts = chrono::Utc::now().timestamp_millis().to_string();
                let signature = sign_uqpay(SECRET.as_bytes(), body.as_bytes(), &ts);
                let sent = Instant::now();
                let status = http
                    .post(&base)
                    .header("content-type", "application/json")
                    .header("x-wk-timestamp", ts)
                    .header("x-wk-signature", signature)
                    .body(body)
                    .send()
                    .await?
                    .status();
                latencies.push(sent.elapsed());
                if status != 200 {
                    bail!("event {i} answered {status}");
                }
            }
        }));
    }
    let mut latencies = Vec::with_capacity(args.events);
    for s in senders {
        latencies.extend(s.await??);
    }
    let acked = started.elapsed();

    // Every order matched and issued.
    loop {
        let counts = store.order_count_by_state().await?;
        if counts.get(&OrderState::Issued).copied().unwrap_or(0) as usize == args.events {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("not every order was issued: {counts:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let matched = started.elapsed();
    running.stop().await?;

    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    let n = args.events as f64;
    println!(
        "{} UQPAY-signed events, {} in flight, {} on {} cores",
        args.events,
        args.concurrency,
        args.db,
        std::thread::available_parallelism().map_or(0, |c| c.get())
    );
    println!(
        "acknowledged (verified + persisted): {:.2?} -> {:.0} events/s",
        acked,
        n / acked.as_secs_f64()
    );
    println!(
        "matched (order issued):             {:.2?} -> {:.0} events/s",
        matched,
        n / matched.as_secs_f64()
    );
    println!(
        "latency p50 {:.2?}  p99 {:.2?}  max {:.2?}",
        pct(0.50),
        pct(0.99),
        latencies.last().copied().unwrap_or_default()
    );
    store.close().await;
    Ok(())
}

/// The UQPAY event for order `i`.
fn event(i: usize) -> String {
    serde_json::json!({
        "version": "V1.6.0",
        "event_name": "ISSUING",
        "event_type": "card.create.succeeded",
        "event_id": format!("ev-{i}"),
        "source_id": format!("co-{i}"),
        "data": { "card_id": format!("card-{i}"), "card_status": "ACTIVE",
                  "card_number": "40963608****1764", "card_available_balance": "1000" },
    })
    .to_string()
}

/// `n` UQPAY orders in `submitted`, order `i` holding refs `card-i` / `co-i`.
async fn submitted_orders(store: &Store, n: usize) -> anyhow::Result<()> {
    let batch = NewBatch {
        id: uuid::Uuid::new_v4(),
        profile: PROFILE.to_string(),
        provider: ProviderKind::Uqpay,
        source: "bench".to_string(),
        created_at_ms: chrono::Utc::now().timestamp_millis(),
    };
    let mut writer = store.batch_writer(&batch).await?;
    for i in 0..n {
        writer
            .push(NewOrder {
                line: i as u64 + 2,
                order_ref: i.to_string(),
                idempotency_key: format!("idem-{i}"),
                payload: serde_json::json!({}).into(),
                amount_minor: Some(1_000),
                currency: Some("USD".to_string()),
            })
            .await?;
    }
    writer.commit().await?;
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let claimed = store
            .order_claim_due(PROFILE, "bench", 1_000, Duration::from_secs(600), now)
            .await?;
        if claimed.is_empty() {
            return Ok(());
        }
        let completions: Vec<Completion> = claimed
            .iter()
            .map(|o| Completion {
                order_id: o.id,
                state: OrderState::Submitted,
                next_attempt_at: None,
                provider_refs: Some(
                    ProviderRefs::new()
                        .with(ProviderRefs::CARD_ID, format!("card-{}", o.order.order_ref))
                        .with(
                            ProviderRefs::CARD_ORDER_ID,
                            format!("co-{}", o.order.order_ref),
                        ),
                ),
                error: None,
                attempts: Vec::new(),
                nothing_sent: false,
            })
            .collect();
        store
            .order_complete_many("bench", &completions, now)
            .await?;
    }
}
