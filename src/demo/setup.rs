//! Starting the pieces the demo runs, all in this process and all on 127.0.0.1 with port 0:
//! the sandbox, cardbatch's server, the webhook event processor and the reconciler. The workers
//! are started by `run`, because they run exactly as long as the orders are moving.

use super::options::DemoError;
use crate::config::Profile;
use crate::domain::ProviderKind;
use crate::providers::alchemypay::CheckKeys;
use crate::providers::{Credentials, ProviderEnv};
use crate::reconcile::{
    LookupOptions, ProcessOptions, ProviderClients, Reconciler, run_event_processor,
};
use crate::sandbox::config::DEV_UQPAY_WEBHOOK_SECRET;
use crate::sandbox::{FaultConfig, ProviderSettings, RunningSandbox, Sandbox, SandboxConfig};
use crate::store::Store;
use crate::webhooks::{QITECH_PATH, UQPAY_PATH, WebhookKeys, WebhookState};
use crate::worker::IssueHandler;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Lifecycle delays and webhook retry schedules run at this fraction of real time, so a card
/// becomes active within tens of milliseconds and a failed webhook is retried within a second.
const TIME_SCALE: f64 = 0.05;

/// Everything the demo started, to be stopped in reverse order by [`Stack::shutdown`].
pub(super) struct Stack {
    pub store: Store,
    pub sandbox: RunningSandbox,
    pub profiles: BTreeMap<String, Profile>,
    pub handler: IssueHandler,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    processor: JoinHandle<()>,
    reconciler: JoinHandle<()>,
}

impl Stack {
    /// Starts the server (bound first, because the sandbox needs its address for webhooks and
    /// Alchemy Pay's reverse validation), then the sandbox, then builds every client with the
    /// sandbox's development credentials passed in process.
    pub async fn start(store: Store, seed: u64) -> Result<Stack, DemoError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(DemoError::Listen)?;
        let server_url = format!(
            "http://{}",
            listener.local_addr().map_err(DemoError::Listen)?
        );
        let sandbox_listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(DemoError::Listen)?;
        let sandbox = Sandbox::start(sandbox_config(&server_url, seed), sandbox_listener)?;

        let profiles: BTreeMap<String, Profile> = ProviderKind::ALL
            .into_iter()
            .map(|kind| (kind.as_str().to_string(), profile(kind, &sandbox)))
            .collect();
        let env = ProviderEnv {
            http: crate::providers::http::client(),
            store: store.clone(),
            public_url: server_url.clone(),
        };
        let handler =
            IssueHandler::from_profiles(&profiles, &env, |_, p| Ok(dev_credentials(p.provider)))
                .map_err(|e| DemoError::Profile {
                    profile: "(all)".into(),
                    problem: e.to_string(),
                })?;

        let mut webhook_keys = WebhookKeys::new();
        let mut check_keys = CheckKeys::new();
        let mut clients = ProviderClients::new();
        for (name, p) in &profiles {
            let creds = dev_credentials(p.provider);
            let problem = |problem: String| DemoError::Profile {
                profile: name.clone(),
                problem,
            };
            webhook_keys
                .add_profile(name, p, &creds)
                .map_err(|e| problem(e.to_string()))?;
            if p.provider == ProviderKind::AlchemypayVcc {
                check_keys
                    .add_profile(name, &creds)
                    .map_err(|e| problem(e.to_string()))?;
                let client = crate::providers::build(name, p, &creds, &env)
                    .map_err(|e| problem(e.to_string()))?;
                clients.insert(name.clone(), client);
            }
        }

        let (stop, stopped) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let app = crate::server::app_with_webhooks(
            store.clone(),
            check_keys,
            WebhookState::new(store.clone(), webhook_keys, wake.clone()),
        );
        let server = tokio::spawn(crate::server::serve(
            listener,
            app,
            until_true(stopped.clone()),
        ));
        let options = ProcessOptions {
            // Quicker than production: lifecycles take milliseconds here.
            recheck_after: Duration::from_millis(200),
            sweep_every: Duration::from_millis(200),
            ..ProcessOptions::default()
        };
        let processor = tokio::spawn(run_event_processor(
            store.clone(),
            clients,
            wake,
            options,
            until_true(stopped),
        ));
        // The reconciler looks up the orders whose webhook did not come (the sandbox drops a
        // few), paced by the same lanes as the workers.
        let mut reconciler = Reconciler::new(store.clone(), handler.providers(), lookup_options());
        for name in handler.profiles() {
            if let Some(lane) = handler.lane(&name) {
                reconciler = reconciler.with_lane(&name, lane);
            }
        }
        let reconciler = tokio::spawn(reconciler.run(until_true(stop.subscribe())));

