//! The store at scale (issue 16): a store of many orders across a year of nightly batches in
//! several states, then the figures operators feel: a re-upload of a 1M-row file against a
//! fresh ingest of it, `batches` and `status` latency, a fresh 1M ingest into the big store
//! against an empty one, bytes per order, and a prune of about 1M orders.
//!
//! ```sh
//! cargo run --release --example gen_orders -- --provider uqpay --rows 1000000 -o /tmp/uq1m.csv
//! cargo run --release --example bench_scale -- --file /tmp/uq1m.csv --db sqlite --orders 3000000
//! cargo run --release --example bench_scale -- --file /tmp/uq1m.csv --orders 3000000 \
//!     --db postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! The big store is written by the database itself (`--generator sql`, the default;
//! `support/scale_store.rs`): one `INSERT ... SELECT` per night from a series joined to the CSV's
//! first rows as payload templates, every order already in its final state, and the night's
//! counters written from its orders. `--generator writer` writes it through the store's own
//! batch writer instead (one batch per night, new references and keys) and then settles it with
//! plain SQL. Either way every night but the last two is settled: 97% issued, 1% failed, 1%
//! rejected, 1% dead; the night before last is half submitted, the last one queued. Settled
//! orders are updated an hour after their night, so a prune with a cutoff of N nights ago takes
//! N nights' orders. The generator checks the counters against a full recount.
//!
//! A 20M store takes longer to build than a quiet machine should be held for, so it can be
//! built once and measured afterwards (the measuring run changes it: keep it for one run):
//!
//! ```sh
//! createdb -h 127.0.0.1 -U postgres big20m
//! bench_scale --file /tmp/uq1m.csv --orders 20000000 --generate-only \
//!     --store postgres://postgres@127.0.0.1:5432/big20m
//! bench_scale --file /tmp/uq1m.csv --store postgres://postgres@127.0.0.1:5432/big20m \
//!     --db postgres://postgres@127.0.0.1:5432/test
//! ```

use anyhow::Context;
use cardbatch::config::{DEFAULT_SANDBOX_ADDR, Profile};
use cardbatch::domain::{NewBatch, NewOrder, ProviderKind};
use cardbatch::ingest::{CsvOrders, SubmitOptions, SubmitOutcome, submit};
use cardbatch::store::{Engine, Store};
use clap::Parser;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Instant;
use uuid::Uuid;

#[path = "support/scale_store.rs"]
mod scale_store;
#[path = "support/scratch.rs"]
mod scratch;

#[derive(Parser)]
struct Args {
    /// The CSV file to ingest (fresh, then again); its provider is `--provider`'s.
    #[arg(long)]
    file: PathBuf,
    #[arg(long, default_value = "uqpay")]
    provider: ProviderKind,
    /// `sqlite` (a temporary file) or a Postgres URL (a fresh database is created beside it).
    #[arg(long, default_value = "sqlite")]
    db: String,
    /// Orders in the big store.
    #[arg(long, default_value_t = 3_000_000)]
    orders: u64,
    /// Orders per nightly batch.
    #[arg(long, default_value_t = 50_000)]
    batch: u64,
    /// Orders the prune should take (rounded to whole nights).
    #[arg(long, default_value_t = 1_000_000)]
    prune: u64,
    /// Skip the empty-store ingest (when it was measured already).
    #[arg(long)]
    skip_empty: bool,
    /// How the big store is written: `sql` (by the database, fast) or `writer` (the batch
    /// writer, then settled).
    #[arg(long, default_value = "sql")]
    generator: String,
    /// Keep the big store at this URL (a SQLite file, or an existing Postgres database): it is
    /// generated when it holds no order, and used as it is otherwise.
    #[arg(long)]
    store: Option<String>,
    /// Stop once the big store is generated (with `--store`).
    #[arg(long)]
    generate_only: bool,
}

