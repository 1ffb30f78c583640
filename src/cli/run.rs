//! The long-running commands: `worker` and `sandbox`.

use super::open_store;
use crate::config::Config;
use std::net::SocketAddr;
use std::path::Path;
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

pub async fn worker(config: &Config) -> anyhow::Result<ExitCode> {
    let store = open_store(config).await?;
    let _ = &store;
    anyhow::bail!("the provider clients are not built yet; `cardbatch worker` has nothing to call");
    #[allow(unreachable_code)]
    let handler: std::sync::Arc<dyn crate::worker::OrderHandler> = todo!();
    let report = crate::worker::run(
        store,
        config.profiles.clone(),
        handler,
        config.worker.clone(),
        shutdown_signal(),
    )
    .await?;
    for lane in &report.lanes {
        tracing::info!(
            profile = %lane.profile,
            completed = lane.completed,
            released = lane.released,
            abandoned = lane.abandoned,
            "lane stopped"
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn sandbox(config: Option<&Path>, listen: SocketAddr) -> anyhow::Result<ExitCode> {
    eprintln!(
        "sandbox on http://{listen}: /qitech (prepaid + postpaid), /alchemypay, /uqpay/api; admin at /_sandbox"
    );
    crate::sandbox::run(config, listen, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
