//! Schedule files: one TOML file per schedule in the jobs directory (`jobs_dir`, default
//! `./jobs`); the schedule's name is the file's stem.
//!
//! ```toml
//! cron = "0 2 * * *"            # minute hour day-of-month month day-of-week
//! timezone = "Europe/Berlin"    # IANA name; default UTC
//! profile = "uqpay"             # the provider profile to issue through
//! catch_up = "latest"           # skip | latest | all: slots missed while nothing ran
//! enabled = true
//! max_orders = 50000            # a run whose source yields more fails and ingests nothing
//! skip_invalid = false          # true: queue the valid rows, report the invalid ones
//!
//! [source]
//! csv = "drop/*.csv"            # relative to the jobs directory
//! archive_dir = "done"          # optional: ingested files are moved here
//! # or
//! database_url = "postgres://reader@db/erp"   # or database_url_env = "ERP_DATABASE_URL"
//! query = "SELECT order_ref, ... FROM card_requests"
//! cursor = "id"                 # optional: only rows above the highest one already ingested
//! ```

use super::slots::{Cadence, CatchUp};
use crate::cli::redact_url;
use crate::config::Config;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a source query may run (reading every row included) unless the file says otherwise.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(600);

/// A schedule file that cannot be used, naming the file and the key at fault.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", file.display())]
pub struct ScheduleError {
    /// The schedule file.
    pub file: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

/// One schedule, parsed and checked against the configuration.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The file's stem.
    pub name: String,
    /// The file it was read from.
    pub file: PathBuf,
    /// When it fires.
    pub cadence: Cadence,
    /// The profile its orders are issued through.
    pub profile: String,
    /// Where its orders come from.
    pub source: Source,
    /// What to do with slots missed while no process was running.
    pub catch_up: CatchUp,
    /// A disabled schedule is listed but never fires by itself (`schedules run` still runs it).
    pub enabled: bool,
    /// A run whose source yields more orders than this fails and ingests nothing.
    pub max_orders: Option<u64>,
    /// Queue the valid rows and report the invalid ones instead of refusing the run.
    pub skip_invalid: bool,
}

/// Where a schedule's orders come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Files matching a glob; each new file (by content hash) becomes one batch.
    Csv {
        /// The glob as written, relative to the jobs directory.
        glob: String,
        /// The glob joined to the jobs directory.
        pattern: PathBuf,
        /// Where ingested files are moved, if anywhere.
        archive_dir: Option<PathBuf>,
    },
    /// Rows of a query, named as the provider's CSV columns.
    Database(DbSource),
}

/// A query on a database of the orders' upstream system.
#[derive(Debug, Clone)]
pub struct DbSource {
    /// The URL, or the environment variable holding it.
    pub url: UrlFrom,
    /// The query; its columns are named as the provider's CSV columns.
    pub query: String,
    /// Only rows whose value in this column is above the highest one already ingested.
    pub cursor: Option<String>,
    /// The longest the query may run, reading every row included.
    pub statement_timeout: Duration,
}

/// Where a source database's URL comes from.
#[derive(Clone)]
pub enum UrlFrom {
    /// Written in the schedule file.
    Literal(String),
    /// Read from this environment variable when the schedule runs (keeps the password out of
    /// the file).
    Env(String),
}

impl std::fmt::Debug for UrlFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl std::fmt::Display for UrlFrom {
    /// Never shows a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UrlFrom::Literal(url) => f.write_str(&redact_url(url)),
            UrlFrom::Env(var) => write!(f, "${var}"),
        }
    }
}

impl UrlFrom {
    /// The URL itself.
    pub fn resolve(&self) -> Result<String, String> {
        match self {
            UrlFrom::Literal(url) => Ok(url.clone()),
            UrlFrom::Env(var) => std::env::var(var).map_err(|_| {
                format!("the environment variable {var} (source.database_url_env) is not set")
            }),
        }
    }
}