/// The engine a `--db` / `--store` value names, without its credentials.
fn engine_of(db: &str) -> &'static str {
    if db.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    }
}

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let profile = Profile::sandbox(args.provider, DEFAULT_SANDBOX_ADDR);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match &args.store {
        // A kept store says its own size below; `--db` is only where the empty-store run goes.
        Some(url) => println!(
            "cores: {cores}; empty-store runs: {}; big store: {}",
            engine_of(&args.db),
            engine_of(url)
        ),
        None => println!(
            "cores: {cores}; db: {}; big store: {} orders in nights of {}",
            engine_of(&args.db),
            args.orders,
            args.batch
        ),
    }

    // 1. A fresh ingest of the file into an empty store.
    if !args.skip_empty && !args.generate_only {
        let scratch = scratch::ScratchDb::create(&args.db, None).await?;
        let store = Store::connect(&scratch.url).await?;
        let secs = ingest(&store, &args, &profile, SubmitOutcome::Queued).await?;
        println!("fresh ingest into an empty store: {secs:.2} s");
        store.close().await;
        scratch.remove().await?;
    }

    // 2. The big store.
    let scratch = match &args.store {
        Some(_) => None,
        None => Some(scratch::ScratchDb::create(&args.db, None).await?),
    };
    let url = match (&args.store, &scratch) {
        (Some(url), _) => url.clone(),
        (None, Some(scratch)) => scratch.url.clone(),
        (None, None) => unreachable!("a scratch database without --store"),
    };
    let store = Store::connect(&url).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut batches = nights(&url).await?;
    if batches.is_empty() {
        let started = Instant::now();
        batches = build(&store, &url, &args, &profile, now).await?;
        println!(
            "generated {} orders in {} batches with the {} generator in {:.1} s",
            args.orders,
            batches.len(),
            args.generator,
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        anyhow::ensure!(
            store.batch_list().await? == store.batch_list_recounted().await?,
            "the counters differ from a recount"
        );
        println!(
            "counters equal a full recount ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
    } else {
        println!("using the {} nights already in {url}", batches.len());
    }
    let orders = order_count(&url).await?;
    println!(
        "bytes per order: {:.0} ({orders} orders)",
        bytes(&url, store.engine()).await? as f64 / orders as f64
    );
    if args.generate_only {
        store.close().await;
        return Ok(());
    }

    // 3. `batches` and `status`, median of 5.
    let list = median(5, || async { store.batch_list().await.map(|_| ()) }).await?;
    let (old, _) = batches[0];
    let (newest, _) = batches[batches.len() - 1];
    let status_old = median(5, || async { store.batch_status(old).await.map(|_| ()) }).await?;
    let status_new = median(5, || async { store.batch_status(newest).await.map(|_| ()) }).await?;
    println!(
        "batches ({} batches): {:.1} ms; status of a settled night: {:.1} ms; of the queued night: {:.1} ms",
        batches.len(),
        list * 1e3,
        status_old * 1e3,
        status_new * 1e3
    );

    // 4. The file fresh into the big store, then again.
    let secs = ingest(&store, &args, &profile, SubmitOutcome::Queued).await?;
    println!("fresh ingest into the big store: {secs:.2} s");
    let secs = ingest(&store, &args, &profile, SubmitOutcome::NothingNew).await?;
    println!("re-upload of the same file (every row a duplicate): {secs:.2} s");

    // 5. Prune about `--prune` orders: the oldest nights, whose orders are settled an hour after.
    let nights_pruned = args.prune.div_ceil(args.batch) as usize;
    let cutoff = batches[nights_pruned.min(batches.len()) - 1].1 + HOUR_MS + 1;
    let started = Instant::now();
    let pruned = store.order_prune_personal(cutoff, now, false).await?;
    println!(
        "prune: {} orders ({} webhook events) in {:.2} s",
        pruned.orders,
        pruned.webhook_events,
        started.elapsed().as_secs_f64()
    );
    store.close().await;
    if let Some(scratch) = scratch {
        scratch.remove().await?;
    }
    Ok(())
}

/// Writes the big store's nights with `--generator`; returns each night's batch and time.
async fn build(
    store: &Store,
    url: &str,
    args: &Args,
    profile: &Profile,
    now: i64,
) -> anyhow::Result<Vec<(Uuid, i64)>> {
    let templates = templates(&args.file, args.provider, profile)?;
    let provider = args.provider.as_str();
    if args.generator == "sql" {
        return scale_store::generate(
            url,
            provider,
            provider,
            &templates,
            args.orders,
            args.batch,
            now,
        )
        .await;
    }
    anyhow::ensure!(args.generator == "writer", "--generator is sql or writer");
    let nights = args.orders.div_ceil(args.batch);
    let mut batches = Vec::new();
    for night in 0..nights {
        let created = now - (nights - night) as i64 * DAY_MS;
        let batch = NewBatch {
            id: Uuid::new_v4(),
            profile: provider.to_string(),
            provider: args.provider,
            source: format!("night-{night}.csv"),
            created_at_ms: created,
        };
        let mut writer = store.batch_writer(&batch).await?;
        let n = args.batch.min(args.orders - night * args.batch);
        for i in 0..n {
            let t = &templates[(i as usize) % templates.len()];
            writer
                .push(NewOrder {
                    line: i + 2,
                    order_ref: format!("n{night}-{i}"),
                    idempotency_key: Uuid::new_v4().simple().to_string(),
                    payload: t.payload.clone(),
                    amount_minor: t.amount_minor,
                    currency: t.currency.clone(),
                })
                .await?;
        }
        writer.commit().await?;
        batches.push((batch.id, created));
    }
    settle(url, &batches).await?;
    Ok(batches)
}

/// The generated nights already in the store at `url`, oldest first.
async fn nights(url: &str) -> anyhow::Result<Vec<(Uuid, i64)>> {
    // language=SQL
    const SQL: &str = "SELECT id, created_at FROM batches WHERE source LIKE 'night-%' \
        ORDER BY created_at";
    let rows: Vec<(String, i64)> = if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await?;
        let rows = sqlx::query_as(SQL).fetch_all(&pool).await?;
        pool.close().await;
        rows
    } else {
        let pool = sqlx::PgPool::connect(url).await?;
        let rows = sqlx::query_as(SQL).fetch_all(&pool).await?;
        pool.close().await;
        rows
    };
    rows.into_iter()
        .map(|(id, created)| Ok((Uuid::parse_str(&id)?, created)))
        .collect()
}

