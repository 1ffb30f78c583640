//! Webhook faults: duplicate, reorder, drop and delay.

use crate::support::uqpay::{BODY, create_seen, token_for};
use crate::support::{Receiver, eventually, start};
use cardbatch_sandbox::{FaultConfig, ProviderSettings, RunningSandbox, SandboxConfig};
use cardbatch_types::ProviderKind;
use std::time::{Duration, Instant};

async fn uqpay_with_webhooks(faults: FaultConfig) -> (RunningSandbox, Receiver, String) {
    let receiver = Receiver::start().await;
    let config = SandboxConfig {
        seed: 3,
        time_scale: 0.001,
        ..SandboxConfig::default()
    }
    .with_provider(
        ProviderKind::Uqpay,
        ProviderSettings {
            faults,
            webhook_url: Some(receiver.url("/hooks")),
            ..ProviderSettings::default()
        },
    );
    let sandbox = start(config).await;
    let token = token_for(&reqwest::Client::new(), &sandbox).await;
    (sandbox, receiver, token)
}
#[tokio::test]
async fn a_duplicate_fault_delivers_the_same_event_twice() {
    let (sandbox, receiver, token) = uqpay_with_webhooks(FaultConfig {
        webhook_duplicate_rate: 1.0,
        ..FaultConfig::default()
    })
    .await;
    create_seen(
        &reqwest::Client::new(),
        &sandbox.base_url(),
        &token,
        "d1",
        BODY,
    )
    .await;

    let hooks = receiver.wait_for("/hooks", 2).await;

    assert_eq!(hooks[0].json()["event_id"], hooks[1].json()["event_id"]);
    assert_eq!(sandbox.stats().get("uqpay", "webhooks_duplicated"), 1);
    assert_eq!(sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn a_reorder_fault_delivers_a_later_event_first() {
    let (sandbox, receiver, token) = uqpay_with_webhooks(FaultConfig {
        webhook_reorder_rate: 1.0,
        ..FaultConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    create_seen(&http, &sandbox.base_url(), &token, "first", BODY).await;
    eventually("the first webhook to be held back", || {
        sandbox.stats().get("uqpay", "webhooks_reordered") == 1
    })
    .await;
    create_seen(&http, &sandbox.base_url(), &token, "second", BODY).await;

    let hooks = receiver.wait_for("/hooks", 2).await;

    let card_of = |key: &str| {
        sandbox
            .ledger()
            .entries()
            .into_iter()
            .find(|e| e.references["idempotency_key"] == key)
            .unwrap()
            .card_id
    };
    assert_eq!(
        hooks[0].json()["data"]["card_id"],
        card_of("second").as_str()
    );
    assert_eq!(
        hooks[1].json()["data"]["card_id"],
        card_of("first").as_str()
    );
}

#[tokio::test]
async fn a_drop_fault_never_sends_the_webhook() {
    let (sandbox, receiver, token) = uqpay_with_webhooks(FaultConfig {
        webhook_drop_rate: 1.0,
        ..FaultConfig::default()
    })
    .await;
    create_seen(
        &reqwest::Client::new(),
        &sandbox.base_url(),
        &token,
        "x",
        BODY,
    )
    .await;

    eventually("the webhook to be dropped", || {
        sandbox.stats().get("uqpay", "webhooks_dropped") == 1
    })
    .await;

    assert_eq!(sandbox.stats().get("uqpay", "webhooks_sent"), 0);
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn a_delay_fault_holds_the_webhook_back_by_the_configured_time() {
    let (sandbox, receiver, token) = uqpay_with_webhooks(FaultConfig {
        webhook_delay_rate: 1.0,
        webhook_delay_ms: 300,
        ..FaultConfig::default()
    })
    .await;
    let started = Instant::now();
    create_seen(
        &reqwest::Client::new(),
        &sandbox.base_url(),
        &token,
        "x",
        BODY,
    )
    .await;

    receiver.wait_for("/hooks", 1).await;

    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(sandbox.stats().get("uqpay", "webhooks_delayed"), 1);
}