impl Source {
    /// One line for tables and logs, without any password.
    pub fn describe(&self) -> String {
        match self {
            Source::Csv { glob, .. } => format!("csv {glob}"),
            Source::Database(db) => format!("query on {}", db.url),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleFile {
    cron: String,
    #[serde(default = "utc")]
    timezone: String,
    profile: String,
    source: SourceFile,
    #[serde(default)]
    catch_up: CatchUp,
    #[serde(default = "yes")]
    enabled: bool,
    max_orders: Option<u64>,
    skip_invalid: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    csv: Option<String>,
    archive_dir: Option<String>,
    database_url: Option<String>,
    database_url_env: Option<String>,
    query: Option<String>,
    cursor: Option<String>,
    statement_timeout_secs: Option<u64>,
    // Also accepted here, beside the source they apply to.
    skip_invalid: Option<bool>,
    max_orders: Option<u64>,
}

fn utc() -> String {
    "UTC".to_string()
}

fn yes() -> bool {
    true
}

/// Every schedule in `config.jobs_dir` (`*.toml`, by name). A directory that does not exist
/// holds none; any file that cannot be used is an error naming it.
pub fn load_all(config: &Config) -> Result<Vec<Schedule>, ScheduleError> {
    let (schedules, mut errors) = load_usable(config)?;
    match errors.is_empty() {
        true => Ok(schedules),
        false => Err(errors.remove(0)),
    }
}

/// Every usable schedule in `config.jobs_dir`, and the errors of the files that are not (a
/// running scheduler goes on with the others: one bad file must not stop every schedule). Only
/// an unreadable directory is an error.
pub fn load_usable(config: &Config) -> Result<(Vec<Schedule>, Vec<ScheduleError>), ScheduleError> {
    let dir = &config.jobs_dir;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => {
            return Err(ScheduleError {
                file: dir.clone(),
                problem: format!("cannot read the jobs directory: {e}"),
            });
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let (mut schedules, mut errors) = (Vec::new(), Vec::new());
    for file in &files {
        match load_file(file, config) {
            Ok(s) => schedules.push(s),
            Err(e) => errors.push(e),
        }
    }
    Ok((schedules, errors))
}

/// The schedule called `name`.
pub fn load_one(config: &Config, name: &str) -> Result<Schedule, ScheduleError> {
    let file = config.jobs_dir.join(format!("{name}.toml"));
    if !file.is_file() {
        let known = load_all(config)
            .map(|all| {
                all.into_iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        return Err(ScheduleError {
            file,
            problem: format!(
                "no such schedule; schedules in {}: {}",
                config.jobs_dir.display(),
                if known.is_empty() { "none" } else { &known }
            ),
        });
    }
    load_file(&file, config)
}

/// Reads and checks one schedule file.
pub fn load_file(file: &Path, config: &Config) -> Result<Schedule, ScheduleError> {
    let fail = |problem: String| ScheduleError {
        file: file.to_path_buf(),
        problem,
    };
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(fail(
            "a schedule's name (the file's stem) may hold letters, digits, _, - and . only".into(),
        ));
    }
    let text = std::fs::read_to_string(file).map_err(|e| fail(format!("cannot read: {e}")))?;
    let raw: ScheduleFile = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let cadence = Cadence::parse(&raw.cron, &raw.timezone)
        .map_err(|e| fail(format!("cron/timezone: {e}")))?;
    // A disabled schedule may name a profile this configuration lacks (the repository's
    // examples are switched off); running it by hand then says so.
    if raw.enabled {
        config
            .profile(&raw.profile)
            .map_err(|e| fail(format!("profile: {e}")))?;
    }
    let s = raw.source;
    let source = match (&s.csv, &s.database_url, &s.database_url_env) {
        (Some(glob), None, None) => {
            if s.query.is_some() || s.cursor.is_some() || s.statement_timeout_secs.is_some() {
                return Err(fail(
                    "source: query, cursor and statement_timeout_secs belong to a database source, not to csv".into(),
                ));
            }
            if glob.trim().is_empty() {
                return Err(fail(
                    "source.csv: must be a glob such as \"drop/*.csv\"".into(),
                ));
            }
            let pattern = config.jobs_dir.join(glob);
            glob::Pattern::new(&pattern.to_string_lossy())
                .map_err(|e| fail(format!("source.csv: `{glob}` is not a valid glob: {e}")))?;
            Source::Csv {
                glob: glob.clone(),
                pattern,
                archive_dir: s.archive_dir.as_ref().map(|d| config.jobs_dir.join(d)),
            }
        }
        (None, url, env) if url.is_some() != env.is_some() => {
            if s.archive_dir.is_some() {
                return Err(fail("source.archive_dir: belongs to a csv source".into()));
            }
            let url = match (url, env) {
                (Some(url), _) => {
                    check_db_url(url).map_err(|p| fail(format!("source.database_url: {p}")))?;
                    UrlFrom::Literal(url.clone())
                }
                (_, Some(var)) => UrlFrom::Env(var.clone()),
                _ => unreachable!("one of the two is set"),
            };
            let query = s
                .query
                .clone()
                .filter(|q| !q.trim().is_empty())
                .ok_or_else(|| {
                    fail("source.query: a database source needs a query (SELECT ...)".into())
                })?;
            if let Some(cursor) = &s.cursor
                && cursor.trim().is_empty()
            {
                return Err(fail(
                    "source.cursor: must name a column of the query".into(),
                ));
            }
            let secs = s
                .statement_timeout_secs
                .unwrap_or(DEFAULT_STATEMENT_TIMEOUT.as_secs());
            if !(1..=86_400).contains(&secs) {
                return Err(fail(
                    "source.statement_timeout_secs: must be between 1 and 86400 (a day)".into(),
                ));
            }
            Source::Database(DbSource {
                url,
                query: query.trim().trim_end_matches(';').to_string(),
                cursor: s.cursor.clone(),
                statement_timeout: Duration::from_secs(secs),
            })
        }
        _ => {
            return Err(fail(
                "source: needs exactly one of csv = \"GLOB\", database_url = \"...\" (with query) or database_url_env = \"VAR\" (with query)".into(),
            ));
        }
    };
    let max_orders = raw.max_orders.or(s.max_orders);
    if max_orders == Some(0) {
        return Err(fail("max_orders: must be at least 1".into()));
    }
    Ok(Schedule {
        name,
        file: file.to_path_buf(),
        cadence,
        profile: raw.profile,
        source,
        catch_up: raw.catch_up,
        enabled: raw.enabled,
        max_orders,
        skip_invalid: raw.skip_invalid.or(s.skip_invalid).unwrap_or(false),
    })
}

fn check_db_url(url: &str) -> Result<(), String> {
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        Ok(())
    } else {
        Err(format!(
            "`{}` must start with sqlite: or postgres://",
            redact_url(url)
        ))
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
