//! The UQPAY bench: a sandbox with UQPAY on 127.0.0.1:0 (its clock scaled down 1000x), the seed
//! example as ingest stores it, and cardbatch's UQPAY client built over a store (which holds the
//! shared token).

use super::{dev_credentials, provider_env, start_sandbox};
use cardbatch::config::Profile;
use cardbatch::domain::ProviderKind;
use cardbatch::domain::ProviderOrder;
use cardbatch::providers::uqpay::{self, UqpayClient};
use cardbatch::providers::{CallReport, Classified, Credentials};
use cardbatch::sandbox::{ProviderSettings, RunningSandbox, SandboxConfig};
use cardbatch::store::Store;
use serde_json::{Value, json};

pub const PRODUCT: &str = "467e993f-317a-49fc-9ea0-bf49de7d1f76";
pub const HOLDER: &str = "25ea804d-7fd5-43d5-8792-0fc0214cdb2f";
pub const PROFILE: &str = "uqpay";
pub const PROVIDER: &str = "uqpay";

/// A sandbox with UQPAY's default settings, seed 11, time scaled down 1000x.
pub async fn sandbox() -> RunningSandbox {
    let config = SandboxConfig {
        seed: 11,
        time_scale: 0.001,
        ..SandboxConfig::default()
    }
    .with_provider(ProviderKind::Uqpay, ProviderSettings::default());
    start_sandbox(config).await
}

/// The client of the built-in UQPAY profile aimed at `sandbox`, with the sandbox's credentials.
pub fn client(sandbox: &RunningSandbox, store: &Store) -> UqpayClient {
    let profile = Profile::sandbox(ProviderKind::Uqpay, &sandbox.addr().to_string());
    client_with(&profile, &credentials(), store)
}

/// The client of `profile` with `credentials`, keeping its token in `store`.
pub fn client_with(profile: &Profile, credentials: &Credentials, store: &Store) -> UqpayClient {
    let env = provider_env(store, "http://127.0.0.1:9");
    uqpay::client(PROFILE, profile, credentials, &env).expect("the client builds")
}

/// The credentials the sandbox accepts.
pub fn credentials() -> Credentials {
    Credentials::from_pairs(dev_credentials(ProviderKind::Uqpay))
}

/// The payload ingest makes from the seed's row (card_limit 1000 USD).
pub fn seed_payload() -> Value {
    json!({
        "cardholder_id": HOLDER, "card_product_id": PRODUCT, "card_currency": "USD",
        "card_limit_minor": 100_000, "usage_type": "NORMAL",
        "metadata": {"cardbatch_order_ref": "seed-1"}
    })
}

/// An in-flight order with `payload` and a fresh idempotency key.
pub fn order(payload: Value) -> ProviderOrder {
    ProviderOrder {
        profile: PROFILE.into(),
        provider: ProviderKind::Uqpay,
        order_ref: "seed-1".into(),
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        payload,
        amount_minor: Some(100_000),
        currency: Some("USD".into()),
        refs: Default::default(),
        queued_at_ms: chrono::Utc::now().timestamp_millis(),
    }
}

/// Cards the sandbox made with `order`'s idempotency key.
pub fn cards_for(sandbox: &RunningSandbox, order: &ProviderOrder) -> u64 {
    sandbox
        .ledger()
        .count_for(PROVIDER, "idempotency_key", &order.idempotency_key)
}

/// The card id of an accepted create, which also carries its card order id.
#[track_caller]
pub fn accepted_card_id(report: &CallReport) -> String {
    match &report.classified {
        Classified::Accepted { refs } => {
            assert!(refs.get("card_order_id").is_some(), "{refs}");
            refs.get("card_id").expect("a card_id").to_string()
        }
        other => panic!("expected Accepted, got {other:?}"),
    }
}
