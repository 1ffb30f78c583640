//! Shared by the QI Tech sandbox tests: a hand-built QI client whose ES512 signatures come from
//! `openssl` (independent of the sandbox's RustCrypto code), a sandbox started on 127.0.0.1:0
//! with the client's public key configured, and a webhook receiver.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cardbatch::domain::ProviderKind;
use cardbatch::sandbox::{ProviderSettings, RunningSandbox, Sandbox, SandboxConfig};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private, Public};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The API key of the built-in fixtures.
pub const API_KEY: &str = "20d6a816-9d21-4e29-bbe5-2ffb3baacfe9";

/// Which QI signing variant a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    V1,
    V2,
}

/// ES512 compact JWS with openssl: SHA-512 ECDSA, DER signature converted to raw `r‖s`.
pub fn es512(key: &EcKey<Private>, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"ES512","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let pkey = PKey::from_ec_key(key.clone()).unwrap();
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha512(), &pkey).unwrap();
    signer.update(input.as_bytes()).unwrap();
    let der = signer.sign_to_vec().unwrap();
    let sig = EcdsaSig::from_der(&der).unwrap();
    let mut raw = sig.r().to_vec_padded(66).unwrap();
    raw.extend(sig.s().to_vec_padded(66).unwrap());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw))
}

/// Verifies an ES512 compact JWS with openssl and returns its claims; `None` if it fails.
pub fn es512_verify(key: &EcKey<Public>, token: &str) -> Option<Value> {
    let (input, signature) = token.rsplit_once('.')?;
    let raw = URL_SAFE_NO_PAD.decode(signature).ok()?;
    if raw.len() != 132 {
        return None;
    }
    let sig = EcdsaSig::from_private_components(
        BigNum::from_slice(&raw[..66]).ok()?,
        BigNum::from_slice(&raw[66..]).ok()?,
    )
    .ok()?;
    let digest = openssl::sha::sha512(input.as_bytes());
    if !sig.verify(&digest, key).ok()? {
        return None;
    }
    let payload = input.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// Lowercase hex MD5 with openssl.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(openssl::hash::hash(MessageDigest::md5(), bytes).unwrap())
}

/// A fresh P-521 key pair.
pub fn new_key() -> EcKey<Private> {
    EcKey::generate(&EcGroup::from_curve_name(Nid::SECP521R1).unwrap()).unwrap()
}

