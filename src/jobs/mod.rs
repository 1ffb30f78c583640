//! Scheduled issuance: schedule files in the jobs directory, each naming a cron expression, a
//! provider profile and a source of orders (a CSV drop folder or a database query). Every
//! source goes through ingest's validators and its one batch transaction.

mod csv_source;
mod db_source;
mod run;
mod schedule;
mod scheduler;
mod slots;

pub use csv_source::{CsvError, CsvRun};
pub use db_source::{DbError, DbRun};
pub use run::{RUN_LEASE, RunOutcome, RunReport, run_slot, skip_slot};
pub use schedule::{
    DEFAULT_STATEMENT_TIMEOUT, DbSource, Schedule, ScheduleError, Source, UrlFrom, load_all,
    load_file, load_one, load_usable,
};
pub use scheduler::{MAX_SLEEP, Scheduler};
pub use slots::{CATCH_UP_LIMIT, Cadence, CatchUp, Fire, GRACE, plan};
