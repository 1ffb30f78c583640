//! The listener and the per-connection serving. Connections are served one by one with hyper
//! (not `axum::serve`) so that a handler can make its connection vanish: a lost response.

use super::admin;
use super::config::SandboxConfig;
use super::core::{ConnectionKill, Core, FaultConfig, Ledger, LostResponse, Stats, until_stopped};
use super::fixtures::Fixtures;
use super::{alchemypay, qitech, uqpay};
use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// How long open connections may finish their requests once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Config(#[from] super::config::ConfigError),
    #[error(transparent)]
    Fixtures(#[from] super::fixtures::FixturesError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read the listener's address: {0}")]
    LocalAddr(std::io::Error),
}

/// Entry point of the sandbox.
#[derive(Debug)]
pub struct Sandbox;

/// A sandbox serving in the background.
#[derive(Debug)]
pub struct RunningSandbox {
    addr: SocketAddr,
    core: Arc<Core>,
    accept: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

/// Where QI Tech (prepaid and postpaid) is mounted: its base URL is the sandbox's plus this.
pub const QITECH_MOUNT: &str = "/qitech";
/// Where Alchemy Pay VCC is mounted.
pub const ALCHEMYPAY_MOUNT: &str = "/alchemypay";
/// Where UQPAY is mounted (UQPAY's own base URLs end in `/api`).
pub const UQPAY_MOUNT: &str = "/uqpay/api";

/// Where UQPAY's own base URL puts its API: a client given only the sandbox's address finds it
/// there too.
const UQPAY_OWN_PATH: &str = "/api";

/// UQPAY once more, under a path with `sandbox` in it: the official SDKs enable their simulator
/// resource (`/v1/simulation/...`) only for a base URL containing `sandbox`.
pub const UQPAY_SIMULATOR_MOUNT: &str = "/uqpay/sandbox/api";

/// Every provider's routes plus the admin routes, on one router.
///
/// Each provider is served twice, over the same state: under its mount (the built-in profiles'
/// base URLs) and at its own paths from the root, as on its own host (`/prepaid/card`,
/// `/wallet/...`, `/test/{api_key}`, `/open/api/card/...`, `/api/v1/...`; none collide). A
/// client that takes only a host, or resolves an absolute path against its base URL as
/// `Url::join` and `urljoin` do (dropping the mount), reaches the provider all the same.
pub fn app(core: Arc<Core>) -> Router {
    let qitech = qitech::router(Arc::clone(&core));
    let alchemypay = alchemypay::router(Arc::clone(&core));
    let uqpay = uqpay::router(Arc::clone(&core));
    admin::router(core)
        .nest(QITECH_MOUNT, qitech.clone())
        .nest(ALCHEMYPAY_MOUNT, alchemypay.clone())
        .nest(UQPAY_MOUNT, uqpay.clone())
        .nest(UQPAY_SIMULATOR_MOUNT, uqpay.clone())
        .merge(qitech)
        .merge(alchemypay)
        .nest(UQPAY_OWN_PATH, uqpay)
}

impl Sandbox {
    /// Serves every provider on `listener` until [`RunningSandbox::shutdown`]. Fixtures come
    /// from `config.fixtures` or the built-in set. Must be called inside a Tokio runtime.
    pub fn start(
        config: SandboxConfig,
        listener: TcpListener,
    ) -> Result<RunningSandbox, SandboxError> {
        config.validate()?;
        let fixtures = Fixtures::load(config.fixtures.as_deref())?;
        let addr = listener.local_addr().map_err(SandboxError::LocalAddr)?;
        let core = Core::new(config, fixtures);
        let router = app(Arc::clone(&core));
        let (stop, stop_rx) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(listener, router, stop_rx));
        Ok(RunningSandbox {
            addr,
            core,
            accept,
            stop,
        })
    }
}

impl RunningSandbox {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shared state (ledger, stats, clock, faults).
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Every card created so far.
    pub fn ledger(&self) -> &Ledger {
        &self.core.ledger
    }

    /// Counters per provider.
    pub fn stats(&self) -> &Stats {
        &self.core.stats
    }

    /// The guide to this sandbox (see [`crate::guide`]).
    pub fn guide(&self) -> String {
        crate::guide(&self.core.config, self.addr)
    }

