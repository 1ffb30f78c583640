//! A QI Tech sandbox configured with a fresh client key pair, and a client over real HTTP that
//! signs with it (see `qitech_sign`) and checks the sandbox's signature on every answer.

use super::qitech_sign::{Request, Variant, es512_verify, md5_hex, new_key, request};
use super::receiver::Receiver;
use super::sandbox::json_by_content_type;
use axum::http::HeaderMap;
use cardbatch_sandbox::{ProviderSettings, RunningSandbox, Sandbox, SandboxConfig};
use cardbatch_types::ProviderKind;
use openssl::ec::EcKey;
use openssl::pkey::{Private, Public};
use serde_json::{Value, json};

/// Path the webhook receiver is given.
pub const HOOK_PATH: &str = "/hooks/qitech";

/// The sandbox's answer, with its signature checked.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// The JSON answer (for v1 the verified claims of `encoded_body`).
    pub json: Value,
}

/// A sandbox with a client key pair, and a QI client over real HTTP.
pub struct QiHarness {
    pub sandbox: RunningSandbox,
    pub client_key: EcKey<Private>,
    pub sandbox_key: EcKey<Public>,
    pub http: reqwest::Client,
}

/// Options of [`start`].
#[derive(Default)]
pub struct Setup {
    pub webhook_url: Option<String>,
    pub options: Vec<(&'static str, &'static str)>,
    pub rate_limit_per_sec: Option<f64>,
    pub failure_rate: f64,
}

/// [`start`] with the default setup whose webhooks go to a new [`Receiver`]'s [`HOOK_PATH`].
pub async fn start_with_hooks() -> (Receiver, QiHarness) {
    let hooks = Receiver::start().await;
    let qi = start(Setup {
        webhook_url: Some(hooks.url(HOOK_PATH)),
        ..Setup::default()
    })
    .await;
    (hooks, qi)
}

