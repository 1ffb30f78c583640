//! The long-running commands: `run`, `worker`, `serve` and `sandbox`. The first three assemble
//! the application with [`App::with_store`] and differ only in the [`Services`] they start.

use crate::app::{App, Services};
use crate::config::Config;
use crate::providers::Credentials;
use crate::worker::RunReport;
use std::process::ExitCode;

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
    let app = App::with_store(config, store, Credentials::from_env)?;
    let running = app.start(services).await?;
    let report = running.run_until(shutdown_signal()).await?;
    log_report(&report);
    Ok(ExitCode::SUCCESS)
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
