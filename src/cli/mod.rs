//! The `cardbatch` command line: one file per command group. Commands return
//! `anyhow::Result<ExitCode>`; `main` prints an error as one line on stderr.

mod args;
mod control;
#[cfg(feature = "sandbox")]
mod demo;
mod export;
mod output;
mod prune;
mod read;
mod reconcile;
mod run;
mod schedules;
mod submit;

pub use args::{Cli, Command, LogFormat, SchedulesAction, TokenCommand};
pub use output::{error_line, is_closed_pipe, neutralise_cell};
pub use reconcile::print_reconcile_report;

use crate::app::Services;
use crate::config::Config;
use crate::store::Store;
use anyhow::Context;
use output::outln;
use std::process::ExitCode;

/// Exit code of a bad command line: clap's own usage errors, and values it cannot check (a
/// `--provider` naming no configured profile).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when the input (a CSV file, a batch id) was refused; nothing was written.
pub const EXIT_INPUT_REFUSED: u8 = 3;
/// Exit code of `run --until-idle` when some orders ended failed, rejected, dead or
/// needs_review (or a schedule run failed).
pub const EXIT_ORDERS_FAILED: u8 = 4;

/// Runs one parsed command line.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(url) = &cli.database_url {
        config.database_url = url.clone();
    }
    match cli.command {
        Command::Migrate => {
            let store = open_store(&config).await?;
            drop(store);
            outln!("database migrated: {}", redact_url(&config.database_url))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Submit(args) => submit::run(&config, args).await,
        Command::Batches { json } => read::batches(&open_store(&config).await?, json).await,
        Command::Status { batch, json } => {
            read::status(&open_store(&config).await?, &batch, json).await
        }
        Command::Orders { batch, state, json } => {
            read::orders(&open_store(&config).await?, &batch, state, json).await
        }
        Command::Export { batch, output } => {
            export::run(&open_store(&config).await?, &batch, output.as_deref()).await
        }
        Command::Reconcile { batch, json } => {
            reconcile::run(&open_store(&config).await?, batch.as_deref(), json).await
        }
        Command::Requeue {
            batch,
            state,
            confirm,
        } => {
            let action = crate::control::Action::Requeue { state, confirm };
            control::act(&open_store(&config).await?, &batch, action).await
        }
        Command::Pause { batch } => {
            control::act(
                &open_store(&config).await?,
                &batch,
                crate::control::Action::Pause,
            )
            .await
        }
        Command::Resume { batch } => {
            control::act(
                &open_store(&config).await?,
                &batch,
                crate::control::Action::Resume,
            )
            .await
        }
        Command::Cancel { batch } => {
            control::act(
                &open_store(&config).await?,
                &batch,
                crate::control::Action::Cancel,
            )
            .await
        }
        Command::Approve { batch } => {
            let action = crate::control::Action::Approve;
            control::act(&open_store(&config).await?, &batch, action).await
        }
        Command::Attach { order, refs } => {
            control::attach(&open_store(&config).await?, order, refs).await
        }
        Command::Token(command) => control::token(&open_store(&config).await?, command).await,
        Command::Audit { limit, json } => {
            control::audit(&open_store(&config).await?, limit, json).await
        }
        Command::Prune { dry_run, json } => {
            prune::run(
                &open_store(&config).await?,
                &config.retention,
                dry_run,
                json,
            )
            .await
        }
        Command::Run { until_idle: false } => run::run(&config, Services::ALL).await,
        Command::Run { until_idle: true } => run::until_idle(&config).await,
        Command::Schedules { json, action } => match action {
            None => schedules::list(&config, json).await,
            Some(SchedulesAction::Run {
                name,
                json: run_json,
            }) => schedules::run(&config, &name, json || run_json).await,
        },
        #[cfg(feature = "sandbox")]
        Command::Demo { dir, keep } => demo::demo(&dir, keep).await,
        Command::Worker => run::run(&config, Services::WORKERS).await,
        Command::Serve => run::run(&config, Services::SERVER).await,
        #[cfg(feature = "sandbox")]
        Command::Sandbox {
            sandbox_config,
            listen,
        } => run::sandbox(sandbox_config.as_deref(), listen).await,
    }
}

/// Connects to the configured database and applies pending migrations. A database that is
/// restarting or not reachable yet (a process started with it, or during a failover) is tried
/// again for up to [`STARTUP_PATIENCE`]; a wrong URL or a refused login fails at once.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = redact_url(&config.database_url);
    let started = std::time::Instant::now();
    let mut wait = std::time::Duration::from_millis(200);
    loop {
        match Store::connect(&config.database_url).await {
            Ok(store) => return Ok(store),
            Err(e) if e.is_transient() && started.elapsed() + wait < STARTUP_PATIENCE => {
                tracing::warn!(database = %url, error = %e, retry_in = ?wait,
                    "the database cannot be reached yet; trying again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => {
                return Err(e).with_context(|| format!("Failed to open the database {url}"));
            }
        }
    }
}

/// How long a starting process waits for a database that cannot be reached yet.
pub const STARTUP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Hides a password in a database URL before it is printed.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &base[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    format!("{}{}:***{}", &base[..scheme_end + 3], user, &base[at..])
                }
                None => base.to_string(),
            }
        }
        _ => base.to_string(),
    };
    // libpq and sqlx also take secrets as parameters (`?password=`, `sslpassword=`, ...).
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_secret_param(name) => format!("{name}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// Query parameters of a database URL that hold a secret.
fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "passwd", "pass", "secret", "token", "key"]
        .iter()
        .any(|s| name.contains(s))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn a_database_password_is_never_printed() {
        assert_eq!(
            redact_url("postgres://card:s3cret@db.internal/cards"),
            "postgres://card:***@db.internal/cards"
        );
        assert_eq!(redact_url("sqlite://cardbatch.db"), "sqlite://cardbatch.db");
        assert_eq!(
            redact_url("postgres://card@db/cards?password=s3cret&sslmode=require&sslpassword=x"),
            "postgres://card@db/cards?password=***&sslmode=require&sslpassword=***"
        );
    }
}