        Ok(Stack {
            store,
            sandbox,
            profiles,
            handler,
            stop,
            server,
            processor,
            reconciler,
        })
    }

    /// Stops the processor, the reconciler and the server, then the sandbox.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let _ = self.processor.await;
        let _ = self.reconciler.await;
        let _ = self.server.await;
        self.sandbox.shutdown().await;
    }
}

async fn until_true(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// The faults of every provider: about 10% transient errors, 5% lost responses, 429s from a
/// sandbox limit below the profile's rate, and duplicate, reordered, delayed and dropped
/// webhooks (the reconciler confirms the orders of the dropped ones by lookup; Alchemy Pay's
/// are not dropped, see `sandbox_config`).
fn faults() -> FaultConfig {
    FaultConfig {
        transient_error_rate: 0.10,
        lost_response_rate: 0.05,
        rate_limit_per_sec: Some(SANDBOX_RATE),
        rate_limit_burst: Some(2),
        webhook_duplicate_rate: 0.10,
        webhook_reorder_rate: 0.10,
        webhook_delay_rate: 0.05,
        webhook_delay_ms: 300,
        webhook_drop_rate: 0.05,
        ..FaultConfig::default()
    }
}

/// Quicker than production (a minute before the first lookup): the sandbox's lifecycles and
/// webhook retries take milliseconds here, so an order still unconfirmed after a second has
/// most likely lost its webhook.
fn lookup_options() -> LookupOptions {
    LookupOptions {
        confirm_after: Duration::from_secs(1),
        interval: Duration::from_millis(250),
        max_backoff: Duration::from_secs(1),
        batch: 32,
        lease: Duration::from_secs(30),
        // As in production: the demo drops no Alchemy Pay callback, so none is escalated.
        review_after: LookupOptions::default().review_after,
    }
}

/// What the sandbox lets through per second and credential; the profiles push harder.
const SANDBOX_RATE: f64 = 20.0;

fn sandbox_config(server_url: &str, seed: u64) -> SandboxConfig {
    let mut config = SandboxConfig {
        seed,
        time_scale: TIME_SCALE,
        ..SandboxConfig::default()
    };
    for kind in ProviderKind::ALL {
        let mut settings = ProviderSettings {
            faults: faults(),
            failure_rate: 0.04,
            ..ProviderSettings::default()
        };
        match kind {
            ProviderKind::Uqpay => {
                settings.webhook_url = Some(format!("{server_url}{UQPAY_PATH}"));
                settings.webhook_secret = Some(DEV_UQPAY_WEBHOOK_SECRET.into());
            }
            ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid => {
                settings.webhook_url = Some(format!("{server_url}{QITECH_PATH}"));
                // A postpaid create whose answer was lost is resolved by re-sending its
                // request_control_key: the 409 CIN000099 then names the instrument it made
                // (the spec infers QI may; without it the order would need review).
                settings
                    .options
                    .insert("conflict_reveals_keys".into(), "true".into());
            }
            ProviderKind::AlchemypayVcc => {
                // Alchemy Pay's create answer carries no card id, so an order whose callback
                // never came has nothing to be looked up by (its reconciliation gap): it would
                // stay `submitted` for good. Its callbacks are duplicated and reordered, not
                // dropped.
                settings.faults.webhook_drop_rate = 0.0;
                // Callbacks go to the request's callbackUrl (from the profile's public URL);
                // the check URL is the reverse validation it calls before creating a card.
                settings.options.insert(
                    "check_url".into(),
                    format!("{server_url}/alchemypay/create-check"),
                );
            }
        }
        config = config.with_provider(kind, settings);
    }
    config
}

/// The built-in profile of `kind`, aimed at the running sandbox, with quick retries so the
/// faults are ridden out within seconds.
fn profile(kind: ProviderKind, sandbox: &RunningSandbox) -> Profile {
    let mut p = Profile::sandbox(kind, &sandbox.addr().to_string());
    p.rate_limit_per_sec = 2.0 * SANDBOX_RATE;
    p.concurrency = 8;
    p.max_attempts = 20;
    p.backoff_base_ms = 50;
    p.backoff_cap_ms = 1_000;
    p
}

/// The credentials the sandbox accepts for `kind` (its development ones, QI Tech's fixed
/// public key included), given in process: they are development values, but the demo still
/// never puts them in the environment or on disk.
fn dev_credentials(kind: ProviderKind) -> Credentials {
    Credentials::from_pairs(crate::sandbox::dev_credentials(kind))
}
