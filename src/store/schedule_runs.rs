//! The runs of scheduled issuance (`schedule_runs`) and the files CSV sources ingested
//! (`schedule_files`).
//!
//! Inserting the (schedule, slot) row is the claim: the unique key lets one process win
//! whatever the engine. A run in progress is `running` with a lease its owner renews; a run
//! whose lease ran out belongs to a dead process and is taken over ([`RunRetake::IfDead`]).

use super::connect::{Db, Store};
use super::error::Result;
use super::row::from_row;

/// The columns of a [`ScheduleRun`], in its field order.
macro_rules! run_columns {
    () => {
        "id, schedule, slot, started, finished, outcome, batch, \"rows\", error, cursor_value, \
         cursor_kind, attempt"
    };
}

/// Runs a statement on the write pool (SQLite) or the pool (Postgres), mapping the rows.
macro_rules! on_write {
    ($store:expr, $method:ident, $ty:ty, $sql:expr $(, $arg:expr)*) => {
        match &$store.db {
            Db::Sqlite { write, .. } => {
                sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.$method(write).await?
            }
            Db::Postgres(pool) => sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.$method(pool).await?,
        }
    };
}

/// Runs a read on the read pool.
macro_rules! on_read {
    ($store:expr, $method:ident, $ty:ty, $sql:expr $(, $arg:expr)*) => {
        match &$store.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.$method(read).await?
            }
            Db::Postgres(pool) => sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.$method(pool).await?,
        }
    };
}

from_row! {
    /// One row of `schedule_runs`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ScheduleRun {
        /// The row's id.
        pub id: i64,
        /// The schedule's name.
        pub schedule: String,
        /// The slot (Unix ms).
        pub slot: i64,
        /// When the (latest attempt of the) run started (Unix ms).
        pub started: i64,
        /// When it finished; `None` while running.
        pub finished: Option<i64>,
        /// `running`, `queued`, `nothing_new`, `empty`, `failed` or `skipped`.
        pub outcome: String,
        /// The batch written, if any (several ids joined by `,` for a CSV run of several files).
        pub batch: Option<String>,
        /// Rows read from the source.
        pub rows: i64,
        /// Why it failed, or what it skipped.
        pub error: Option<String>,
        /// Database source: the highest cursor value read.
        pub cursor_value: Option<String>,
        /// How `cursor_value` compares: `integer`, `real` or `text`.
        pub cursor_kind: Option<String>,
        /// 1, plus one per take-over or manual re-run.
        pub attempt: i64,
    }
}

/// Which existing run of a slot a claim may take over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunRetake {
    /// Only a run whose owner died (still `running`, lease over): the scheduler.
    IfDead,
    /// Also a finished run (`cardbatch schedules run`: the operator runs the slot again; ingest
    /// dedupes, so nothing is ingested twice).
    Finished,
}

/// A claimed run: the caller owns it until [`Store::schedule_run_finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunClaim {
    /// The row's id.
    pub id: i64,
    /// Which attempt this is.
    pub attempt: i64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// `queued`, `nothing_new`, `empty` or `failed`.
    pub outcome: String,
    /// The batch(es) written.
    pub batch: Option<String>,
    /// Rows read.
    pub rows: i64,
    /// Why it failed, or the rows it skipped.
    pub error: Option<String>,
    /// The highest cursor value read, and how it compares.
    pub cursor: Option<(String, String)>,
    /// When it finished (Unix ms).
    pub finished: i64,
}

