//! Starting what the demo runs, all in this process and all on 127.0.0.1 with port 0: the
//! sandbox, then cardbatch assembled by [`App`] (server, workers, webhook event processor and
//! reconciler), with the sandbox's development credentials passed in process.

use super::options::DemoError;
use crate::app::{App, Running, Services};
use crate::config::{Config, Profile, ServerConfig, WorkerConfig};
use crate::domain::ProviderKind;
use crate::providers::Credentials;
use crate::reconcile::{LookupOptions, ProcessOptions};
use crate::sandbox::config::DEV_UQPAY_WEBHOOK_SECRET;
use crate::sandbox::{
    FaultConfig, ProviderSettings, RunningSandbox, Sandbox, SandboxConfig, dev_credentials,
};
use crate::store::Store;
use crate::webhooks::{QITECH_PATH, UQPAY_PATH};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::net::TcpListener;

/// Lifecycle delays and webhook retry schedules run at this fraction of real time, so a card
/// becomes active within tens of milliseconds and a failed webhook is retried within a second.
const TIME_SCALE: f64 = 0.05;

/// Everything the demo started, to be stopped in reverse order by [`Stack::shutdown`].
pub(super) struct Stack {
    pub store: Store,
    pub sandbox: RunningSandbox,
    pub profiles: BTreeMap<String, Profile>,
    running: Running,
}

impl Stack {
    /// Binds cardbatch's server first (the sandbox needs its address for webhooks and Alchemy
    /// Pay's reverse validation), starts the sandbox, then assembles and starts cardbatch
    /// against it: the workers begin with the first order submitted.
    pub async fn start(store: Store, seed: u64) -> Result<Stack, DemoError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(DemoError::Listen)?;
        let server_addr = listener.local_addr().map_err(DemoError::Listen)?;
        let server_url = format!("http://{server_addr}");
        let sandbox_listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(DemoError::Listen)?;
        let sandbox = Sandbox::start(sandbox_config(&server_url, seed), sandbox_listener)?;

        let profiles: BTreeMap<String, Profile> = ProviderKind::ALL
            .into_iter()
            .map(|kind| (kind.as_str().to_string(), profile(kind, &sandbox)))
            .collect();
        let config = Config {
            server: ServerConfig {
                listen: server_addr,
                public_url: Some(server_url),
            },
            worker: worker_config(),
            profiles: profiles.clone(),
            ..Config::without_profiles()
        };
        // The sandbox's development credentials, given in process: they are not secrets, but
        // the demo still never puts them in the environment or on disk.
        let app = App::with_store(&config, store.clone(), |_, p| {
            Ok(Credentials::from_pairs(dev_credentials(p.provider)))
        })
        .map_err(|e| DemoError::Profile {
            profile: "(all)".into(),
            problem: e.to_string(),
        })?
        .with_process_options(ProcessOptions {
            // Quicker than production: lifecycles take milliseconds here.
            recheck_after: Duration::from_millis(200),
            sweep_every: Duration::from_millis(200),
            ..ProcessOptions::default()
        })
        // The reconciler looks up the orders whose webhook did not come (the sandbox drops a
        // few), through the same lanes as the workers.
        .with_lookup_options(lookup_options());
        let running = app.start_on(Some(listener), Services::ALL);
        Ok(Stack {
            store,
            sandbox,
            profiles,
            running,
        })
    }

    /// Stops cardbatch (workers first, then the server, the processor and the reconciler),
    /// then the sandbox.
    pub async fn shutdown(self) -> Result<(), DemoError> {
        let stopped = self.running.stop().await;
        self.sandbox.shutdown().await;
        stopped
            .map(|_| ())
            .map_err(|e| DemoError::Worker(format!("{e:#}")))
    }
}

/// Quick polls and small claims: the demo's batches are small.
fn worker_config() -> WorkerConfig {
    WorkerConfig {
        lease_secs: 30,
        claim_batch: 16,
        idle_poll_ms: 20,
        shutdown_grace_secs: 10,
    }
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
