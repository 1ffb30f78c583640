//! The running application for a test (zero2prod's `spawn_app`), and the one place the tests
//! assemble cardbatch: [`spawn_app`] starts the sandbox with one provider, a store on the test's
//! database, cardbatch's server (Alchemy Pay's reverse validation, the webhook endpoints), the
//! issuing handler (one client and one lane per profile) and, when asked, the
//! event processor. A test then runs the workers ([`TestApp::run_until_settled`]), reconciler
//! passes ([`TestApp::reconciler`]) and processor passes ([`process_events`]) as it needs. The
//! application is assembled by cardbatch's composition root, `App`, as the commands do it.

use crate::support::{
    TestDb, assert_one_card_per_order, dev_credentials, profile, start_sandbox, submit_csv,
    wait_settled,
};
use cardbatch::app::{App, Running, Services};
use cardbatch::config::{Config, Profile, ServerConfig, WorkerConfig};
use cardbatch::domain::ProviderKind;
use cardbatch::lanes::LaneStats;
use cardbatch::providers::{Credentials, ProfileClients};
use cardbatch::reconcile::{
    LookupOptions, ProcessOptions, ProcessReport, Reconciler, process_pending_events,
};
use cardbatch::sandbox::config::DEV_UQPAY_WEBHOOK_SECRET;
use cardbatch::sandbox::{ProviderSettings, RunningSandbox, SandboxConfig};
use cardbatch::store::{OrderRow, Store};
use cardbatch::webhooks::WebhookKeys;
use cardbatch::worker::{IssueHandler, RunReport, Runtime};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::net::TcpListener;
use uuid::Uuid;

/// What [`spawn_app`] starts.
pub struct AppSetup {
    /// The provider of the app's only profile, named after it, on the sandbox.
    pub kind: ProviderKind,
    /// The sandbox's seed and time scale.
    pub sandbox: SandboxConfig,
    /// The simulated provider (faults, lifecycle, options). `spawn_app` points Alchemy Pay's
    /// `check_url` and, with [`Webhooks::FromSandbox`], the webhook URL at cardbatch's server.
    pub provider: ProviderSettings,
    /// The profile's `rate_limit_per_sec` and `concurrency`.
    pub rate: f64,
    pub concurrency: u32,
    pub webhooks: Webhooks,
    /// Runs the event processor with these options.
    pub processor: Option<ProcessOptions>,
    /// Changes the profile before the app starts (approval thresholds, ...).
    pub profile_edit: fn(&mut Profile),
}

impl AppSetup {
    /// `kind` on a sandbox with seed 7 and no faults, at 200 calls/s, 8 at once, without webhook
    /// endpoints or event processor.
    pub fn new(kind: ProviderKind) -> AppSetup {
        AppSetup {
            kind,
            sandbox: SandboxConfig {
                seed: 7,
                ..SandboxConfig::default()
            },
            provider: ProviderSettings::default(),
            rate: 200.0,
            concurrency: 8,
            webhooks: Webhooks::Off,
            processor: None,
            profile_edit: |_| {},
        }
    }
}

/// cardbatch's webhook endpoints in a [`TestApp`].
pub enum Webhooks {
    /// None: the sandbox's webhooks, if it sends any, are refused.
    Off,
    /// The sandbox sends its webhooks to cardbatch, which checks them with the sandbox's keys
    /// (the development `webhook_secret` and QI public key in the profile's credentials).
    FromSandbox,
    /// Endpoints checking keys the test holds, for tests that sign webhooks themselves.
    Keys(WebhookKeys),
}

