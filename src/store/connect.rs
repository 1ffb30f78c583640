//! Opening a store: pools, pragmas, migrations.

use super::error::{Error, Result};
use super::migrations;
use super::wake::WakeHub;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The database behind the queue: a SQLite file (embedded default) or Postgres (several
/// workers on several machines). Cheap to clone; clones share pools and wake-ups.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) db: Db,
    pub(crate) wake: Arc<WakeHub>,
}

/// The engine, with the pools used for it.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    /// SQLite allows one writer at a time. Writes go through a one-connection pool so that
    /// writers of this process queue in memory instead of sleeping in SQLite's busy handler
    /// (which backs off in milliseconds and would cap the drain rate); reads use their own pool
    /// and, thanks to WAL, never wait for the writer.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A SQLite file.
    Sqlite,
    /// A Postgres database.
    Postgres,
}

/// sqlx warns of a statement slower than this. Its default (1 s) fired on every large ingest,
/// whose staged inserts of 100,000 rows take seconds by design; an operator should see a warning
/// only for a statement that is truly stuck or scanning what it should not.
const SLOW_STATEMENT: Duration = Duration::from_secs(10);

impl Store {
    /// Connects to `sqlite://path` (the file is created on first use) or `postgres://...`, and
    /// applies any pending migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        let db = if url.starts_with("sqlite:") {
            connect_sqlite(url).await?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?
                .log_slow_statements(log::LevelFilter::Warn, SLOW_STATEMENT);
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .min_connections(0)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(options)
                .await?;
            Db::Postgres(pool)
        } else {
            return Err(Error::UnsupportedUrl(url.to_string()));
        };
        let store = Store {
            db,
            wake: Arc::new(WakeHub::new()),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the embedded migrations of this store's engine (idempotent).
    pub async fn migrate(&self) -> Result<()> {
        match &self.db {
            Db::Sqlite { write, .. } => migrations::sqlite().run(write).await?,
            Db::Postgres(pool) => migrations::postgres().run(pool).await?,
        }
        Ok(())
    }

    /// Which engine this store runs on.
    pub fn engine(&self) -> Engine {
        match &self.db {
            Db::Sqlite { .. } => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Closes every pool; pending operations finish first.
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

async fn connect_sqlite(url: &str) -> Result<Db> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: every commit is on disk before it returns. A commit here promises something to
        // the outside (a claim before the provider is called, a completion, a webhook before
        // its 200), and NORMAL could roll one back on power loss; a rolled-back claim of a QI
        // prepaid order would then be sent again without a lookup. The cost is one fsync per
        // commit, and commits are grouped (BENCHMARKS.md).
        .synchronous(SqliteSynchronous::Full)
        // Another process (a CLI ingest next to a running worker) may hold the write lock.
        .busy_timeout(Duration::from_secs(30))
        .foreign_keys(true)
        // 64 MiB of page cache (the default is 2 MiB) keeps the orders indexes in memory while a
        // large batch is written in one transaction.
        .pragma("cache_size", "-65536")
        // A claim returns hundreds of rows; sqlx's worker thread hands them over through a
        // channel of 50 by default and sleeps whenever it is full.
        .row_buffer_size(1024)
        .log_slow_statements(log::LevelFilter::Warn, SLOW_STATEMENT);
    let in_memory = options
        .get_filename()
        .to_string_lossy()
        .contains(":memory:")
        || url.contains("mode=memory");
    // sqlx names `sqlite::memory:` databases `file:sqlx-in-memory-N` (shared cache, so the
    // read pool below sees them): not a file to create in the working directory.
    let named_in_memory = url.contains(":memory:");
    if !in_memory && !named_in_memory {
        create_private(options.get_filename());
    }
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        // A long batch write holds the only write connection; claims wait for it.
        .acquire_timeout(Duration::from_secs(600))
        .before_acquire(|conn, _| Box::pin(usable_outside_a_transaction(conn)))
        .connect_with(options.clone())
        .await?;
    // An in-memory database exists once per connection, so it cannot have a second pool.
    let read = if in_memory {
        write.clone()
    } else {
        SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options)
            .await?
    };
    Ok(Db::Sqlite { read, write })
}

/// Hands out the write connection only if no transaction is left open on it. A `COMMIT` that fails
/// (disk full, an I/O error) can make SQLite roll the transaction back by itself; sqlx's rollback
/// on drop then fails ("no transaction is active") and its transaction depth stays at one, so
/// every later `BEGIN IMMEDIATE` on the connection would be refused until a restart. Such a
/// connection is closed instead, and the pool opens a fresh one for the next writer.
///
/// Checked when the connection is next taken rather than when it is put back: the pool pings a
/// connection as it comes back, which flushes the dropped transaction's queued rollback first.
async fn usable_outside_a_transaction(
    conn: &mut sqlx::SqliteConnection,
) -> std::result::Result<bool, sqlx::Error> {
    use sqlx::Connection;
    if conn.is_in_transaction() {
        tracing::warn!(
            "a write transaction could not be ended (a failed commit or rollback); \
             reopening the database's write connection"
        );
        return Ok(false);
    }
    Ok(true)
}

/// Creates the database file readable by its owner only (it holds personal data and provider
/// tokens) when it does not exist yet; SQLite gives its `-wal` and `-shm` files the same mode.
/// An existing file keeps its mode: the operator may have chosen it.
/// Any failure (the file exists, its directory does not) is left for SQLite to report as it
/// always has.
fn create_private(path: &std::path::Path) {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let _ = open.open(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_sqlite_file_is_private_and_every_commit_is_synchronous() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let store = Store::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{mode:o}");
        }
        let Db::Sqlite { write, .. } = &store.db else {
            unreachable!("a SQLite store")
        };
        // 2 = FULL: a commit is durable (not only crash-safe) when it returns.
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(write)
            .await
            .unwrap();
        assert_eq!(synchronous, 2);
    }

    #[tokio::test]
    async fn a_transaction_that_could_not_be_ended_does_not_block_later_writes() {
        // Arrange: a transaction that SQLite ended behind sqlx's back, as a failed COMMIT on a
        // full disk does: sqlx's rollback on drop then fails and its depth stays at one.
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::connect(&url).await.unwrap();
        let Db::Sqlite { write, .. } = &store.db else {
            unreachable!("a SQLite store")
        };
        {
            let mut tx = write.begin_with("BEGIN IMMEDIATE").await.unwrap();
            sqlx::query("COMMIT").execute(&mut *tx).await.unwrap();
        }

        // Act: the next writer, as every store write begins.
        let next = write.begin_with("BEGIN IMMEDIATE").await;

        // Assert
        let tx = next.expect("a fresh write connection");
        tx.commit().await.unwrap();
    }
}