impl Store {
    /// Claims `slot` of `schedule` for `owner` until `lease_until` (Unix ms): inserts the row,
    /// or takes over one that `retake` allows. `None`: another process has it (or had it).
    pub async fn schedule_run_claim(
        &self,
        schedule: &str,
        slot: i64,
        owner: &str,
        now: i64,
        lease_until: i64,
        retake: RunRetake,
    ) -> Result<Option<RunClaim>> {
        // language=SQL
        const INSERT: &str = "INSERT INTO schedule_runs (schedule, slot, started, outcome, owner, lease_until) \
            VALUES ($1, $2, $3, 'running', $4, $5) ON CONFLICT (schedule, slot) DO NOTHING RETURNING id, attempt";
        // language=SQL
        const RETAKE_DEAD: &str = "UPDATE schedule_runs SET outcome = 'running', started = $3, finished = NULL, \
            owner = $4, lease_until = $5, error = NULL, attempt = attempt + 1 \
            WHERE schedule = $1 AND slot = $2 AND outcome = 'running' AND lease_until < $3 RETURNING id, attempt";
        // language=SQL
        const RETAKE_FINISHED: &str = "UPDATE schedule_runs SET outcome = 'running', started = $3, finished = NULL, \
            owner = $4, lease_until = $5, error = NULL, attempt = attempt + 1 \
            WHERE schedule = $1 AND slot = $2 AND (outcome <> 'running' OR lease_until < $3) RETURNING id, attempt";
        let inserted = on_write!(
            self,
            fetch_optional,
            (i64, i64),
            INSERT,
            schedule,
            slot,
            now,
            owner,
            lease_until
        );
        let claimed = match inserted {
            Some(row) => Some(row),
            None => {
                let sql = match retake {
                    RunRetake::IfDead => RETAKE_DEAD,
                    RunRetake::Finished => RETAKE_FINISHED,
                };
                on_write!(
                    self,
                    fetch_optional,
                    (i64, i64),
                    sql,
                    schedule,
                    slot,
                    now,
                    owner,
                    lease_until
                )
            }
        };
        Ok(claimed.map(|(id, attempt)| RunClaim { id, attempt }))
    }

    /// Records `slot` as skipped (`catch_up = "skip"`) unless it has a row already.
    pub async fn schedule_run_skip(
        &self,
        schedule: &str,
        slot: i64,
        now: i64,
        note: &str,
    ) -> Result<bool> {
        // language=SQL
        const SQL: &str = "INSERT INTO schedule_runs (schedule, slot, started, finished, outcome, error) \
            VALUES ($1, $2, $3, $3, 'skipped', $4) ON CONFLICT (schedule, slot) DO NOTHING RETURNING id";
        let row = on_write!(self, fetch_optional, (i64,), SQL, schedule, slot, now, note);
        Ok(row.is_some())
    }

    /// Renews the lease of a run `owner` holds; false when it is no longer theirs.
    pub async fn schedule_run_heartbeat(
        &self,
        id: i64,
        owner: &str,
        lease_until: i64,
    ) -> Result<bool> {
        // language=SQL
        const SQL: &str = "UPDATE schedule_runs SET lease_until = $3 \
            WHERE id = $1 AND owner = $2 AND outcome = 'running' RETURNING id";
        let row = on_write!(self, fetch_optional, (i64,), SQL, id, owner, lease_until);
        Ok(row.is_some())
    }

    /// Records how a run `owner` holds ended; false when it was no longer theirs.
    pub async fn schedule_run_finish(
        &self,
        id: i64,
        owner: &str,
        record: &RunRecord,
    ) -> Result<bool> {
        // language=SQL
        const SQL: &str = "UPDATE schedule_runs SET outcome = $3, batch = $4, \"rows\" = $5, error = $6, \
            cursor_value = $7, cursor_kind = $8, finished = $9, lease_until = NULL \
            WHERE id = $1 AND owner = $2 AND outcome = 'running' RETURNING id";
        let (value, kind) = record.cursor.clone().unzip();
        let row = on_write!(
            self,
            fetch_optional,
            (i64,),
            SQL,
            id,
            owner,
            record.outcome.clone(),
            record.batch.clone(),
            record.rows,
            record.error.clone(),
            value,
            kind,
            record.finished
        );
        Ok(row.is_some())
    }