/// Orders in the store at `url`.
async fn order_count(url: &str) -> anyhow::Result<i64> {
    // language=SQL
    const SQL: &str = "SELECT COUNT(*) FROM orders";
    Ok(if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await?;
        let n = sqlx::query_scalar(SQL).fetch_one(&pool).await?;
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(url).await?;
        let n = sqlx::query_scalar(SQL).fetch_one(&pool).await?;
        pool.close().await;
        n
    })
}

/// Submits `--file` and checks the outcome; returns the seconds it took.
async fn ingest(
    store: &Store,
    args: &Args,
    profile: &Profile,
    expected: SubmitOutcome,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let report = submit(
        store,
        args.provider.as_str(),
        profile,
        &args.file,
        open(&args.file)?,
        SubmitOptions::default(),
    )
    .await?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.outcome == expected,
        "{:?}, expected {expected:?}",
        report.outcome
    );
    if expected == SubmitOutcome::NothingNew {
        anyhow::ensure!(
            report.insert.duplicates == report.rows,
            "not every row was a duplicate"
        );
    }
    Ok(secs)
}

/// The file's first 1,000 orders.
fn templates(
    path: &Path,
    provider: ProviderKind,
    profile: &Profile,
) -> anyhow::Result<Vec<NewOrder>> {
    CsvOrders::new(open(path)?, provider, &profile.defaults)?
        .take(1_000)
        .map(|r| r.map_err(|e| anyhow::anyhow!("line {}: {e:?}", e.line)))
        .collect()
}

/// Every night but the last two: 97% issued, 1% each failed, rejected and dead, updated an
/// hour after the night; the night before last: every other order submitted.
async fn settle(url: &str, batches: &[(Uuid, i64)]) -> anyhow::Result<()> {
    // language=SQL
    const SETTLE: &str = "UPDATE orders SET state = CASE id % 100 WHEN 0 THEN 'failed' \
        WHEN 1 THEN 'rejected' WHEN 2 THEN 'dead' ELSE 'issued' END, attempts = 1, \
        updated_at = $2, confirmed_at = $2, confirmed_by = 'webhook', \
        card_ref = 'card-' || CAST(id AS TEXT) WHERE batch_id = $1";
    // language=SQL
    const HALF: &str = "UPDATE orders SET state = 'submitted', attempts = 1, updated_at = $2 \
        WHERE batch_id = $1 AND id % 2 = 0";
    let settled = batches.len().saturating_sub(2);
    macro_rules! run {
        ($pool:expr) => {{
            for (i, (id, created)) in batches.iter().enumerate() {
                let sql = if i < settled {
                    SETTLE
                } else if i == settled {
                    HALF
                } else {
                    continue;
                };
                sqlx::query(sql)
                    .bind(id.to_string())
                    .bind(created + HOUR_MS)
                    .execute(&$pool)
                    .await?;
            }
        }};
    }
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await?;
        run!(pool);
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&pool)
            .await?;
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await?;
        run!(pool);
        sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
        pool.close().await;
    }
    Ok(())
}

/// The database's size in bytes.
async fn bytes(url: &str, engine: Engine) -> anyhow::Result<i64> {
    Ok(match engine {
        Engine::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await?;
            let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
                .fetch_one(&pool)
                .await?;
            let size: i64 = sqlx::query_scalar("PRAGMA page_size")
                .fetch_one(&pool)
                .await?;
            pool.close().await;
            pages * size
        }
        Engine::Postgres => {
            let pool = sqlx::PgPool::connect(url).await?;
            let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(&pool)
                .await?;
            pool.close().await;
            size
        }
    })
}

/// The median of `n` timings of `f`, in seconds.
async fn median<F, Fut>(n: usize, f: F) -> anyhow::Result<f64>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = cardbatch::store::Result<()>>,
{
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        f().await?;
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[n / 2])
}

fn open(path: &Path) -> anyhow::Result<BufReader<std::fs::File>> {
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    Ok(BufReader::with_capacity(1 << 20, file))
}
