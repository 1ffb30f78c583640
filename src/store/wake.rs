//! Waking idle workers when new orders are queued.
//!
//! Every writer that queues orders bumps a counter in this process; on Postgres it also sends a
//! `NOTIFY` in the same transaction, and a `LISTEN`ing task bumps the counter of every other
//! process sharing the database. An idle worker remembers the counter value it last saw before
//! claiming, so a wake-up that lands between an empty claim and the wait is never lost. SQLite
//! has no cross-process notification: there a watcher reads `PRAGMA data_version` on a
//! connection of its own every few milliseconds (a look at the WAL index in shared memory, no
//! table is read) and bumps the counter when another connection, of any process, committed.
//! Workers still poll, at most `max_wait` apart, in case a wake-up is missed.

use super::connect::{Db, Store};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The Postgres channel that announces newly queued orders (the payload is the profile).
pub const NOTIFY_CHANNEL: &str = "cardbatch_orders";

/// How often the SQLite watcher reads `PRAGMA data_version`.
const SQLITE_WATCH_EVERY: Duration = Duration::from_millis(3);

/// The wake-up counter shared by every clone of a store.
#[derive(Debug)]
pub(crate) struct WakeHub {
    epoch: watch::Sender<u64>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl WakeHub {
    pub(crate) fn new() -> WakeHub {
        WakeHub {
            epoch: watch::Sender::new(0),
            listener: Mutex::new(None),
        }
    }

    /// Something new may be claimable.
    pub(crate) fn bump(&self) {
        self.epoch.send_modify(|e| *e = e.wrapping_add(1));
    }
}

/// A worker's view of the wake-up counter: [`WorkSignal::mark_seen`] before claiming, then
/// [`WorkSignal::wait`] when the claim came back empty.
#[derive(Debug, Clone)]
pub struct WorkSignal {
    rx: watch::Receiver<u64>,
}

impl WorkSignal {
    /// Marks every wake-up so far as seen.
    pub fn mark_seen(&mut self) {
        self.rx.borrow_and_update();
    }

    /// Waits until a wake-up newer than the last [`WorkSignal::mark_seen`] arrives, or `max_wait`
    /// passes. Returns whether a wake-up arrived.
    pub async fn wait(&mut self, max_wait: Duration) -> bool {
        matches!(
            tokio::time::timeout(max_wait, self.rx.changed()).await,
            Ok(Ok(()))
        )
    }
}

impl Store {
    /// A handle on this store's wake-ups. The first call starts a task that lives while any
    /// signal does: `LISTEN` on Postgres, the `data_version` watcher on a SQLite file.
    pub fn work_signal(&self) -> WorkSignal {
        let rx = self.wake.epoch.subscribe();
        let mut slot = self.wake.listener.lock().expect("listener lock poisoned");
        if slot.as_ref().is_none_or(|task| task.is_finished()) {
            let epoch = self.wake.epoch.clone();
            *slot = match &self.db {
                Db::Postgres(pool) => Some(tokio::spawn(listen(pool.clone(), epoch))),
                Db::Sqlite { read, .. } => {
                    let options = read.connect_options();
                    // An in-memory database lives in this process only: nothing to watch.
                    // (sqlx names `sqlite::memory:` databases `file:sqlx-in-memory-N`.)
                    let name = options.get_filename().to_string_lossy().into_owned();
                    let in_memory = name.contains(":memory:") || name.contains("sqlx-in-memory");
                    (!in_memory).then(|| tokio::spawn(watch_sqlite(options, epoch)))
                }
            };
        }
        WorkSignal { rx }
    }

    /// Waits until new work may be claimable or `max_wait` passes (a convenience over
    /// [`Store::work_signal`] for callers that do not claim in between).
    pub async fn wait_for_work(&self, max_wait: Duration) -> bool {
        let mut signal = self.work_signal();
        signal.mark_seen();
        signal.wait(max_wait).await
    }

    /// Tells this process's idle workers that orders were queued outside the batch writer.
    pub fn notify_work(&self) {
        self.wake.bump();
    }
}

/// Forwards `NOTIFY cardbatch_orders` to the counter until no worker listens any more.
async fn listen(pool: sqlx::PgPool, epoch: watch::Sender<u64>) {
    let mut listener = loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut l) => match l.listen(NOTIFY_CHANNEL).await {
                Ok(()) => break l,
                Err(e) => tracing::warn!(error = %e, "LISTEN failed; retrying"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot open the LISTEN connection; retrying"),
        }
        tokio::select! {
            _ = epoch.closed() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    };
    // The listener may have missed notifications while it was connecting.
    epoch.send_modify(|e| *e = e.wrapping_add(1));
    loop {
        tokio::select! {
            _ = epoch.closed() => return,
            received = listener.recv() => {
                // After a lost connection `recv` reconnects and notifications sent meanwhile are
                // gone, so an error wakes the workers too: they re-check the table.
                let failed = received.is_err();
                if let Err(e) = received {
                    tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                }
                epoch.send_modify(|e| *e = e.wrapping_add(1));
                if failed {
                    // Do not spin while the database is down.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// Bumps the counter whenever `PRAGMA data_version` changes, i.e. another connection (of this
/// process or another) committed, until no worker listens any more.
async fn watch_sqlite(
    options: std::sync::Arc<sqlx::sqlite::SqliteConnectOptions>,
    epoch: watch::Sender<u64>,
) {
    use sqlx::{ConnectOptions, Connection};
    let mut seen: Option<i64> = None;
    let mut conn: Option<sqlx::SqliteConnection> = None;
    loop {
        tokio::select! {
            _ = epoch.closed() => break,
            _ = tokio::time::sleep(SQLITE_WATCH_EVERY) => {}
        }
        if conn.is_none() {
            match options.connect().await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot open the SQLite watch connection; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        match sqlx::query_scalar::<_, i64>("PRAGMA data_version")
            .fetch_one(&mut *c)
            .await
        {
            Ok(version) => {
                // The first read after (re)connecting wakes the workers too: a commit made
                // while the watcher was connecting would be missed otherwise.
                if seen != Some(version) {
                    epoch.send_modify(|e| *e = e.wrapping_add(1));
                }
                seen = Some(version);
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading PRAGMA data_version failed; reconnecting");
                conn = None;
                seen = None;
                epoch.send_modify(|e| *e = e.wrapping_add(1));
            }
        }
    }
    if let Some(c) = conn {
        let _ = c.close().await;
    }
}
