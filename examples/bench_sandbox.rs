//! How many create calls per second the sandbox sustains, per provider, with auth on.
//!
//! ```text
//! cargo run --release --example bench_sandbox -- [SECS] [CLIENTS] [PROVIDER...]
//! ```
//! Defaults: 10 s per provider, 16 concurrent clients, every provider. The sandbox runs in this
//! process on 127.0.0.1:0 and the clients call it over loopback, so both share the machine's
//! cores: the numbers are a floor for the sandbox alone. Every request is fully authenticated
//! (UQPAY: a bearer token and a fresh idempotency key; Alchemy Pay: an HMAC-SHA256 signature
//! over the canonical body, plus, in the `+check` variant, a reverse-validation round trip to a
//! merchant server also running here; QI Tech: ES512 request signatures made by the client
//! and verified by the sandbox, ES512-signed answers, v2 unless `+v1`). Lifecycles run at their
//! default pace (1 s per step) and their webhooks and callbacks go to that merchant server, so
//! they load the machine as they would in a demo.
//!
//! To add a provider, write an `async fn bench_<name>(...) -> Result<Report>` that prepares its
//! credentials and calls [`drive`] with a closure making one create call, then list it in
//! `BENCHES`.

use anyhow::{Context, Result, ensure};
use axum::extract::OriginalUri;
use axum::http::HeaderValue;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cardbatch::domain::ProviderKind;
use cardbatch::sandbox::{ProviderSettings, RunningSandbox, Sandbox, SandboxConfig};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

const UQPAY_BODY: &str = r#"{"cardholder_id":"25ea804d-7fd5-43d5-8792-0fc0214cdb2f","card_product_id":"467e993f-317a-49fc-9ea0-bf49de7d1f76","card_currency":"USD","card_limit":1000}"#;
const ACH_KEY: &str = "ach-sandbox-app-key";
const ACH_SECRET: &str = "ach-sandbox-secret-key";
const ACH_CREATE: &str = "/alchemypay/open/api/card/create";

/// The result of one provider's run.
struct Report {
    name: String,
    ok: u64,
    failed: u64,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Report {
    fn print(&mut self) {
        self.latencies_us.sort_unstable();
        let pct = |p: f64| {
            let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
            self.latencies_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
        };
        println!(
            "{:<22} {:>7.0} creates/s  ok {:>7}  failed {:>5}  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>8.2} ms  ({:.1} s)",
            self.name,
            self.ok as f64 / self.elapsed.as_secs_f64(),
            self.ok,
            self.failed,
            pct(0.50),
            pct(0.99),
            pct(1.0),
            self.elapsed.as_secs_f64()
        );
    }
}

/// Runs `clients` loops calling `create(i)` (a unique `i` per call) for `secs`; a call returning
/// `true` succeeded.
async fn drive<F, Fut>(name: &str, secs: u64, clients: usize, create: F) -> Report
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (create, counter) = (create.clone(), Arc::clone(&counter));
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut latencies) = (0u64, 0u64, Vec::new());
            while Instant::now() < deadline {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                if create(i).await {
                    ok += 1;
                } else {
                    failed += 1;
                }
                latencies.push(t.elapsed().as_micros() as u64);
            }
            (ok, failed, latencies)
        }));
    }
    let mut report = Report {
        name: name.to_string(),
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    for task in tasks {
        let (ok, failed, latencies) = task.await.expect("client task");
        report.ok += ok;
        report.failed += failed;
        report.latencies_us.extend(latencies);
    }
    report.elapsed = started.elapsed();
    report
}

async fn start_sandbox(config: SandboxConfig) -> Result<RunningSandbox> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    Ok(Sandbox::start(config, listener)?)
}

