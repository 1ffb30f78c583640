//! Webhooks from the sandbox, end to end over loopback: cardbatch's workers issue cards through
//! the real clients, the sandbox finishes them asynchronously and calls cardbatch's webhook
//! endpoints (UQPAY HMAC-signed, QI Tech signed with its own key, Alchemy Pay unsigned), and the
//! event processor confirms every order.

mod common;
mod e2e_support;

use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::ingest::{SubmitOptions, SubmitOutcome, submit};
use cardbatch::providers::alchemypay::CheckKeys;
use cardbatch::providers::qitech::public_key_from_pem;
use cardbatch::providers::{Credentials, ProviderEnv};
use cardbatch::reconcile::{ProcessOptions, ProviderClients, run_event_processor};
use cardbatch::sandbox::{ProviderSettings, Sandbox, SandboxConfig};
use cardbatch::store::{AttemptKind, EventOutcome, Store};
use cardbatch::webhooks::{WebhookKeys, WebhookState};
use cardbatch::worker::{IssueHandler, Runtime};
use common::{TestDb, wait_until};
use e2e_support::{csv, dev_credentials, profile, wait_settled, worker_config};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

const ORDERS: usize = 12;
const UQPAY_SECRET: &str = "whsec-sandbox-test";

/// Issues `ORDERS` orders of `kind` against the sandbox with cardbatch's webhook server and
/// event processor running, and waits until every order is `issued`. Returns the store.
async fn issue_and_confirm(kind: ProviderKind, db: &TestDb) -> Store {
    // cardbatch's server first: its URL goes into the sandbox's webhook settings.
    let store = db.store().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server_url = format!("http://{}", listener.local_addr().unwrap());
    let credentials = Credentials::from_pairs(dev_credentials(kind));

    let endpoint = match kind {
        ProviderKind::Uqpay => "uqpay",
        _ => "qitech",
    };
    let mut settings = ProviderSettings {
        webhook_url: Some(format!("{server_url}/webhooks/{endpoint}")),
        webhook_secret: Some(UQPAY_SECRET.into()),
        lifecycle_delay_ms: 1_000,
        ..ProviderSettings::default()
    };
    if kind == ProviderKind::AlchemypayVcc {
        settings.options.insert(
            "check_url".into(),
            format!("{server_url}/alchemypay/create-check"),
        );
    }
    let config = SandboxConfig {
        seed: 11,
        time_scale: 0.01,
        ..SandboxConfig::default()
    }
    .with_provider(kind, settings);
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = Sandbox::start(config, sandbox_listener).expect("sandbox starts");
    let profile = profile(kind, &sandbox, 200.0, 4);
    let name = kind.as_str();
    let profiles = BTreeMap::from([(name.to_string(), profile.clone())]);

    // Webhook keys: QI's public key as the sandbox publishes it.
    let mut keys = WebhookKeys::new();
    let mut check_keys = CheckKeys::new();
    match kind {
        ProviderKind::AlchemypayVcc => check_keys.add_profile(name, &credentials).unwrap(),
        ProviderKind::Uqpay => keys.add_uqpay(name, UQPAY_SECRET.as_bytes()),
        _ => {
            let pem = reqwest::get(format!(
                "http://{}/qitech/_sandbox/public_key",
                sandbox.addr()
            ))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
            keys.add_qitech(name, public_key_from_pem(&pem).unwrap());
        }
    }
    let wake = Arc::new(Notify::new());
    let app = cardbatch::server::app_with_webhooks(
        store.clone(),
        check_keys,
        WebhookState::new(store.clone(), keys, wake.clone()),
    );
    tokio::spawn(cardbatch::server::serve(
        listener,
        app,
        std::future::pending(),
    ));

    // The clients: the workers' and the processor's (Alchemy Pay's card-info lookup).
    let env = ProviderEnv {
        http: cardbatch::providers::http::client(),
        store: store.clone(),
        public_url: server_url.clone(),
    };
    let handler = IssueHandler::from_profiles(&profiles, &env, |_, _| {
        Ok(Credentials::from_pairs(dev_credentials(kind)))
    })
    .unwrap();
    let mut clients = ProviderClients::new();
    clients.insert(
        name.to_string(),
        cardbatch::providers::build(name, &profile, &credentials, &env).unwrap(),
    );
    tokio::spawn(run_event_processor(
        store.clone(),
        clients,
        wake,
        ProcessOptions::default(),
        std::future::pending(),
    ));

    // Submit through the real ingest path and run the workers until nothing is moving.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.csv");
    std::fs::write(&path, csv(kind, "wh", ORDERS, &[])).unwrap();
    let report = submit(
        &store,
        name,
        &profile,
        &path,
        std::fs::File::open(&path).unwrap(),
        SubmitOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, SubmitOutcome::Queued, "{:?}", report.errors);
    Runtime::new(store.clone(), profiles, Arc::new(handler), worker_config())
        .run(wait_settled(store.clone()))
        .await
        .unwrap();

    // Every order ends issued, by the sandbox's webhooks alone.
    let watched = store.clone();
    wait_until("every order to be issued", Duration::from_secs(120), || {
        let store = watched.clone();
        async move {
            let counts = store.order_count_by_state().await.unwrap();
            counts.get(&OrderState::Issued).copied() == Some(ORDERS as u64)
        }
    })
    .await;
    store
}

