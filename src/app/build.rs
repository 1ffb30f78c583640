//! Building the application: store, credentials, one paced client per profile, keys.

use super::running::Running;
use crate::config::{Config, Profile};
use crate::domain::ProviderKind;
use crate::jobs::Schedule;
use crate::lanes::{Lane, LocalLane, SharedLane};
use crate::providers::alchemypay::CheckKeys;
use crate::providers::{
    BuildError, CredentialError, Credentials, ProfileClient, ProfileClients, ProviderEnv,
};
use crate::reconcile::{LookupOptions, ProcessOptions};
use crate::store::Store;
use crate::webhooks::{KeyError, WebhookKeys};
use crate::worker::{Clock, IssueHandler, RunReport, Runtime};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Why the application could not be assembled or started.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A credential a profile names is missing.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// A profile's client refused its configuration.
    #[error("Failed to set up the provider clients: {0}")]
    Client(#[from] BuildError),
    /// A profile's webhook key is unreadable.
    #[error(transparent)]
    WebhookKey(#[from] KeyError),
    /// The API would listen beyond loopback with no token to guard it.
    #[error(
        "refusing to serve the API on {0}, which is not a loopback address, while no API token exists: make one first (`cardbatch token create --name NAME --role ROLE`)"
    )]
    ApiWithoutToken(SocketAddr),
    /// The store could not be read while starting.
    #[error("Failed to read the database: {0}")]
    Store(#[from] crate::store::Error),
    /// The server's address could not be bound.
    #[error("Failed to listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Which parts of the application a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Services {
    /// The issuing workers of every profile.
    pub workers: bool,
    /// The HTTP server: webhooks, Alchemy Pay reverse validation, health.
    pub server: bool,
    /// The webhook event processor.
    pub processor: bool,
    /// The reconciler (lookups of orders whose confirmation has not come).
    pub reconciler: bool,
    /// The scheduler: fires the due slots of the schedules given by [`App::with_schedules`].
    pub scheduler: bool,
}

impl Services {
    /// `cardbatch run` (and the demo): everything.
    pub const ALL: Services = Services {
        workers: true,
        server: true,
        processor: true,
        reconciler: true,
        scheduler: true,
    };
    /// `cardbatch worker`: the workers only.
    pub const WORKERS: Services = Services {
        workers: true,
        server: false,
        processor: false,
        reconciler: false,
        scheduler: false,
    };
    /// `cardbatch serve`: the server, the event processor, the reconciler and the scheduler:
    /// everything but the workers, so that `worker` processes plus one `serve` make a whole
    /// `run`.
    pub const SERVER: Services = Services {
        workers: false,
        server: true,
        processor: true,
        reconciler: true,
        scheduler: true,
    };
}

/// The assembled application, not yet started.
pub struct App {
    pub(super) config: Config,
    pub(super) store: Store,
    pub(super) clients: ProfileClients,
    pub(super) webhook_keys: WebhookKeys,
    pub(super) check_keys: CheckKeys,
    pub(super) process: ProcessOptions,
    pub(super) lookup: LookupOptions,
    pub(super) clock: Clock,
    pub(super) schedules: Vec<Schedule>,
}