/// cardbatch running against the sandbox; stopped by [`TestApp::shutdown`] or when dropped.
pub struct TestApp {
    pub kind: ProviderKind,
    pub store: Store,
    /// cardbatch's server, `http://127.0.0.1:port`.
    pub url: String,
    pub sandbox: RunningSandbox,
    /// The profile, named after its provider.
    pub profile: Profile,
    /// The issuing handler the workers run (one client and one lane per profile).
    pub handler: IssueHandler,
    /// Every profile's client behind its lane, as the workers, the reconciler and the event
    /// processor share them.
    pub clients: ProfileClients,
    /// Where submitted CSV files are written.
    dir: tempfile::TempDir,
    running: Option<Running>,
}

/// Starts cardbatch on `db` as `setup` says, assembled by `App` as `cardbatch serve` is.
pub async fn spawn_app(db: &TestDb, setup: AppSetup) -> TestApp {
    let AppSetup {
        kind,
        sandbox,
        mut provider,
        rate,
        concurrency,
        webhooks,
        processor,
        profile_edit,
    } = setup;
    let store = db.store().await;
    store.migrate().await.expect("migrate");

    // cardbatch's address first: the sandbox calls it back (Alchemy Pay before it creates a
    // card, webhooks after).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    if kind == ProviderKind::AlchemypayVcc {
        provider
            .options
            .insert("check_url".into(), format!("{url}/alchemypay/create-check"));
    }
    if matches!(webhooks, Webhooks::FromSandbox) {
        provider.webhook_url = Some(format!("{url}/webhooks/{}", webhook_endpoint(kind)));
    }
    let sandbox = start_sandbox(sandbox.with_provider(kind, provider.clone())).await;
    let mut profile = Profile {
        rate_limit_per_sec: rate,
        concurrency,
        ..profile(kind, &sandbox.addr().to_string())
    };
    profile_edit(&mut profile);
    let profiles = BTreeMap::from([(kind.as_str().to_string(), profile.clone())]);
    let config = config(profiles, addr);
    // Without webhooks, the profile holds no webhook key: the endpoints refuse every event.
    // With the sandbox's, it holds the keys this sandbox signs with.
    let mut creds = credentials(kind);
    if matches!(webhooks, Webhooks::FromSandbox) {
        creds = creds.with(sandbox_keys(kind, &sandbox, &provider).await);
    }
    let mut app = App::with_store(&config, store.clone(), |_, _| Ok(creds.clone()))
        .expect("the application assembles");
    if let Webhooks::Keys(keys) = webhooks {
        app = app.with_webhook_keys(keys);
    }
    let services = Services {
        workers: false,
        server: true,
        processor: processor.is_some(),
        reconciler: false,
        scheduler: false,
    };
    if let Some(options) = processor {
        app = app.with_process_options(options);
    }
    let handler = app.issue_handler();
    let clients = app.clients().clone();
    let running = app.start_on(Some(listener), services);
    TestApp {
        kind,
        store,
        url,
        sandbox,
        profile,
        handler,
        clients,
        dir: tempfile::tempdir().unwrap(),
        running: Some(running),
    }
}

/// The configuration of a test app: `profiles`, the server on `addr`.
fn config(profiles: BTreeMap<String, Profile>, addr: std::net::SocketAddr) -> Config {
    Config {
        server: ServerConfig {
            listen: addr,
            public_url: Some(format!("http://{addr}")),
        },
        worker: worker_config(),
        profiles,
        ..Config::without_profiles()
    }
}

/// One event processor pass over `store` at `now_ms` (no provider clients: no Alchemy Pay
/// callback can be confirmed).
pub async fn process_events(store: &Store, options: &ProcessOptions, now_ms: i64) -> ProcessReport {
    process_pending_events(store, &ProfileClients::new(), options, now_ms)
        .await
        .unwrap()
}