/// A signed request ready to send.
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Signs a request the v1 way: `{"encoded_body": jwt}` and `Authorization: QIT key:jwt`.
pub fn v1_request(
    key: &EcKey<Private>,
    api_key: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Request {
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let (bytes, md5, content_type) = match body {
        Some(b) => {
            let encoded = es512(key, b);
            let md5 = md5_hex(encoded.as_bytes());
            (
                json!({"encoded_body": encoded}).to_string().into_bytes(),
                md5,
                "application/json",
            )
        }
        None => (Vec::new(), String::new(), ""),
    };
    let signature = format!("{method}\n{md5}\n{content_type}\n{date}\n{path}");
    let token = es512(key, &json!({"sub": api_key, "signature": signature}));
    let mut headers = vec![
        (
            "Authorization".to_string(),
            format!("QIT {api_key}:{token}"),
        ),
        ("API-CLIENT-KEY".to_string(), api_key.to_string()),
        ("Date".to_string(), date),
    ];
    if body.is_some() {
        headers.push(("Content-Type".to_string(), content_type.to_string()));
    }
    Request {
        method: method.into(),
        path: path.into(),
        headers,
        body: bytes,
    }
}

/// Signs a request the v2 way: plain JSON and `AUTHORIZATION: jwt` over its MD5. The JSON is
/// serialised with Python's separators, as QI's sample code does.
pub fn v2_request(
    key: &EcKey<Private>,
    api_key: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Request {
    let bytes = body.map(python_json).unwrap_or_default().into_bytes();
    let md5 = if bytes.is_empty() {
        md5_hex(b"{}")
    } else {
        md5_hex(&bytes)
    };
    let timestamp = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let uri = path.split('?').next().unwrap();
    let token = es512(
        key,
        &json!({"payload_md5": md5, "timestamp": timestamp, "method": method, "uri": uri}),
    );
    let mut headers = vec![
        ("AUTHORIZATION".to_string(), token),
        ("API-CLIENT-KEY".to_string(), api_key.to_string()),
    ];
    if body.is_some() {
        headers.push(("Content-Type".to_string(), "application/json".to_string()));
    }
    Request {
        method: method.into(),
        path: path.into(),
        headers,
        body: bytes,
    }
}

/// `json.dumps` output: `", "` and `": "` separators, non-ASCII escaped.
pub fn python_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", python_json(&json!(k)), python_json(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_json).collect::<Vec<_>>().join(", ")
        ),
        Value::String(s) => {
            let mut out = String::new();
            for c in serde_json::to_string(s).unwrap().chars() {
                if c.is_ascii() {
                    out.push(c);
                } else {
                    for unit in c.encode_utf16(&mut [0; 2]) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
            out
        }
        other => other.to_string(),
    }
}

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

/// Starts a sandbox on 127.0.0.1:0 configured with a new client key pair; lifecycles and
/// webhook retries are scaled down 1000x (a 5-minute retry takes 0.3 s).
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
    /// Signs (with the configured client key) and sends a request under `/qitech`.
    /// `PATCH path` with `{"status": status}`: a card's status change.
    pub async fn set_status(&self, variant: Variant, path: &str, status: &str) -> Reply {
        self.call(variant, "PATCH", path, Some(&json!({ "status": status })))
            .await
    }

    pub async fn call(
        &self,
        variant: Variant,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let full = format!("/qitech{path}");
        let req = match variant {
            Variant::V1 => v1_request(&self.client_key, API_KEY, method, &full, body),
            Variant::V2 => v2_request(&self.client_key, API_KEY, method, &full, body),
        };
        self.send(req).await.expect("the sandbox answers")
    }

    /// Sends a prepared request; `Err` when no answer came (a lost response).
    pub async fn send(&self, req: Request) -> Result<Reply, reqwest::Error> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
        let mut builder = self
            .http
            .request(method, format!("{}{}", self.sandbox.base_url(), req.path));
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        let response = builder.body(req.body).send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        Ok(Reply {
            status,
            json: self.verify_answer(&req.method, &req.path, &headers, &bytes),
            headers,
        })
    }

    /// Checks the sandbox's signature on an answer and returns the JSON it carries.
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
        let wrapper: Value = serde_json::from_slice(body).expect("answers are JSON");
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

/// One webhook as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A webhook receiver on 127.0.0.1:0 answering the queued statuses first, then 200.
pub struct Receiver {
    pub url: String,
    pub rx: mpsc::UnboundedReceiver<Received>,
}

/// Path the receiver listens on.
pub const HOOK_PATH: &str = "/hooks/qitech";

/// Starts a receiver; `fail_first` answers are 500.
pub async fn receiver(fail_first: usize) -> Receiver {
    let (tx, rx) = mpsc::unbounded_channel();
    let answers = Arc::new(Mutex::new(VecDeque::from(vec![500u16; fail_first])));
    let app = axum::Router::new().route(
        HOOK_PATH,
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            let answers = Arc::clone(&answers);
            async move {
                let _ = tx.send(Received { headers, body });
                let status = answers.lock().unwrap().pop_front().unwrap_or(200);
                StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{HOOK_PATH}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, rx }
}

impl Receiver {
    /// The next webhook, waiting up to 10 s.
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("a webhook arrives within 10 s")
            .expect("the receiver is running")
    }
}

/// Waits (up to 10 s) until `check` holds, polling every 10 ms.
pub async fn eventually(mut check: impl FnMut() -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the condition holds within 10 s");
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