impl App {
    /// Assembles the application over an open (migrated) `store`, reading each profile's
    /// credentials once with `credentials`: `Credentials::from_env` for the CLI (a missing
    /// variable is an error naming it); the demo and tests pass the sandbox's development values
    /// in process.
    pub fn with_store<F>(config: &Config, store: Store, mut credentials: F) -> Result<App, AppError>
    where
        F: FnMut(&str, &Profile) -> Result<Credentials, CredentialError>,
    {
        let env = ProviderEnv {
            http: crate::providers::http::client(),
            store: store.clone(),
            public_url: config.public_url(),
        };
        let mut clients = ProfileClients::new();
        let public_path = config.public_path();
        let mut webhook_keys = WebhookKeys::new().with_public_path(&public_path);
        let mut check_keys = CheckKeys::new().with_public_path(&public_path);
        for (name, profile) in &config.profiles {
            let creds = credentials(name, profile)?;
            let provider = crate::providers::build(name, profile, &creds, &env)?;
            // The lane is chosen here and only here: callers see `dyn Lane`.
            // Postgres: one budget shared by every process on the database; SQLite: in process.
            let lane: Arc<dyn Lane> = match store.lane_budget(name) {
                Some(budget) => Arc::new(SharedLane::new(budget, profile.rate_limit_per_sec)),
                None => Arc::new(LocalLane::new(profile.rate_limit_per_sec).named(name)),
            };
            clients = clients.with(
                ProfileClient::new(name, provider, lane).with_concurrency(profile.concurrency),
            );
            webhook_keys.add_profile(name, profile, &creds)?;
            if profile.provider == ProviderKind::AlchemypayVcc {
                check_keys.add_profile(name, &creds)?;
            }
        }
        tracing::debug!(keys = ?webhook_keys, profiles = ?clients.names(), "application assembled");
        Ok(App {
            lookup: LookupOptions::from(&config.reconcile),
            process: ProcessOptions::default(),
            config: config.clone(),
            store,
            clients,
            webhook_keys,
            check_keys,
            clock: Clock::System,
            schedules: Vec::new(),
        })
    }

    /// Paces the event processor with `options` instead of the defaults (the demo and tests,
    /// whose sandbox lifecycles take milliseconds).
    pub fn with_process_options(mut self, options: ProcessOptions) -> App {
        self.process = options;
        self
    }

    /// Paces the reconciler with `options` instead of `config.reconcile`'s.
    pub fn with_lookup_options(mut self, options: LookupOptions) -> App {
        self.lookup = options;
        self
    }

    /// Checks webhooks with `keys` instead of the ones the profiles' credentials give (tests that
    /// sign webhooks with keys of their own).
    pub fn with_webhook_keys(mut self, keys: WebhookKeys) -> App {
        self.webhook_keys = keys;
        self
    }

    /// The scheduler service fires these schedules (`cardbatch run` loads them from `jobs_dir`;
    /// without them it does not start).
    pub fn with_schedules(mut self, schedules: Vec<Schedule>) -> App {
        self.schedules = schedules;
        self
    }

    /// The workers read "now" from `clock` (tests).
    pub fn with_clock(mut self, clock: Clock) -> App {
        self.clock = clock;
        self
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The paced client of every profile.
    pub fn clients(&self) -> &ProfileClients {
        &self.clients
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The issuing handler over every profile's paced client.
    pub fn issue_handler(&self) -> IssueHandler {
        IssueHandler::new(self.clients.clone())
    }

    /// Runs the workers of every profile until nothing is due and nothing is running (tests and
    /// benchmarks; retries due later are left for the next run).
    pub async fn drain(&self) -> Result<RunReport, crate::worker::Error> {
        Runtime::new(
            self.store.clone(),
            self.config.profiles.clone(),
            Arc::new(self.issue_handler()),
            self.config.worker.clone(),
        )
        .with_clock(self.clock.clone())
        .drain_until_idle()
        .await
    }

    /// Starts `services`, binding `server.listen` when the server is one of them.
    pub async fn start(self, services: Services) -> Result<Running, AppError> {
        let listener = if services.server {
            let addr = self.config.server.listen;
            if !addr.ip().is_loopback() && !self.store.api_token_any().await? {
                return Err(AppError::ApiWithoutToken(addr));
            }
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| AppError::Listen { addr, source })?;
            Some(listener)
        } else {
            None
        };
        // `/metrics` on an address of its own too (e.g. for a scraper kept off the API's port):
        // in every process that runs, a worker-only one included.
        let metrics = match self.config.metrics.listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| AppError::Listen { addr, source })?,
            ),
            None => None,
        };
        let mut running = self.start_on(listener, services);
        if let Some(metrics) = metrics {
            running.serve_metrics(metrics);
        }
        Ok(running)
    }

    /// Starts `services`, the server (if asked for) on `listener`, already bound (port 0 in
    /// the demo and tests). Must be called inside a Tokio runtime.
    pub fn start_on(self, listener: Option<TcpListener>, services: Services) -> Running {
        Running::start(self, listener, services)
    }
}