impl TestApp {
    /// The profile's name (its provider's).
    pub fn name(&self) -> &'static str {
        self.kind.as_str()
    }

    /// Submits `csv` through the real ingest path; returns the batch id.
    pub async fn submit_csv(&self, csv: &str) -> Uuid {
        submit_csv(&self.store, &self.profile, self.dir.path(), csv).await
    }

    /// Runs the workers with [`TestApp::handler`] until no order is moving any more.
    pub async fn run_until_settled(&self) -> RunReport {
        let profiles = BTreeMap::from([(self.name().to_string(), self.profile.clone())]);
        Runtime::new(
            self.store.clone(),
            profiles,
            Arc::new(self.handler.clone()),
            worker_config(),
        )
        .run(wait_settled(self.store.clone()))
        .await
        .expect("the runtime stops cleanly")
    }

    /// Runs the workers with [`TestApp::handler`] until nothing is due and nothing is running
    /// (orders of a paused batch stay queued).
    pub async fn drain(&self) -> RunReport {
        let profiles = BTreeMap::from([(self.name().to_string(), self.profile.clone())]);
        Runtime::new(
            self.store.clone(),
            profiles,
            Arc::new(self.handler.clone()),
            worker_config(),
        )
        .drain_until_idle()
        .await
        .expect("the runtime stops cleanly")
    }

    /// A reconciler over the app's clients, for passes the test drives.
    pub fn reconciler(&self, options: LookupOptions) -> Reconciler {
        Reconciler::new(self.store.clone(), self.clients.clone(), options)
    }

    /// The numbers of the profile's lane (every provider call of the profile takes a permit).
    pub fn lane(&self) -> LaneStats {
        self.clients
            .get(self.name())
            .expect("the profile's client")
            .lane()
            .stats()
    }

    /// Orders of `batch` in line order.
    pub async fn orders(&self, batch: Uuid) -> Vec<OrderRow> {
        self.store.order_list(batch, None).await.unwrap()
    }

    /// A sandbox counter of this provider (`faults_transient`, `rate_limited`, ...).
    pub fn stat(&self, name: &str) -> u64 {
        self.sandbox.stats().get(self.name(), name)
    }

    /// See [`assert_one_card_per_order`].
    pub async fn assert_one_card_per_order(&self, expected: &[i64]) -> usize {
        assert_one_card_per_order(&self.sandbox, &self.store, self.kind, expected).await
    }

    /// Stops the server and the processor (requests in progress finish) and closes the store.
    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("the app stops cleanly");
        }
        self.store.close().await;
    }
}

/// The sandbox's credentials for `kind` without its webhook keys.
fn credentials(kind: ProviderKind) -> Credentials {
    Credentials::from_pairs(
        dev_credentials(kind)
            .into_iter()
            .filter(|(name, _)| !Credentials::WEBHOOK_KEYS.contains(name)),
    )
}

/// The webhook credentials of this sandbox: UQPAY's `webhook_secret` as the test configured it
/// (or the development one), QI's public key as the sandbox publishes it.
async fn sandbox_keys(
    kind: ProviderKind,
    sandbox: &RunningSandbox,
    provider: &ProviderSettings,
) -> Vec<(&'static str, String)> {
    match kind {
        ProviderKind::Uqpay => {
            let secret = provider
                .webhook_secret
                .clone()
                .unwrap_or_else(|| DEV_UQPAY_WEBHOOK_SECRET.to_string());
            vec![("webhook_secret", secret)]
        }
        ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid => {
            let pem = reqwest::get(format!("{}/qitech/_sandbox/public_key", sandbox.base_url()))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            vec![("qitech_public_key", pem)]
        }
        ProviderKind::AlchemypayVcc => Vec::new(),
    }
}

/// Worker settings for tests: small claims, quick polls.
fn worker_config() -> WorkerConfig {
    WorkerConfig {
        lease_secs: 30,
        claim_batch: 16,
        idle_poll_ms: 10,
        shutdown_grace_secs: 10,
    }
}

/// The webhook endpoint of `kind` under `/webhooks/`.
fn webhook_endpoint(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Uqpay => "uqpay",
        ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid => "qitech",
        ProviderKind::AlchemypayVcc => "alchemypay",
    }
}
