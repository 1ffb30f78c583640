//! A database of its own for each test: a SQLite tempfile, or a new Postgres database when
//! `CARDBATCH_TEST_PG_URL` is set.
//!
//! Each scenario is written once as `async fn scenario(db: TestDb)` and run against both engines
//! with [`on_both_engines!`] (River's conformance-suite idea). Every test binary includes this
//! file through its `support` module, which re-exports [`TestDb`] for the macro.

use cardbatch::store::Store;
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

    /// Runs `sql` (one or more statements, no parameters) on this database, outside any store:
    /// what a test arranges straight in the tables, or another program would write.
    #[allow(dead_code)] // Not every test program arranges rows with SQL.
    pub async fn exec(&self, sql: &str) {
        if self.url.starts_with("sqlite:") {
            exec_on::<sqlx::SqliteConnection>(&self.url, sql).await
        } else {
            exec_on::<sqlx::PgConnection>(&self.url, sql).await
        }
    }
}

/// [`TestDb::exec`] on a connection of either engine.
#[allow(dead_code)]
async fn exec_on<C>(url: &str, sql: &str)
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
{
    let mut conn = C::connect(url).await.expect("connect to the test database");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .expect("run SQL");
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

/// Runs each named `async fn(TestDb)` scenario as a test on SQLite and on Postgres, in modules
/// `sqlite` and `postgres` of the calling module.
macro_rules! on_both_engines {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::support::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(db) = $crate::support::TestDb::postgres().await else { return };
                    super::$scenario(db).await;
                }
            )*
        }
    };
}