    /// The newest slot recorded for `schedule` (Unix ms), whatever its outcome.
    pub async fn schedule_run_last_slot(&self, schedule: &str) -> Result<Option<i64>> {
        // language=SQL
        const SQL: &str = "SELECT MAX(slot) FROM schedule_runs WHERE schedule = $1";
        let (slot,) = on_read!(self, fetch_one, (Option<i64>,), SQL, schedule);
        Ok(slot)
    }

    /// The run of `schedule` that started last.
    pub async fn schedule_run_latest(&self, schedule: &str) -> Result<Option<ScheduleRun>> {
        // language=SQL
        const SQL: &str = concat!(
            "SELECT ",
            run_columns!(),
            " FROM schedule_runs WHERE schedule = $1 ORDER BY started DESC, id DESC LIMIT 1"
        );
        Ok(on_read!(self, fetch_optional, ScheduleRun, SQL, schedule))
    }

    /// Every run of `schedule`, by slot.
    pub async fn schedule_run_list(&self, schedule: &str) -> Result<Vec<ScheduleRun>> {
        // language=SQL
        const SQL: &str = concat!(
            "SELECT ",
            run_columns!(),
            " FROM schedule_runs WHERE schedule = $1 ORDER BY slot, id"
        );
        Ok(on_read!(self, fetch_all, ScheduleRun, SQL, schedule))
    }

    /// Runs still `running` whose lease ended before `now`: their owner died.
    pub async fn schedule_run_dead(&self, now: i64) -> Result<Vec<(String, i64)>> {
        // language=SQL
        const SQL: &str = "SELECT schedule, slot FROM schedule_runs \
            WHERE outcome = 'running' AND lease_until < $1 ORDER BY slot";
        Ok(on_read!(self, fetch_all, (String, i64), SQL, now))
    }

    /// The cursor of the last run of `schedule` that recorded one: (value, kind).
    pub async fn schedule_cursor(&self, schedule: &str) -> Result<Option<(String, String)>> {
        // language=SQL
        const SQL: &str = "SELECT cursor_value, cursor_kind FROM schedule_runs \
            WHERE schedule = $1 AND cursor_value IS NOT NULL AND cursor_kind IS NOT NULL \
            ORDER BY finished DESC, id DESC LIMIT 1";
        Ok(on_read!(
            self,
            fetch_optional,
            (String, String),
            SQL,
            schedule
        ))
    }

    /// The batch a file with this content was ingested as, by `schedule`: `Some(None)` when it
    /// was ingested and every order was already known.
    pub async fn schedule_file_known(
        &self,
        schedule: &str,
        content_hash: &str,
    ) -> Result<Option<Option<String>>> {
        // language=SQL
        const SQL: &str =
            "SELECT batch FROM schedule_files WHERE schedule = $1 AND content_hash = $2";
        let row = on_read!(
            self,
            fetch_optional,
            (Option<String>,),
            SQL,
            schedule,
            content_hash
        );
        Ok(row.map(|(b,)| b))
    }

    /// Remembers that `schedule` ingested a file with this content (first one wins).
    pub async fn schedule_file_record(
        &self,
        schedule: &str,
        content_hash: &str,
        file: &str,
        batch: Option<&str>,
        slot: i64,
        now: i64,
    ) -> Result<()> {
        // language=SQL
        const SQL: &str = "INSERT INTO schedule_files (schedule, content_hash, file, batch, slot, ingested_at) \
            VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (schedule, content_hash) DO NOTHING";
        match &self.db {
            Db::Sqlite { write, .. } => {
                sqlx::query(SQL)
                    .bind(schedule)
                    .bind(content_hash)
                    .bind(file)
                    .bind(batch)
                    .bind(slot)
                    .bind(now)
                    .execute(write)
                    .await?;
            }
            Db::Postgres(pool) => {
                sqlx::query(SQL)
                    .bind(schedule)
                    .bind(content_hash)
                    .bind(file)
                    .bind(batch)
                    .bind(slot)
                    .bind(now)
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }
}