/// Starts a sandbox on 127.0.0.1:0 configured with a new client key pair; lifecycles and
/// webhook retries are scaled down 1000x (a 5-minute retry takes 0.3 s). The sandbox's public
/// key is read from `GET /qitech/_sandbox/public_key`.
pub async fn start(setup: Setup) -> QiHarness {
    let client_key = new_key();
    let public_pem = String::from_utf8(client_key.public_key_to_pem().unwrap()).unwrap();
    let mut settings = ProviderSettings::default();
    settings
        .options
        .insert("client_public_key_pem".into(), public_pem);
    for (k, v) in &setup.options {
        settings.options.insert(k.to_string(), v.to_string());
    }
    settings.webhook_url = setup.webhook_url.clone();
    settings.failure_rate = setup.failure_rate;
    settings.faults.rate_limit_per_sec = setup.rate_limit_per_sec;
    settings.faults.rate_limit_burst = setup.rate_limit_per_sec.map(|_| 1);
    let mut postpaid = settings.clone();
    postpaid.options.clear();
    let config = SandboxConfig {
        time_scale: 0.001,
        ..SandboxConfig::default()
    }
    .with_provider(ProviderKind::QitechPrepaid, settings)
    .with_provider(ProviderKind::QitechPostpaid, postpaid);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = Sandbox::start(config, listener).unwrap();
    let http = reqwest::Client::new();
    let pem = http
        .get(format!("{}/qitech/_sandbox/public_key", sandbox.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sandbox_key = EcKey::public_key_from_pem(pem.as_bytes()).unwrap();
    QiHarness {
        sandbox,
        client_key,
        sandbox_key,
        http,
    }
}

impl QiHarness {
    /// `PATCH path` with `{"status": status}`: a card's status change.
    pub async fn set_status(&self, variant: Variant, path: &str, status: &str) -> Reply {
        self.call(variant, "PATCH", path, Some(&json!({ "status": status })))
            .await
    }

    /// Signs (with the configured client key) and sends a request under `/qitech`.
    pub async fn call(
        &self,
        variant: Variant,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let req = request(
            variant,
            &self.client_key,
            method,
            &format!("/qitech{path}"),
            body,
        );
        self.send(req).await.expect("the sandbox answers")
    }

    /// Sends a prepared request; `Err` when no answer came (a lost response).
    pub async fn send(&self, req: Request) -> Result<Reply, reqwest::Error> {
        let (method, path) = (req.method.clone(), req.path.clone());
        let response = req.send(&self.http, &self.sandbox.base_url()).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        Ok(Reply {
            status,
            json: self.verify_answer(&method, &path, &headers, &bytes),
            headers,
        })
    }

    /// Checks the sandbox's signature on an answer and returns the JSON it carries, read as a
    /// client reads it: only from an `application/json` answer.
    pub fn verify_answer(
        &self,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Value {
        let authorization = headers
            .get("authorization")
            .expect("answers are signed")
            .to_str()
            .unwrap();
        let wrapper = json_by_content_type(headers, body).expect("answers are JSON served as such");
        if let Some(rest) = authorization.strip_prefix("QIT ") {
            let (_, token) = rest.split_once(':').unwrap();
            let claims =
                es512_verify(&self.sandbox_key, token).expect("the v1 answer header verifies");
            let encoded = wrapper["encoded_body"]
                .as_str()
                .expect("v1 answers are encoded_body");
            let signature = claims["signature"].as_str().unwrap();
            let lines: Vec<&str> = signature.split('\n').collect();
            assert_eq!(lines[0], method);
            assert_eq!(
                lines[1],
                md5_hex(encoded.as_bytes()),
                "signed MD5 of encoded_body"
            );
            assert_eq!(lines[4], path);
            es512_verify(&self.sandbox_key, encoded)
                .expect("encoded_body verifies with the sandbox key")
        } else {
            let claims = es512_verify(&self.sandbox_key, authorization)
                .expect("the v2 answer header verifies");
            assert_eq!(claims["payload_md5"], md5_hex(body));
            assert_eq!(claims["method"], method);
            wrapper
        }
    }

    /// Cards the ledger holds for this provider and reference.
    pub fn ledger_count(&self, provider: &str, name: &str, value: &str) -> u64 {
        self.sandbox.ledger().count_for(provider, name, value)
    }
}

/// Each documented prepaid create error, with the change to a `valid` body that triggers it in
/// the sandbox's fixtures: (body, HTTP status, QI's code).
pub fn prepaid_error_triggers(valid: &Value) -> Vec<(Value, u16, &'static str)> {
    let with = |field: &str, value: &str| {
        let mut body = valid.clone();
        body[field] = json!(value);
        body
    };
    const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";
    vec![
        (with("type", "VIRTUAL"), 400, "QIT000001"),
        (with("program_key", UNKNOWN), 404, "CARD000005"),
        (with("account_key", UNKNOWN), 404, "CARD000006"),
        (
            with("program_key", "bf74df61-557a-45cb-914f-41e127a6e18c"),
            400,
            "CARD000007",
        ),
        (
            with("account_key", "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"),
            400,
            "CARD000008",
        ),
        (
            with("account_key", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"),
            404,
            "CARD000010",
        ),
        (
            with("program_key", "6b6ebaac-043b-4390-8d62-e8098ec901e9"),
            403,
            "CARD000032",
        ),
    ]
}

/// The seed's documented prepaid request.
pub fn seed_virtual() -> Value {
    json!({
        "account_key": "5294ed8d-08fc-4397-b15f-6d9aa07b0041",
        "program_key": "7d405c31-ec9a-46c1-8ac8-54bab209bf41",
        "type": "virtual",
        "card_name": "ecommerce",
        "printed_name": "Aurora Catarina",
        "cvv_rotation_interval_hours": 72
    })
}

/// `body` with `field` set to the string `value`.
pub fn with_field(mut body: Value, field: &str, value: &str) -> Value {
    body[field] = json!(value);
    body
}
