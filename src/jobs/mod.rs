//! Scheduled issuance: schedule files in the jobs directory, each naming a cron expression, a
//! provider profile and a source of orders (a CSV drop folder or a database query). Every
//! source goes through ingest's validators and its one batch transaction.

mod schedule;
mod slots;

pub use schedule::{
    DEFAULT_STATEMENT_TIMEOUT, DbSource, Schedule, ScheduleError, Source, UrlFrom, load_all,
    load_file, load_one,
};
pub use slots::{CATCH_UP_LIMIT, Cadence, CatchUp, Fire, GRACE, plan};
