//! Shared test helpers: a fresh database per test (a SQLite tempfile, or a new Postgres database
//! when `CARDBATCH_TEST_PG_URL` is set), order builders, and waiting on a condition.
//!
//! Each scenario is written once as `async fn scenario(db: TestDb)` and run against both engines
//! with [`on_both_engines!`] (River's conformance-suite idea).
#![allow(dead_code)]

use cardbatch::config::Profile;
use cardbatch::domain::{NewBatch, NewOrder, ProviderKind};
use cardbatch::store::{BatchInsertReport, Store};
use std::future::Future;
use std::time::Duration;
use uuid::Uuid;

/// The environment variable naming the Postgres server tests may create databases on.
pub const PG_URL_VAR: &str = "CARDBATCH_TEST_PG_URL";

/// A database of its own for one test, dropped (Postgres) or deleted (SQLite) afterwards.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_cleanup: Option<(String, String)>,
}

impl TestDb {
    /// A new SQLite file in a temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("cardbatch.db").display());
        TestDb {
            url,
            _dir: Some(dir),
            pg_cleanup: None,
        }
    }

    /// A new, empty Postgres database, or `None` (after printing why) when
    /// `CARDBATCH_TEST_PG_URL` is not set.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var(PG_URL_VAR) else {
            println!("skipped: {PG_URL_VAR} not set");
            // Once per test binary, past the harness's output capture, so that a plain
            // `cargo test` says so too.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "note: the Postgres variants of these tests were skipped: {PG_URL_VAR} is not \
                     set (.ci/run sets it to the local server)"
                );
            });
            return None;
        };
        let name = format!("cardbatch_test_{}", Uuid::new_v4().simple());
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .expect("connect to CARDBATCH_TEST_PG_URL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .expect("a URL with a database name");
        Some(TestDb {
            url: format!("{base}/{name}"),
            _dir: None,
            pg_cleanup: Some((admin_url, name)),
        })
    }

    /// Opens (and migrates) a store on this database. Call again to simulate a restart.
    pub async fn store(&self) -> Store {
        Store::connect(&self.url).await.expect("connect the store")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.pg_cleanup.take() else {
            return;
        };
        // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                    .await
                    .ok()?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .ok()
            })
        })
        .join();
    }
}

/// Runs each named `async fn(TestDb)` scenario as a test on SQLite and on Postgres.
#[macro_export]
macro_rules! on_both_engines {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::common::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(db) = $crate::common::TestDb::postgres().await else { return };
                    super::$scenario(db).await;
                }
            )*
        }
    };
}

/// A batch of `profile` (a UQPAY profile) created "now".
pub fn new_batch(profile: &str) -> NewBatch {
    NewBatch {
        id: Uuid::new_v4(),
        profile: profile.to_string(),
        provider: ProviderKind::Uqpay,
        source: "orders.csv".to_string(),
        created_at_ms: 1_000,
    }
}

/// The order on physical line `line` with reference `order_ref`.
pub fn order(line: u64, order_ref: &str) -> NewOrder {
    NewOrder {
        line,
        order_ref: order_ref.to_string(),
        idempotency_key: format!("idem-{order_ref}"),
        payload: serde_json::json!({ "card_holder": format!("holder {order_ref}"), "line": line })
            .into(),
        amount_minor: Some(1_250),
        currency: Some("USD".to_string()),
    }
}

/// `n` orders with references `{prefix}-0..n`, on lines 2..n+2 (line 1 is the header).
pub fn orders(prefix: &str, n: u64) -> Vec<NewOrder> {
    (0..n)
        .map(|i| order(i + 2, &format!("{prefix}-{i}")))
        .collect()
}

/// Writes `orders` as one committed batch of `profile`.
pub async fn submit(store: &Store, profile: &str, orders: Vec<NewOrder>) -> BatchInsertReport {
    let mut writer = store
        .batch_writer(&new_batch(profile))
        .await
        .expect("open a batch");
    for o in orders {
        writer.push(o).await.expect("push an order");
    }
    writer.commit().await.expect("commit the batch")
}

/// A UQPAY sandbox profile with the given knobs.
pub fn profile(
    concurrency: u32,
    max_attempts: u32,
    backoff_base_ms: u64,
    backoff_cap_ms: u64,
) -> Profile {
    let mut p = Profile::sandbox(ProviderKind::Uqpay, "127.0.0.1:9");
    p.concurrency = concurrency;
    p.max_attempts = max_attempts;
    p.backoff_base_ms = backoff_base_ms;
    p.backoff_cap_ms = backoff_cap_ms;
    p
}

/// Polls `check` until it returns true; panics after a generous `timeout`. For conditions that
/// have no notification to wait on (a row changing in another component's transaction).
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
