//! `cardbatch serve` (the HTTP server and the webhook event processor, without workers), and
//! the webhook set-up `cardbatch run` shares with it.

use super::open_store;
use super::run::shutdown_signal;
use crate::config::Config;
use crate::domain::ProviderKind;
use crate::providers::alchemypay::CheckKeys;
use crate::providers::{Credentials, ProviderEnv};
use crate::reconcile::{ProcessOptions, ProviderClients, run_event_processor};
use crate::store::Store;
use crate::webhooks::{WebhookKeys, WebhookState};
use anyhow::Context;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// What the webhook endpoints and the event processor need, built from every profile.
pub(crate) struct WebhookSetup {
    /// The endpoints' state.
    pub state: WebhookState,
    /// The Alchemy Pay reverse-validation keys.
    pub alchemy_keys: CheckKeys,
    clients: ProviderClients,
    wake: Arc<Notify>,
}

impl WebhookSetup {
    /// Reads every profile's credentials from the environment: webhook secrets (UQPAY
    /// `webhook_secret`, QI's public key) and the Alchemy Pay clients the processor confirms
    /// callbacks with.
    pub fn from_config(config: &Config, store: &Store) -> anyhow::Result<WebhookSetup> {
        let env = ProviderEnv {
            http: crate::providers::http::client(),
            store: store.clone(),
            public_url: config.public_url(),
        };
        let mut keys = WebhookKeys::new();
        let mut alchemy_keys = CheckKeys::new();
        let mut clients = ProviderClients::new();
        for (name, profile) in &config.profiles {
            let credentials = Credentials::from_env(name, profile)?;
            keys.add_profile(name, profile, &credentials)?;
            if profile.provider == ProviderKind::AlchemypayVcc {
                alchemy_keys.add_profile(name, &credentials)?;
                let client = crate::providers::build(name, profile, &credentials, &env)
                    .with_context(|| format!("Failed to set up the client of profile {name}"))?;
                clients.insert(name.clone(), client);
            }
        }
        tracing::info!(?keys, "webhook keys loaded");
        let wake = Arc::new(Notify::new());
        Ok(WebhookSetup {
            state: WebhookState::new(store.clone(), keys, wake.clone()),
            alchemy_keys,
            clients,
            wake,
        })
    }

    /// Starts the event processor; it stops when `stop` holds `true`.
    pub fn spawn_processor(&self, store: Store, stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let clients = self.clients.clone();
        let wake = self.wake.clone();
        tokio::spawn(async move {
            let mut stop = stop;
            run_event_processor(
                store,
                clients,
                wake,
                ProcessOptions::default(),
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            )
            .await
        })
    }
}

/// `cardbatch serve`: the HTTP server (webhooks, Alchemy Pay reverse validation, health) and
/// the webhook event processor, until SIGINT or SIGTERM.
pub async fn serve(config: &Config) -> anyhow::Result<ExitCode> {
    let store = open_store(config).await?;
    let setup = WebhookSetup::from_config(config, &store)?;
    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("Failed to listen on {}", config.server.listen))?;
    tracing::info!(listen = %listener.local_addr()?, "cardbatch serving (no workers)");
    let (stop, stopped) = watch::channel(false);
    let processor = setup.spawn_processor(store.clone(), stopped);
    let app = crate::server::app_with_webhooks(store, setup.alchemy_keys.clone(), setup.state);
    crate::server::serve(listener, app, shutdown_signal())
        .await
        .context("the server failed")?;
    stop.send_replace(true);
    processor.await.context("the event processor failed")?;
    Ok(ExitCode::SUCCESS)
}