async fn qi_prepaid_cards_are_confirmed_by_the_sandboxs_signed_webhooks(db: TestDb) {
    let store = issue_and_confirm(ProviderKind::QitechPrepaid, &db).await;

    let matched = store
        .webhook_event_list(EventOutcome::Matched)
        .await
        .unwrap();
    assert_eq!(matched.len(), ORDERS, "one `active` event per order");
    for event in &matched {
        let (by, _) = store
            .order_confirmation(event.order_id.unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by, "webhook");
    }
    assert!(
        store
            .webhook_event_list(EventOutcome::Unmatched)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn alchemy_callbacks_are_trusted_only_after_the_card_info_lookup(db: TestDb) {
    let store = issue_and_confirm(ProviderKind::AlchemypayVcc, &db).await;

    let matched = store
        .webhook_event_list(EventOutcome::Matched)
        .await
        .unwrap();
    assert_eq!(matched.len(), ORDERS);
    for event in &matched {
        let order_id = event.order_id.unwrap();
        let (by, _) = store.order_confirmation(order_id).await.unwrap().unwrap();
        assert_eq!(by, "lookup");
        // The card id arrived by callback and is now part of the order's refs.
        let order = store.order_get(order_id).await.unwrap().unwrap();
        let refs = order.provider_refs.unwrap();
        assert!(
            refs["card_id"].as_str().is_some_and(|c| !c.is_empty()),
            "{refs}"
        );
        // The card-info call that checked the callback is in the attempts table.
        let calls = store.attempt_list(order_id).await.unwrap();
        assert!(
            calls
                .iter()
                .any(|c| c.kind == Some(AttemptKind::Lookup) && c.http_status == Some(200)),
            "{calls:?}"
        );
    }
}

async fn uqpay_cards_are_confirmed_by_the_sandboxs_hmac_signed_webhooks(db: TestDb) {
    let store = issue_and_confirm(ProviderKind::Uqpay, &db).await;

    let matched = store
        .webhook_event_list(EventOutcome::Matched)
        .await
        .unwrap();
    assert_eq!(matched.len(), ORDERS, "one card.create.succeeded per order");
    assert!(
        matched
            .iter()
            .all(|e| e.event_type == "card.create.succeeded")
    );
    assert!(
        matched
            .iter()
            .all(|e| e.profile.as_deref() == Some("uqpay"))
    );
}

on_both_engines!(
    uqpay_cards_are_confirmed_by_the_sandboxs_hmac_signed_webhooks,
    qi_prepaid_cards_are_confirmed_by_the_sandboxs_signed_webhooks,
    alchemy_callbacks_are_trusted_only_after_the_card_info_lookup,
);
