//! The long-running commands: `run`, `worker`, `serve` and `sandbox`. The first three assemble
//! the application with [`App::with_store`] and differ only in the [`Services`] they start.

use crate::app::{App, Services};
use crate::config::Config;
use crate::jobs::{RunOutcome, Scheduler};
use crate::providers::Credentials;
use crate::worker::RunReport;
use std::process::ExitCode;
use std::time::Duration;

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received");
}

/// `cardbatch run` (every service), `cardbatch worker` (the workers only) and `cardbatch serve`
/// (the server and the webhook event processor):
///
/// 1. Assemble the application: every profile's client and keys, credentials from the
///    environment (a missing variable is an error naming it), and bind the server, so a
///    misconfiguration fails before any order moves.
/// 2. Run until SIGINT/SIGTERM, then stop in the order [`crate::app::Running::run_until`] gives.
pub async fn run(config: &Config, services: Services) -> anyhow::Result<ExitCode> {
    // The store is opened as every command opens it (errors name the database, redacted).
    let store = super::open_store(config).await?;
    let schedules = match services.scheduler {
        true => load_schedules(config)?,
        false => Vec::new(),
    };
    // `run` (every service) also applies the retention section on its schedule.
    let retention = (services == Services::ALL).then(|| {
        tokio::spawn(super::prune::periodic(
            store.clone(),
            config.retention.clone(),
        ))
    });
    let app = App::with_store(config, store, Credentials::from_env)?.with_schedules(schedules);
    let running = app.start(services).await;
    let report = match running {
        Ok(running) => running.run_until(shutdown_signal()).await,
        Err(e) => Err(e.into()),
    };
    if let Some(task) = retention {
        task.abort();
    }
    let report = report?;
    log_report(&report);
    Ok(ExitCode::SUCCESS)
}

/// How often `--until-idle` reads the queue's counts.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// `cardbatch run --until-idle`:
///
/// 1. Assemble and start everything but the scheduler, as `run` does.
/// 2. Fire the schedules' due slots once (as the scheduler's tick would).
/// 3. Wait until no order is queued, in flight, waiting for a retry or in doubt, and every
///    accepted order is confirmed or was looked up by the reconciler at least once (then it
///    waits on the provider: a card in production, an Alchemy Pay callback); or a signal.
/// 4. Stop, and exit 0 when nothing that ended during the run ended badly, 4 otherwise.
pub async fn until_idle(config: &Config) -> anyhow::Result<ExitCode> {
    // 1.
    let schedules = load_schedules(config)?;
    let store = super::open_store(config).await?;
    let started_ms = chrono::Utc::now().timestamp_millis();
    let app = App::with_store(config, store.clone(), Credentials::from_env)?;
    let services = Services {
        scheduler: false,
        ..Services::ALL
    };
    let running = app.start(services).await?;
    // 2.
    let scheduler = Scheduler::new(store.clone(), config.clone(), schedules);
    let fired = match scheduler.tick(chrono::Utc::now()).await {
        Ok(fired) => fired,
        Err(e) => {
            running.stop().await?;
            return Err(e.into());
        }
    };
    let runs_failed = fired
        .iter()
        .filter(|r| r.outcome == RunOutcome::Failed)
        .count();
    // 3.
    let idle = {
        let store = store.clone();
        let confirm_after_secs = config.reconcile.confirm_after_secs;
        async move {
            // What the wait is for, said once: with nothing left to send, the rest of the wait
            // is for confirmations, which can take `confirm_after_secs`.
            let mut said = false;
            loop {
                match store.order_in_progress().await {
                    Ok(a) if a.idle() => return,
                    Ok(a) if a.moving == 0 && !said => {
                        said = true;
                        tracing::info!(
                            unconfirmed = a.unconfirmed,
                            confirm_after_secs,
                            "every order is sent; waiting for the unconfirmed ones' webhooks, or \
                             their first lookup once confirm_after_secs have passed"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read the queue's counts"),
                }
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    };
    let report = running
        .run_until(async {
            tokio::select! {
                _ = idle => tracing::info!("idle: no order is waiting or in progress"),
                _ = shutdown_signal() => {}
            }
        })
        .await?;
    log_report(&report);
    // 4.
    let activity = store.order_activity(started_ms).await?;
    tracing::info!(
        issued = activity.issued_since,
        failed = activity.failed_since,
        still_moving = activity.moving,
        schedule_runs = fired.len(),
        schedule_runs_failed = runs_failed,
        "run --until-idle finished"
    );
    if activity.failed_since > 0 || runs_failed > 0 {
        Ok(ExitCode::from(super::EXIT_ORDERS_FAILED))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// The usable schedules of `jobs_dir`; a file that cannot be used is logged as an error and
/// left out, so that one bad file does not stop the other schedules, nor the workers.
fn load_schedules(config: &Config) -> anyhow::Result<Vec<crate::jobs::Schedule>> {
    let (schedules, errors) = crate::jobs::load_usable(config)?;
    for error in errors {
        tracing::error!(%error, "schedule file left out; fix it and restart");
    }
    Ok(schedules)
}

fn log_report(report: &RunReport) {
    for lane in &report.lanes {
        tracing::info!(
            profile = %lane.profile,
            completed = lane.completed,
            released = lane.released,
            abandoned = lane.abandoned,
            "lane stopped"
        );
    }
}

/// `cardbatch sandbox`: the four provider simulators on loopback until SIGINT/SIGTERM. Once it
/// listens it prints what a client needs (base URLs, development credentials, admin routes).
#[cfg(feature = "sandbox")]
pub async fn sandbox(
    config: Option<&std::path::Path>,
    listen: std::net::SocketAddr,
) -> anyhow::Result<ExitCode> {
    crate::sandbox::run(
        config,
        listen,
        // Not `eprintln!`: a reader that closed our stderr must not bring the sandbox down.
        |running| {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{}", running.guide());
        },
        shutdown_signal(),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
