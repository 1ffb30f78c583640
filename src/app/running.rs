//! A started application, and the one order in which it stops.

use super::build::{App, Services};
use crate::jobs::Scheduler;
use crate::providers::ProfileClients;
use crate::reconcile::{Reconciler, run_event_processor};
use crate::store::Store;
use crate::webhooks::WebhookState;
use crate::worker::{RunReport, Runtime};
use anyhow::Context;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

/// The started services of an [`App`].
pub struct Running {
    store: Store,
    clients: ProfileClients,
    server_addr: Option<SocketAddr>,
    /// Stops the server, the event processor and the reconciler.
    stop: watch::Sender<bool>,
    stop_workers: Option<oneshot::Sender<()>>,
    workers: Option<JoinHandle<Result<RunReport, crate::worker::Error>>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// `/metrics` on `metrics.listen`, when configured.
    metrics_server: Option<JoinHandle<std::io::Result<()>>>,
    processor: Option<JoinHandle<()>>,
    reconciler: Option<JoinHandle<()>>,
    scheduler: Option<JoinHandle<()>>,
}

impl Running {
    pub(super) fn start(app: App, listener: Option<TcpListener>, services: Services) -> Running {
        let (stop, _) = watch::channel(false);
        let until_stopped = || {
            let mut rx = stop.subscribe();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let wake = Arc::new(Notify::new());

        let listener = listener.filter(|_| services.server);
        let server_addr = listener.as_ref().and_then(|l| l.local_addr().ok());
        let server = listener.map(|listener| {
            let api = crate::server::api::ApiState {
                store: app.store.clone(),
                config: Arc::new(app.config.clone()),
            };
            let router = crate::server::app_with_webhooks(
                app.store.clone(),
                app.check_keys.clone(),
                WebhookState::new(app.store.clone(), app.webhook_keys.clone(), wake.clone()),
            )
            // After the webhooks' body limit: uploads have their own (`MAX_UPLOAD_BYTES`).
            .merge(crate::server::api::routes(api.clone()))
            .merge(crate::server::dashboard::routes(api, app.clients.clone()))
            .merge(crate::server::metrics::routes(
                crate::server::metrics::MetricsState {
                    store: app.store.clone(),
                    clients: app.clients.clone(),
                },
            ));
            tokio::spawn(crate::server::serve(listener, router, until_stopped()))
        });
        let processor = services.processor.then(|| {
            tokio::spawn(run_event_processor(
                app.store.clone(),
                app.clients.clone(),
                wake.clone(),
                app.process.clone(),
                until_stopped(),
            ))
        });
        let reconciler = services.reconciler.then(|| {
            let reconciler =
                Reconciler::new(app.store.clone(), app.clients.clone(), app.lookup.clone());
            tokio::spawn(reconciler.run(until_stopped()))
        });
        // The scheduler: one more service, stopped with the server (see `stop_services`).
        let scheduler = (services.scheduler && !app.schedules.is_empty()).then(|| {
            let scheduler =
                Scheduler::new(app.store.clone(), app.config.clone(), app.schedules.clone());
            tokio::spawn(scheduler.run(until_stopped()))
        });
        let (stop_workers, workers) = if services.workers {
            let (tx, rx) = oneshot::channel::<()>();
            let runtime = Runtime::new(
                app.store.clone(),
                app.config.profiles.clone(),
                Arc::new(app.issue_handler()),
                app.config.worker.clone(),
            )
            .with_clock(app.clock.clone());
            let handle = tokio::spawn(runtime.run(async move {
                let _ = rx.await;
            }));
            (Some(tx), Some(handle))
        } else {
            (None, None)
        };
        tracing::info!(
            listen = ?server_addr,
            profiles = ?app.clients.names(),
            ?services,
            "cardbatch started"
        );
        Running {
            store: app.store,
            clients: app.clients,
            server_addr,
            stop,
            stop_workers,
            workers,
            server,
            metrics_server: None,
            processor,
            reconciler,
            scheduler,
        }
    }

    /// Serves `/metrics` alone on `listener` (`metrics.listen`) until the services stop.
    pub(super) fn serve_metrics(&mut self, listener: TcpListener) {
        tracing::info!(listen = ?listener.local_addr().ok(), "metrics served");
        let router = crate::server::metrics::routes(crate::server::metrics::MetricsState {
            store: self.store.clone(),
            clients: self.clients.clone(),
        });
        let mut rx = self.stop.subscribe();
        let stopped = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        self.metrics_server = Some(tokio::spawn(crate::server::serve(
            listener, router, stopped,
        )));
    }

    /// Where the server listens, if it runs.
    pub fn server_addr(&self) -> Option<SocketAddr> {
        self.server_addr
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The paced client of every profile (its lane's numbers, in tests and reports).
    pub fn clients(&self) -> &ProfileClients {
        &self.clients
    }

    /// Runs until `shutdown` resolves, then stops, in this order:
    ///
    /// 1. the workers stop claiming and finish the calls they started within
    ///    `worker.shutdown_grace_secs`; the server stays up meanwhile, because Alchemy Pay
    ///    validates an in-flight create by calling it back;
    /// 2. the server (letting requests in progress finish), the event processor, the scheduler
    ///    (a run in progress is abandoned: its batch rolls back, another process retries it) and the
    ///    reconciler.
    ///
    /// Returns what the workers did (empty when they did not run).
    pub async fn run_until<F>(mut self, shutdown: F) -> anyhow::Result<RunReport>
    where
        F: Future<Output = ()> + Send,
    {
        let workers = self.workers.take();
        let report = match workers {
            Some(mut handle) => {
                // A worker runtime that ends by itself (an error) stops the application too.
                let early = tokio::select! {
                    _ = shutdown => None,
                    ended = &mut handle => Some(ended),
                };
                if let Some(tx) = self.stop_workers.take() {
                    let _ = tx.send(());
                }
                let ended = match early {
                    Some(ended) => ended,
                    None => handle.await,
                };
                Some(ended.context("the workers' task failed"))
            }
            None => {
                shutdown.await;
                None
            }
        };
        self.stop_services().await?;
        match report {
            Some(report) => Ok(report??),
            None => Ok(RunReport::default()),
        }
    }

    /// Stops everything at once (see [`Running::run_until`] for the order).
    pub async fn stop(self) -> anyhow::Result<RunReport> {
        self.run_until(std::future::ready(())).await
    }

    async fn stop_services(&mut self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        if let Some(server) = self.server.take() {
            server
                .await
                .context("the server task failed")?
                .context("the server failed")?;
        }
        if let Some(metrics) = self.metrics_server.take() {
            metrics
                .await
                .context("the metrics server task failed")?
                .context("the metrics server failed")?;
        }
        if let Some(processor) = self.processor.take() {
            processor.await.context("the event processor failed")?;
        }
        if let Some(reconciler) = self.reconciler.take() {
            reconciler.await.context("the reconciler failed")?;
        }
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.await.context("the scheduler failed")?;
        }
        Ok(())
    }
}
