//! A hand-built UQPAY client: token, create with an idempotency key, lookups; the webhook
//! signature recomputed with `hmac`/`sha2`.

use super::receiver::Receiver;
use super::sandbox::start;
use cardbatch_sandbox::{FaultConfig, ProviderSettings, RunningSandbox, SandboxConfig};
use cardbatch_types::ProviderKind;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha512;

pub const CLIENT_ID: &str = "uqpay-sandbox-client";
pub const API_KEY: &str = "uqpay-sandbox-api-key";
pub const SECRET: &str = "test-webhook-secret";
pub const PRODUCT: &str = "467e993f-317a-49fc-9ea0-bf49de7d1f76";
pub const PRODUCT_527735: &str = "0c5b7f2e-8a41-4d3b-9e6c-2f1a8b7c6d5e";
pub const PRODUCT_DISABLED: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";
pub const PRODUCT_PHYSICAL: &str = "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6";
pub const PRODUCT_SINGLE: &str = "2f3e4d5c-6b7a-4898-8a1b-d2e3f4a5b6c7";
pub const PRODUCT_NO_POOL: &str = "3a4b5c6d-7e8f-4a9b-8c0d-e1f2a3b4c5d6";
pub const HOLDER: &str = "25ea804d-7fd5-43d5-8792-0fc0214cdb2f";
pub const HOLDER_2: &str = "3b1f6a2c-9d4e-4c8b-a7f5-0e2d1c3b4a59";
pub const HOLDER_PENDING: &str = "6e4c9d5f-2a7b-4fbe-9ac8-3b5a4f6e7d8c";

/// The seed's create example, serialised once.
pub const BODY: &str = r#"{"cardholder_id":"25ea804d-7fd5-43d5-8792-0fc0214cdb2f","card_product_id":"467e993f-317a-49fc-9ea0-bf49de7d1f76","card_currency":"USD","card_limit":1000}"#;

/// A sandbox whose UQPAY webhooks go to a [`Receiver`]'s `/webhooks/uqpay`.
pub struct Env {
    pub sandbox: RunningSandbox,
    pub receiver: Receiver,
    pub http: reqwest::Client,
}

impl Env {
    /// Webhooks signed with [`SECRET`], lifecycle steps of 1 ms.
    pub async fn start(tweak: impl FnOnce(&mut ProviderSettings)) -> Env {
        let receiver = Receiver::start().await;
        let mut settings = ProviderSettings {
            webhook_url: Some(receiver.url("/webhooks/uqpay")),
            webhook_secret: Some(SECRET.into()),
            lifecycle_delay_ms: 1_000,
            ..ProviderSettings::default()
        };
        tweak(&mut settings);
        let config = SandboxConfig {
            seed: 7,
            time_scale: 0.001,
            ..SandboxConfig::default()
        }
        .with_provider(ProviderKind::Uqpay, settings);
        Env {
            sandbox: start(config).await,
            receiver,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/uqpay/api{path}", self.sandbox.base_url())
    }

    pub async fn token_response(&self, client_id: &str, api_key: &str) -> reqwest::Response {
        self.http
            .post(self.url("/v1/connect/token"))
            .header("x-client-id", client_id)
            .header("x-api-key", api_key)
            .send()
            .await
            .unwrap()
    }

    /// A token for the development client.
    pub async fn token(&self) -> String {
        let r = self.token_response(CLIENT_ID, API_KEY).await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        body["auth_token"].as_str().unwrap().to_string()
    }

    /// `POST /v1/issuing/cards` with `Bearer token` and `key`.
    pub async fn create_raw(&self, token: &str, key: &str, body: &Value) -> (StatusCode, Value) {
        self.post(token, key, "/v1/issuing/cards", body).await
    }

    /// A write: `POST path` with `Bearer token`, `key` and a JSON body.
    pub async fn post(
        &self,
        token: &str,
        key: &str,
        path: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url(path))
            .header("x-auth-token", format!("Bearer {token}"))
            .header("x-idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap())
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(self.url(path))
            .header("x-auth-token", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap())
    }
}

pub fn seed_body() -> Value {
    json!({"cardholder_id": HOLDER, "card_product_id": PRODUCT, "card_currency": "USD", "card_limit": 1000})
}

/// A fresh idempotency key.
pub fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `lowercase_hex(HMAC_SHA512(secret, body ‖ timestamp))`.
pub fn hmac512_hex(secret: &str, body: &[u8], ts: &str) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.update(ts.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// What a client saw for one create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seen {
    Created,
    Transient,
    NoAnswer,
}

/// A token for the development client of `sandbox`.
pub async fn token_for(http: &reqwest::Client, sandbox: &RunningSandbox) -> String {
    let r: Value = http
        .post(format!("{}/uqpay/api/v1/connect/token", sandbox.base_url()))
        .header("x-client-id", CLIENT_ID)
        .header("x-api-key", API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["auth_token"].as_str().unwrap().to_string()
}

/// One create with `key`, classified by what came back.
pub async fn create_seen(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    key: &str,
    body: &str,
) -> Seen {
    let sent = http
        .post(format!("{base}/uqpay/api/v1/issuing/cards"))
        .header("x-auth-token", format!("Bearer {token}"))
        .header("x-idempotency-key", key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await;
    match sent {
        Err(e) => {
            assert!(!e.is_timeout(), "{e:?}");
            Seen::NoAnswer
        }
        Ok(r) if r.status() == StatusCode::OK => Seen::Created,
        Ok(r) if r.status() == StatusCode::INTERNAL_SERVER_ERROR => {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["type"], "api_error");
            Seen::Transient
        }
        Ok(r) => panic!("unexpected answer {}", r.status()),
    }
}

/// A sandbox config with `faults` on UQPAY and no webhook target.
pub fn config_with_faults(seed: u64, faults: FaultConfig) -> SandboxConfig {
    SandboxConfig {
        seed,
        time_scale: 0.001,
        ..SandboxConfig::default()
    }
    .with_provider(
        ProviderKind::Uqpay,
        ProviderSettings {
            faults,
            ..ProviderSettings::default()
        },
    )
}