    /// Replaces one provider's faults (`provider` as in `ProviderKind::as_str`).
    pub fn set_faults(&self, provider: &str, faults: FaultConfig) {
        self.core.set_faults(provider, faults);
    }

    /// Stops accepting, lets open connections finish (up to a few seconds) and stops lifecycle
    /// timers and webhook retries.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        self.core.begin_shutdown();
        let _ = self.accept.await;
    }
}

async fn accept_loop(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, router.clone(), stop.clone()));
                }
                Err(e) => {
                    // Usually EMFILE under load: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "sandbox accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = until_stopped(&mut stop) => break,
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
}

async fn serve_connection(stream: TcpStream, router: Router, mut stop: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let kill = ConnectionKill::default();
    let service = hyper::service::service_fn({
        let kill = kill.clone();
        move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(kill.clone());
            let router = router.clone();
            let kill = kill.clone();
            async move {
                let request: Request = request.map(axum::body::Body::new);
                // In a task of its own: a provider goes on with a request whose client hung up
                // (a card is still made, its callback still sent); hyper would drop it.
                let response = match tokio::spawn(router.oneshot(request)).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(never)) => match never {},
                    Err(e) => {
                        tracing::error!(error = %e, "sandbox handler failed");
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
                    }
                };
                if response.extensions().get::<LostResponse>().is_some() {
                    kill.kill();
                    // Never answer: the connection task drops the socket.
                    std::future::pending::<()>().await;
                }
                Ok::<_, Infallible>(response)
            }
        }
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "sandbox connection ended with an error");
            }
        }
        // Dropping the connection closes the socket without writing a byte.
        _ = kill.killed() => {}
        _ = until_stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
        }
    }
}

/// Runs the sandbox until `shutdown` resolves: the entry point of `cardbatch sandbox`, which
/// prints the [`RunningSandbox::guide`] from `on_start` once the sandbox listens.
pub async fn run(
    config_path: Option<&std::path::Path>,
    listen: SocketAddr,
    on_start: impl FnOnce(&RunningSandbox),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), SandboxError> {
    let config = SandboxConfig::load(config_path)?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| SandboxError::Bind {
            addr: listen,
            source,
        })?;
    let running = Sandbox::start(config, listener)?;
    tracing::info!(addr = %running.addr(), "sandbox listening: /qitech, /alchemypay, /uqpay/api (and each at its own paths from the root), /_sandbox");
    on_start(&running);
    shutdown.await;
    running.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    #[tokio::test]
    async fn a_lost_response_closes_the_connection_without_a_byte_and_others_are_answered() {
        // Arrange
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new()
            .route("/lost", get(|| async { LostResponse }))
            .route("/ok", get(|| async { "fine" }));
        let (stop, stop_rx) = watch::channel(false);
        let server = tokio::spawn(accept_loop(listener, router, stop_rx));
        let client = reqwest::Client::new();

        // Act
        let lost = client.get(format!("http://{addr}/lost")).send().await;
        let ok = client
            .get(format!("http://{addr}/ok"))
            .send()
            .await
            .unwrap();

        // Assert
        let err = lost.expect_err("no response must arrive");
        assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
        assert_eq!(ok.text().await.unwrap(), "fine");
        stop.send_replace(true);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn run_serves_every_prefix_until_its_shutdown_future_resolves() {
        // Arrange: a free loopback port (bound, then released for `run` to take).
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            run(None, addr, |_| {}, async {
                let _ = stop_rx.await;
            })
            .await
        });
        let http = reqwest::Client::new();

        // Act
        let mut health = None;
        for _ in 0..200 {
            match http
                .get(format!("http://{addr}/_sandbox/health"))
                .send()
                .await
            {
                Ok(r) => {
                    health = Some(r.text().await.unwrap());
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        let token = http
            .post(format!("http://{addr}/uqpay/api/v1/connect/token"))
            .header("x-client-id", "uqpay-sandbox-client")
            .header("x-api-key", "uqpay-sandbox-api-key")
            .send()
            .await
            .unwrap();
        stop_tx.send(()).unwrap();

        // Assert
        assert_eq!(health.as_deref(), Some("ok"));
        assert_eq!(token.status(), axum::http::StatusCode::OK);
        server.await.unwrap().unwrap();
    }
}
