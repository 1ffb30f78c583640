//! The running application for a test (zero2prod's `spawn_app`), and the one place the tests
//! assemble cardbatch: [`spawn_app`] starts the sandbox with one provider, a store on the test's
//! database, cardbatch's server (Alchemy Pay's reverse validation, the webhook endpoints), the
//! issuing handler ([`issue_handler`]: one client and one lane per profile) and, when asked, the
//! event processor. A test then runs the workers ([`TestApp::run_until_settled`]), reconciler
//! passes ([`TestApp::reconciler`]) and processor passes ([`process_events`]) as it needs. When
//! cardbatch gets a composition root, these functions are what change.

use crate::support::{
    TestDb, assert_one_card_per_order, dev_credentials, profile, serve, start_sandbox, submit_csv,
    wait_settled,
};
use cardbatch::config::{Profile, WorkerConfig};
use cardbatch::domain::ProviderKind;
use cardbatch::providers::alchemypay::CheckKeys;
use cardbatch::providers::qitech::public_key_from_pem;
use cardbatch::providers::{Credentials, ProviderEnv};
use cardbatch::reconcile::{
    LookupOptions, ProcessOptions, ProcessReport, ProviderClients, Reconciler,
    process_pending_events, run_event_processor,
};
use cardbatch::sandbox::{ProviderSettings, RunningSandbox, SandboxConfig};
use cardbatch::store::{OrderRow, Store};
use cardbatch::webhooks::{WebhookKeys, WebhookState};
use cardbatch::worker::{IssueHandler, RunReport, Runtime};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
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
        }
    }
}

/// cardbatch's webhook endpoints in a [`TestApp`].
pub enum Webhooks {
    /// None: the sandbox's webhooks, if it sends any, are refused.
    Off,
    /// The sandbox sends its webhooks to cardbatch, which checks them with the sandbox's keys
    /// (UQPAY: the provider's `webhook_secret`; QI Tech: the key the sandbox publishes).
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
    /// Where submitted CSV files are written.
    dir: tempfile::TempDir,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts cardbatch on `db` as `setup` says.
pub async fn spawn_app(db: &TestDb, setup: AppSetup) -> TestApp {
    let AppSetup {
        kind,
        sandbox,
        mut provider,
        rate,
        concurrency,
        webhooks,
        processor,
    } = setup;
    let store = db.store().await;
    store.migrate().await.expect("migrate");

    // cardbatch's address first: the sandbox calls it back (Alchemy Pay before it creates a
    // card, webhooks after).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    if kind == ProviderKind::AlchemypayVcc {
        provider
            .options
            .insert("check_url".into(), format!("{url}/alchemypay/create-check"));
    }
    if matches!(webhooks, Webhooks::FromSandbox) {
        provider.webhook_url = Some(format!("{url}/webhooks/{}", webhook_endpoint(kind)));
    }
    let sandbox = start_sandbox(sandbox.with_provider(kind, provider.clone())).await;
    let profile = Profile {
        rate_limit_per_sec: rate,
        concurrency,
        ..profile(kind, &sandbox.addr().to_string())
    };
    let profiles = BTreeMap::from([(kind.as_str().to_string(), profile.clone())]);
    let handler = issue_handler(&profiles, &store, &url);

    let mut check_keys = CheckKeys::new();
    if kind == ProviderKind::AlchemypayVcc {
        check_keys
            .add_profile(kind.as_str(), &credentials(kind))
            .unwrap();
    }
    let keys = match webhooks {
        Webhooks::Off => None,
        Webhooks::FromSandbox => Some(sandbox_keys(kind, &sandbox, &provider).await),
        Webhooks::Keys(keys) => Some(keys),
    };
    let wake = Arc::new(Notify::new());
    let state = keys.map(|keys| WebhookState::new(store.clone(), keys, wake.clone()));
    let (stop, stopped) = watch::channel(false);
    let mut tasks = vec![serve(
        listener,
        &store,
        check_keys,
        state,
        stop_signal(stopped.clone()),
    )];
    if let Some(options) = processor {
        // As in `cardbatch run`, the processor confirms Alchemy Pay callbacks with the
        // profile's client.
        let clients: ProviderClients = handler
            .providers()
            .into_iter()
            .filter(|(name, _)| profiles[name].provider == ProviderKind::AlchemypayVcc)
            .collect();
        tasks.push(tokio::spawn(run_event_processor(
            store.clone(),
            clients,
            wake,
            options,
            stop_signal(stopped),
        )));
    }
    TestApp {
        kind,
        store,
        url,
        sandbox,
        profile,
        handler,
        dir: tempfile::tempdir().unwrap(),
        stop,
        tasks,
    }
}

/// The issuing handler of `profiles` with the sandbox's credentials, its clients giving
/// `public_url` as cardbatch's address: built as `cardbatch run` builds it.
pub fn issue_handler(
    profiles: &BTreeMap<String, Profile>,
    store: &Store,
    public_url: &str,
) -> IssueHandler {
    let env = ProviderEnv {
        http: cardbatch::providers::http::client(),
        store: store.clone(),
        public_url: public_url.to_string(),
    };
    IssueHandler::from_profiles(profiles, &env, |_, profile| {
        Ok(credentials(profile.provider))
    })
    .expect("the clients build")
}

/// One event processor pass over `store` at `now_ms` (no provider clients: no Alchemy Pay
/// callback can be confirmed).
pub async fn process_events(store: &Store, options: &ProcessOptions, now_ms: i64) -> ProcessReport {
    process_pending_events(store, &ProviderClients::new(), options, now_ms)
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

    /// A reconciler over the handler's clients, for passes the test drives.
    pub fn reconciler(&self, options: LookupOptions) -> Reconciler {
        Reconciler::new(self.store.clone(), self.handler.providers(), options)
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
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        for task in self.tasks {
            task.await.unwrap();
        }
        self.store.close().await;
    }
}

/// The sandbox's credentials for `kind`.
fn credentials(kind: ProviderKind) -> Credentials {
    Credentials::from_pairs(dev_credentials(kind))
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

/// The keys cardbatch checks the sandbox's webhooks with: UQPAY's `webhook_secret`, QI's public
/// key as the sandbox publishes it (Alchemy Pay's callbacks are confirmed by a lookup instead).
async fn sandbox_keys(
    kind: ProviderKind,
    sandbox: &RunningSandbox,
    provider: &ProviderSettings,
) -> WebhookKeys {
    let mut keys = WebhookKeys::new();
    match kind {
        ProviderKind::Uqpay => {
            let secret = provider
                .webhook_secret
                .as_deref()
                .expect("a webhook secret");
            keys.add_uqpay(kind.as_str(), secret.as_bytes());
        }
        ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid => {
            let pem = reqwest::get(format!("{}/qitech/_sandbox/public_key", sandbox.base_url()))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            keys.add_qitech(kind.as_str(), public_key_from_pem(&pem).unwrap());
        }
        ProviderKind::AlchemypayVcc => {}
    }
    keys
}

/// Resolves once `stop` holds `true` (or its sender is gone: the [`TestApp`] was dropped).
async fn stop_signal(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
