//! A hand-built Alchemy Pay client: the `ach-access-*` signature (HMAC-SHA256 over the
//! canonical body, written here independently of the sandbox's canonicaliser) and a sandbox
//! with a merchant server that answers reverse validation and receives the callbacks.

use super::receiver::Receiver;
use super::sandbox::start;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cardbatch_sandbox::{ProviderSettings, RunningSandbox, SandboxConfig};
use cardbatch_types::ProviderKind;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

pub const KEY: &str = "ach-sandbox-app-key";
pub const SECRET: &str = "ach-sandbox-secret-key";
pub const CREATE: &str = "/alchemypay/open/api/card/create";
pub const INFO: &str = "/alchemypay/open/api/card/info";
pub const DEPOSIT: &str = "/alchemypay/open/api/card/deposit";
pub const REFUND: &str = "/alchemypay/open/api/card/withdraw/refund";
pub const CANCEL: &str = "/alchemypay/open/api/card/cancel";
pub const TRADES: &str = "/alchemypay/open/api/card/trade/list";

/// Alchemy Pay's canonical body: keys sorted, null/""/[]/{} removed, compact. Non-JSON bodies
/// are used as they are.
pub fn alchemy_canonical(body: &str) -> String {
    fn clean(v: &Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::Array(a) => {
                let items: Vec<Value> = a.iter().filter_map(clean).collect();
                (!items.is_empty()).then_some(Value::Array(items))
            }
            Value::Object(o) => {
                // serde_json's Map (no preserve_order) iterates in key order.
                let m: serde_json::Map<String, Value> = o
                    .iter()
                    .filter_map(|(k, v)| clean(v).map(|v| (k.clone(), v)))
                    .collect();
                (!m.is_empty()).then_some(Value::Object(m))
            }
            other => Some(other.clone()),
        }
    }
    if body.is_empty() {
        return String::new();
    }
    match serde_json::from_str::<Value>(body) {
        Ok(v) => clean(&v).map(|v| v.to_string()).unwrap_or_default(),
        Err(_) => body.to_string(),
    }
}

/// `Base64(HMAC_SHA256(secret, timestamp + METHOD + requestPath + canonical body))`.
pub fn alchemy_sign(secret: &str, timestamp: &str, method: &str, path: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}{method}{path}{}", alchemy_canonical(body)).as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Asserts a business error envelope with `code`.
pub fn assert_error(answer: &Value, code: &str) {
    assert_eq!(answer["code"], code, "{answer}");
    assert_eq!(answer["success"], false, "{answer}");
    assert_eq!(answer["error"], true, "{answer}");
    assert!(
        answer["msg"].as_str().is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
}

/// What a signed request is made of, so a test can spoil one part.
pub struct Signing<'a> {
    pub key: Option<&'a str>,
    pub secret: &'a str,
    pub timestamp_ms: i64,
    pub content_type: &'a str,
    /// The body the signature covers (the body sent may differ).
    pub signed_body: &'a str,
}

impl Signing<'_> {
    /// The development key and secret, now, `application/json`, over `body`.
    pub fn of(body: &str) -> Signing<'_> {
        Signing {
            key: Some(KEY),
            secret: SECRET,
            timestamp_ms: now_ms(),
            content_type: "application/json",
            signed_body: body,
        }
    }
}

/// A sandbox whose Alchemy Pay calls back a merchant [`Receiver`].
pub struct Env {
    pub sandbox: RunningSandbox,
    pub merchant: Receiver,
    pub http: reqwest::Client,
}

impl Env {
    /// Reverse validation at the merchant's `/check`, lifecycle steps of 1 ms.
    pub async fn start(tweak: impl FnOnce(&mut ProviderSettings, &mut SandboxConfig)) -> Env {
        let merchant = Receiver::start_with(KEY, SECRET).await;
        let mut settings = ProviderSettings {
            lifecycle_delay_ms: 1_000,
            ..ProviderSettings::default()
        };
        settings
            .options
            .insert("check_url".into(), merchant.url("/check"));
        let mut config = SandboxConfig {
            seed: 11,
            time_scale: 0.001,
            ..SandboxConfig::default()
        };
        tweak(&mut settings, &mut config);
        let config = config.with_provider(ProviderKind::AlchemypayVcc, settings);
        Env {
            sandbox: start(config).await,
            merchant,
            http: reqwest::Client::new(),
        }
    }

    /// POSTs `body` to `path` signed as `signing` says; the raw answer.
    pub async fn send(&self, path: &str, body: &str, signing: &Signing<'_>) -> reqwest::Response {
        self.send_signed_for(path, path, body, signing).await
    }

    /// POSTs `body` to `path` with a signature over `signed_path`.
    pub async fn send_signed_for(
        &self,
        path: &str,
        signed_path: &str,
        body: &str,
        signing: &Signing<'_>,
    ) -> reqwest::Response {
        let ts = signing.timestamp_ms.to_string();
        let sign = alchemy_sign(
            signing.secret,
            &ts,
            "POST",
            signed_path,
            signing.signed_body,
        );
        let mut request = self
            .http
            .post(format!("{}{path}", self.sandbox.base_url()))
            .header("content-type", signing.content_type)
            .header("ach-access-timestamp", &ts)
            .header("ach-access-sign", sign)
            .body(body.to_string());
        if let Some(key) = signing.key {
            request = request.header("ach-access-key", key);
        }
        request.send().await.unwrap()
    }

    /// POSTs `body` signed with `secret` at `ts` (milliseconds); the answer must be HTTP 200.
    pub async fn post_signed(&self, path: &str, body: &str, secret: &str, ts: i64) -> Value {
        let signing = Signing {
            secret,
            timestamp_ms: ts,
            ..Signing::of(body)
        };
        let r = self.send(path, body, &signing).await;
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        r.json().await.unwrap()
    }

    /// POSTs `body` correctly signed.
    pub async fn post(&self, path: &str, body: &Value) -> Value {
        self.post_signed(path, &body.to_string(), SECRET, now_ms())
            .await
    }

    /// The seed's create example with `order_no`, calling back the merchant's `/callback`.
    pub fn create_body(&self, order_no: &str) -> Value {
        json!({
            "cardHolder": {"firstName": "Milton", "lastName": "Schmitt"},
            "deposit": "1000", "vid": "USD", "orderNo": order_no,
            "callbackUrl": self.merchant.url("/callback"),
        })
    }
}
