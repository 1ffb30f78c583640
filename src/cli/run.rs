//! The long-running commands: `run`, `worker` and `sandbox` (`serve` is in `serve.rs`).

use super::open_store;
use crate::config::Config;
use crate::domain::ProviderKind;
use crate::providers::alchemypay::CheckKeys;
use crate::providers::{Credentials, ProviderEnv};
use crate::reconcile::{LookupOptions, Reconciler};
use crate::store::Store;
use crate::worker::{IssueHandler, RunReport};
use anyhow::Context;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::TcpListener;

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

/// `cardbatch worker`: the workers of every profile, without the HTTP server.
pub async fn worker(config: &Config) -> anyhow::Result<ExitCode> {
    let store = open_store(config).await?;
    let (handler, _) = issue_handler(config, &store)?;
    let report = crate::worker::run(
        store,
        config.profiles.clone(),
        Arc::new(handler),
        config.worker.clone(),
        shutdown_signal(),
    )
    .await?;
    log_report(&report);
    Ok(ExitCode::SUCCESS)
}

/// `cardbatch run`: the workers of every profile plus the HTTP server, in one process.
///
/// 1. Build every profile's client (credentials from the environment; a missing variable is an
///    error naming it) and bind the server, so a misconfiguration fails before any order moves.
/// 2. Serve, work and reconcile (look up orders whose webhook has not come) until SIGINT/SIGTERM.
/// 3. On the signal the workers stop first and finish their calls within the grace period; the
///    server stays up meanwhile, because Alchemy Pay validates an in-flight create by calling it
///    back. Then the server stops.
pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let store = open_store(config).await?;
    let (handler, _) = issue_handler(config, &store)?;
    let webhooks = super::serve::WebhookSetup::from_config(config, &store)?;
    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("Failed to listen on {}", config.server.listen))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        profiles = ?handler.profiles(),
        "cardbatch running"
    );
    let (stop_server, server_stopped) = tokio::sync::watch::channel(false);
    let processor = webhooks.spawn_processor(store.clone(), server_stopped.clone());
    let reconciler = spawn_reconciler(config, &store, &handler, server_stopped.clone());
    let app = crate::server::app_with_webhooks(
        store.clone(),
        webhooks.alchemy_keys.clone(),
        webhooks.state.clone(),
    );
    let server = tokio::spawn(crate::server::serve(listener, app, async move {
        let mut rx = server_stopped;
        let _ = rx.wait_for(|stop| *stop).await;
    }));
    let report = crate::worker::run(
        store,
        config.profiles.clone(),
        Arc::new(handler),
        config.worker.clone(),
        shutdown_signal(),
    )
    .await;
    stop_server.send_replace(true);
    server
        .await
        .context("the server task failed")?
        .context("the server failed")?;
    processor.await.context("the event processor failed")?;
    reconciler.await.context("the reconciler failed")?;
    log_report(&report?);
    Ok(ExitCode::SUCCESS)
}

/// Starts the reconciler over every profile's client, its lookups paced by the workers' lanes;
/// it stops when `stop` holds `true`.
fn spawn_reconciler(
    config: &Config,
    store: &Store,
    handler: &IssueHandler,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let mut reconciler = Reconciler::new(
        store.clone(),
        handler.providers(),
        LookupOptions::from(&config.reconcile),
    );
    for profile in handler.profiles() {
        if let Some(lane) = handler.lane(&profile) {
            reconciler = reconciler.with_lane(&profile, lane);
        }
    }
    tokio::spawn(reconciler.run(async move {
        let mut stop = stop;
        let _ = stop.wait_for(|s| *s).await;
    }))
}

/// The issuing handler for every configured profile, and the Alchemy Pay check keys.
fn issue_handler(config: &Config, store: &Store) -> anyhow::Result<(IssueHandler, CheckKeys)> {
    let env = ProviderEnv {
        http: crate::providers::http::client(),
        store: store.clone(),
        public_url: config.public_url(),
    };
    let mut keys = CheckKeys::new();
    let handler = IssueHandler::from_profiles(&config.profiles, &env, |name, profile| {
        let credentials = Credentials::from_env(name, profile)?;
        if profile.provider == ProviderKind::AlchemypayVcc {
            keys.add_profile(name, &credentials)?;
        }
        Ok(credentials)
    })
    .context("Failed to set up the provider clients")?;
    Ok((handler, keys))
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
/// listens, the guide (base URLs, development credentials, callback targets, admin routes) goes
/// to stderr.
#[cfg(feature = "sandbox")]
pub async fn sandbox(
    config: Option<&std::path::Path>,
    listen: SocketAddr,
) -> anyhow::Result<ExitCode> {
    let print_guide = |running: &crate::sandbox::RunningSandbox| eprint!("{}", running.guide());
    crate::sandbox::run(config, listen, print_guide, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