async fn bench_uqpay(secs: u64, clients: usize) -> Result<Report> {
    let settings = ProviderSettings {
        webhook_url: Some(format!("{}/hooks", start_merchant().await?)),
        ..ProviderSettings::default()
    };
    let config = SandboxConfig::default().with_provider(ProviderKind::Uqpay, settings);
    let sandbox = start_sandbox(config).await?;
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{}/uqpay/api/v1/connect/token", sandbox.base_url()))
        .header("x-client-id", "uqpay-sandbox-client")
        .header("x-api-key", "uqpay-sandbox-api-key")
        .send()
        .await?
        .json()
        .await?;
    let bearer = format!(
        "Bearer {}",
        token["auth_token"].as_str().context("no auth_token")?
    );
    let url = format!("{}/uqpay/api/v1/issuing/cards", sandbox.base_url());
    let report = drive("uqpay", secs, clients, move |i| {
        let (http, url, bearer) = (http.clone(), url.clone(), bearer.clone());
        async move {
            http.post(url)
                .header("x-auth-token", bearer)
                .header("x-idempotency-key", format!("bench-{i}"))
                .header("content-type", "application/json")
                .body(UQPAY_BODY)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    ensure!(
        sandbox.ledger().len() as u64 == report.ok,
        "ledger and successes disagree"
    );
    sandbox.shutdown().await;
    Ok(report)
}

fn ach_sign(ts: &str, method: &str, path: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(ACH_SECRET.as_bytes()).expect("any key");
    mac.update(format!("{ts}{method}{path}{body}").as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The client's server: acknowledges webhooks and callbacks on `/hooks` and answers reverse
/// validation on `/check` with a signed `{"success":true}`. Returns its base URL.
async fn start_merchant() -> Result<String> {
    async fn check(OriginalUri(uri): OriginalUri) -> impl IntoResponse {
        let body = r#"{"success":true}"#;
        let ts = chrono::Utc::now().timestamp_millis().to_string();
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let sign = ach_sign(&ts, "GET", path, body);
        let mut response = body.into_response();
        let h = response.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("ach-access-key", HeaderValue::from_static(ACH_KEY));
        h.insert(
            "ach-access-timestamp",
            HeaderValue::from_str(&ts).expect("digits"),
        );
        h.insert(
            "ach-access-sign",
            HeaderValue::from_str(&sign).expect("base64"),
        );
        response
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/check", axum::routing::get(check))
        .route(
            "/hooks",
            axum::routing::post(|_body: axum::body::Bytes| async { "ok" }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

async fn bench_alchemypay(secs: u64, clients: usize, with_check: bool) -> Result<Report> {
    let merchant = start_merchant().await?;
    let mut settings = ProviderSettings::default();
    if with_check {
        settings
            .options
            .insert("check_url".into(), format!("{merchant}/check"));
    }
    let callback = format!("{merchant}/hooks");
    let config = SandboxConfig::default().with_provider(ProviderKind::AlchemypayVcc, settings);
    let sandbox = start_sandbox(config).await?;
    let http = reqwest::Client::new();
    let url = format!("{}{ACH_CREATE}", sandbox.base_url());
    let name = if with_check {
        "alchemypay_vcc+check"
    } else {
        "alchemypay_vcc"
    };
    let report = drive(name, secs, clients, move |i| {
        let (http, url, callback) = (http.clone(), url.clone(), callback.clone());
        async move {
            // Keys already in canonical order and no empty values: the canonical form is the
            // compact body itself.
            let body = format!(
                r#"{{"callbackUrl":"{callback}","cardHolder":{{"firstName":"Milton","lastName":"Schmitt"}},"deposit":"1000","orderNo":"bench-{i}","vid":"USD"}}"#
            );
            let ts = chrono::Utc::now().timestamp_millis().to_string();
            let sign = ach_sign(&ts, "POST", ACH_CREATE, &body);
            let answer = http
                .post(url)
                .header("content-type", "application/json")
                .header("ach-access-key", ACH_KEY)
                .header("ach-access-timestamp", ts)
                .header("ach-access-sign", sign)
                .body(body)
                .send()
                .await;
            match answer {
                Ok(r) => r
                    .json::<serde_json::Value>()
                    .await
                    .is_ok_and(|v| v["code"] == "0"),
                Err(_) => false,
            }
        }
    })
    .await;
    ensure!(
        sandbox.ledger().len() as u64 == report.ok,
        "ledger and successes disagree"
    );
    sandbox.shutdown().await;
    Ok(report)
}

/// QI Tech: every call is signed here with the dev client key (ES512, inside the timed loop,
/// as a real client signs) and verified by the sandbox, which signs its answer. v2 unless `v1`.
async fn bench_qitech(secs: u64, clients: usize, kind: ProviderKind, v1: bool) -> Result<Report> {
    use cardbatch::sandbox::qitech::{
        DEV_CLIENT_PRIVATE_KEY_PEM, sign_v1, sign_v2, signing_key_from_pem,
    };
    let settings = ProviderSettings {
        webhook_url: Some(format!("{}/hooks", start_merchant().await?)),
        ..ProviderSettings::default()
    };
    let sandbox = start_sandbox(SandboxConfig::default().with_provider(kind, settings)).await?;
    let key = Arc::new(signing_key_from_pem(DEV_CLIENT_PRIVATE_KEY_PEM)?);
    let path = match kind {
        ProviderKind::QitechPrepaid => "/qitech/prepaid/card".to_string(),
        _ => "/qitech/wallet/3f9a7c2e-1b4d-4e8f-9a6c-5d2e8b7f1a30/payment_instrument".to_string(),
    };
    let (http, url) = (
        reqwest::Client::new(),
        format!("{}{path}", sandbox.base_url()),
    );
    let name = format!("{kind}{}", if v1 { "+v1" } else { "" });
    let report = drive(&name, secs, clients, move |i| {
        let (http, url, path, key) = (http.clone(), url.clone(), path.clone(), Arc::clone(&key));
        async move {
            let body = match kind {
                ProviderKind::QitechPrepaid => serde_json::json!({
                    "account_key": "5294ed8d-08fc-4397-b15f-6d9aa07b0041",
                    "program_key": "7d405c31-ec9a-46c1-8ac8-54bab209bf41", "type": "virtual",
                    "card_name": format!("b{i}"), "printed_name": "Aurora Catarina",
                    "cvv_rotation_interval_hours": 72
                }),
                _ => serde_json::json!({
                    "request_control_key": format!("00000000-0000-4000-8000-{i:012}"),
                    "person_key": "f2cad6b4-2a68-4572-99a7-2849c8d6ecf8",
                    "payment_instrument_type": "postpaid_card",
                    "postpaid_card_data": {"card_type": "virtual", "card_name": format!("b{i}"),
                        "printed_name": "JOAO SILVA", "cvv_rotation_interval_hours": 24}
                }),
            };
            let api_key = "20d6a816-9d21-4e29-bbe5-2ffb3baacfe9";
            let now = chrono::Utc::now();
            let signed = if v1 {
                sign_v1(&key, api_key, "POST", &path, Some(&body), now)
            } else {
                sign_v2(&key, api_key, "POST", &path, Some(&body), now)
            };
            let mut request = http.post(url).body(signed.body);
            for (name, value) in signed.headers {
                request = request.header(name, value);
            }
            request.send().await.is_ok_and(|r| r.status() == 201)
        }
    })
    .await;
    ensure!(
        sandbox.ledger().len() as u64 == report.ok,
        "ledger and successes disagree"
    );
    sandbox.shutdown().await;
    Ok(report)
}

const BENCHES: [&str; 6] = [
    "uqpay",
    "alchemypay_vcc",
    "alchemypay_vcc+check",
    "qitech_prepaid",
    "qitech_prepaid+v1",
    "qitech_postpaid",
];

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: u64 = args.first().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let clients: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(16);
    let wanted: Vec<&str> = if args.len() > 2 {
        args[2..].iter().map(String::as_str).collect()
    } else {
        BENCHES.to_vec()
    };
    println!(
        "sandbox create throughput, {secs} s per provider, {clients} concurrent clients, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for name in wanted {
        let mut report = match name {
            "uqpay" => bench_uqpay(secs, clients).await?,
            "alchemypay_vcc" => bench_alchemypay(secs, clients, false).await?,
            "alchemypay_vcc+check" => bench_alchemypay(secs, clients, true).await?,
            "qitech_prepaid" => {
                bench_qitech(secs, clients, ProviderKind::QitechPrepaid, false).await?
            }
            "qitech_prepaid+v1" => {
                bench_qitech(secs, clients, ProviderKind::QitechPrepaid, true).await?
            }
            "qitech_postpaid" => {
                bench_qitech(secs, clients, ProviderKind::QitechPostpaid, false).await?
            }
            other => anyhow::bail!("unknown bench {other}; expected one of {BENCHES:?}"),
        };
        report.print();
    }
    Ok(())
}
