//! Fault injection across providers: injected rates over 10,000 requests, lost responses that
//! still leave their card in the ledger, repeatability from the seed, webhook faults (duplicate,
//! reorder, delay, drop), and the `/_sandbox` admin routes.

mod sandbox_support;

use cardbatch::domain::ProviderKind;
use cardbatch::sandbox::{FaultConfig, ProviderSettings, RunningSandbox, SandboxConfig};
use futures::StreamExt;
use reqwest::StatusCode;
use sandbox_support::{Receiver, alchemy_sign, eventually, start};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const BODY: &str = r#"{"cardholder_id":"25ea804d-7fd5-43d5-8792-0fc0214cdb2f","card_product_id":"467e993f-317a-49fc-9ea0-bf49de7d1f76","card_currency":"USD","card_limit":1000}"#;

/// What a client saw for one create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Seen {
    Created,
    Transient,
    NoAnswer,
}

async fn uqpay_token(http: &reqwest::Client, sandbox: &RunningSandbox) -> String {
    let r: Value = http
        .post(format!("{}/uqpay/api/v1/connect/token", sandbox.base_url()))
        .header("x-client-id", "uqpay-sandbox-client")
        .header("x-api-key", "uqpay-sandbox-api-key")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["auth_token"].as_str().unwrap().to_string()
}

async fn uqpay_create(
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

fn uqpay_config(seed: u64, faults: FaultConfig) -> SandboxConfig {
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

/// |observed - p| within six standard deviations of a binomial proportion.
fn assert_rate(name: &str, count: usize, n: usize, p: f64) {
    let observed = count as f64 / n as f64;
    let tolerance = 6.0 * (p * (1.0 - p) / n as f64).sqrt();
    assert!(
        (observed - p).abs() <= tolerance,
        "{name}: observed {observed:.4} over {n}, configured {p}, tolerance {tolerance:.4}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_ten_thousand_creates_the_fault_rates_match_and_every_lost_response_left_its_card() {
    // Arrange
    const N: usize = 10_000;
    let (transient, lost) = (0.10, 0.05);
    let faults = FaultConfig {
        transient_error_rate: transient,
        lost_response_rate: lost,
        ..FaultConfig::default()
    };
    let sandbox = start(uqpay_config(2024, faults)).await;
    let http = reqwest::Client::new();
    let token = uqpay_token(&http, &sandbox).await;
    let base = sandbox.base_url();

    // Act
    let outcomes: Vec<(String, Seen)> = futures::stream::iter(0..N)
        .map(|i| {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            async move {
                let key = format!("fault-run-{i}");
                let seen = uqpay_create(&http, &base, &token, &key, BODY).await;
                (key, seen)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;

    // Assert
    let count = |s: Seen| outcomes.iter().filter(|(_, o)| *o == s).count();
    let (created, failed, no_answer) = (
        count(Seen::Created),
        count(Seen::Transient),
        count(Seen::NoAnswer),
    );
    assert_eq!(created + failed + no_answer, N);
    assert_rate("transient", failed, N, transient);
    assert_rate("lost response", no_answer, N, lost);
    let stats = sandbox.stats();
    assert_eq!(stats.get("uqpay", "faults_transient"), failed as u64);
    assert_eq!(stats.get("uqpay", "faults_lost_response"), no_answer as u64);
    let ledger = sandbox.ledger();
    for (key, seen) in &outcomes {
        let cards = ledger.count_for("uqpay", "idempotency_key", key);
        let expected = u64::from(*seen != Seen::Transient);
        assert_eq!(cards, expected, "{key} {seen:?}");
    }
    assert_eq!(ledger.len(), created + no_answer);
    assert!(
        ledger
            .snapshot(None)
            .duplicates
            .iter()
            .all(|d| d.name != "idempotency_key")
    );
}

#[tokio::test]
async fn a_lost_create_replayed_with_its_key_returns_the_card_that_was_created() {
    let faults = FaultConfig {
        lost_response_rate: 1.0,
        ..FaultConfig::default()
    };
    let sandbox = start(uqpay_config(1, faults)).await;
    let http = reqwest::Client::new();
    let token = uqpay_token(&http, &sandbox).await;

    let first = uqpay_create(&http, &sandbox.base_url(), &token, "lost-1", BODY).await;
    sandbox.set_faults("uqpay", FaultConfig::default());
    let replay: Value = http
        .post(format!("{}/uqpay/api/v1/issuing/cards", sandbox.base_url()))
        .header("x-auth-token", format!("Bearer {token}"))
        .header("x-idempotency-key", "lost-1")
        .header("content-type", "application/json")
        .body(BODY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(first, Seen::NoAnswer);
    assert_eq!(sandbox.ledger().len(), 1);
    assert_eq!(
        replay["card_id"],
        sandbox.ledger().entries()[0].card_id.as_str()
    );
}

#[tokio::test]
async fn the_same_seed_gives_the_same_fault_sequence() {
    let faults = FaultConfig {
        transient_error_rate: 0.3,
        lost_response_rate: 0.2,
        ..FaultConfig::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sandbox = start(uqpay_config(99, faults.clone())).await;
        let http = reqwest::Client::new();
        let token = uqpay_token(&http, &sandbox).await;
        let mut seen = Vec::new();
        for i in 0..300 {
            seen.push(
                uqpay_create(&http, &sandbox.base_url(), &token, &format!("k{i}"), BODY).await,
            );
        }
        runs.push(seen);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&Seen::Transient) && runs[0].contains(&Seen::NoAnswer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alchemy_transient_faults_answer_each_documented_code_at_the_configured_rate() {
    const N: usize = 3_000;
    let p = 0.2;
    let config = SandboxConfig {
        seed: 5,
        time_scale: 0.001,
        ..SandboxConfig::default()
    }
    .with_provider(
        ProviderKind::AlchemypayVcc,
        ProviderSettings {
            faults: FaultConfig {
                transient_error_rate: p,
                ..FaultConfig::default()
            },
            lifecycle_delay_ms: 3_600_000,
            ..ProviderSettings::default()
        },
    );
    let sandbox = start(config).await;
    let http = reqwest::Client::new();
    let url = format!("{}/alchemypay/open/api/card/create", sandbox.base_url());

    let codes: Vec<String> = futures::stream::iter(0..N)
        .map(|i| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let body = json!({"deposit": "1000", "vid": "USD", "orderNo": format!("f-{i}"), "callbackUrl": "http://127.0.0.1:9/cb"}).to_string();
                let ts = chrono::Utc::now().timestamp_millis().to_string();
                let sign = alchemy_sign("ach-sandbox-secret-key", &ts, "POST", "/alchemypay/open/api/card/create", &body);
                let answer: Value = http
                    .post(url)
                    .header("content-type", "application/json")
                    .header("ach-access-key", "ach-sandbox-app-key")
                    .header("ach-access-timestamp", ts)
                    .header("ach-access-sign", sign)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                answer["code"].as_str().unwrap().to_string()
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;

    let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
    for code in &codes {
        *by_code.entry(code.as_str()).or_default() += 1;
    }
    let failed = N - by_code.get("0").copied().unwrap_or(0);
    assert_rate("alchemy transient", failed, N, p);
    let codes_seen: Vec<&str> = by_code.keys().copied().filter(|c| *c != "0").collect();
    assert_eq!(codes_seen, ["100000", "500000", "600002"]);
    assert_eq!(
        sandbox.stats().get("alchemypay_vcc", "faults_transient"),
        failed as u64
    );
    assert_eq!(sandbox.ledger().len(), N - failed);
}

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
    let token = uqpay_token(&reqwest::Client::new(), &sandbox).await;
    (sandbox, receiver, token)
}

#[tokio::test]
async fn a_duplicate_fault_delivers_the_same_event_twice() {
    let (sandbox, receiver, token) = uqpay_with_webhooks(FaultConfig {
        webhook_duplicate_rate: 1.0,
        ..FaultConfig::default()
    })
    .await;
    uqpay_create(
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
    uqpay_create(&http, &sandbox.base_url(), &token, "first", BODY).await;
    eventually("the first webhook to be held back", || {
        sandbox.stats().get("uqpay", "webhooks_reordered") == 1
    })
    .await;
    uqpay_create(&http, &sandbox.base_url(), &token, "second", BODY).await;

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
    uqpay_create(
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
    uqpay_create(
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

#[tokio::test]
async fn faults_change_at_run_time_through_the_admin_route() {
    let sandbox = start(uqpay_config(1, FaultConfig::default())).await;
    let http = reqwest::Client::new();
    let token = uqpay_token(&http, &sandbox).await;
    let faults_url = format!("{}/_sandbox/faults", sandbox.base_url());

    let patched = http
        .patch(&faults_url)
        .json(&json!({"uqpay": {"transient_error_rate": 1.0}}))
        .send()
        .await
        .unwrap();
    let refused = http
        .patch(&faults_url)
        .json(&json!({"uqpay": {"lost_response_rate": 2.0}}))
        .send()
        .await
        .unwrap();
    let unknown = http
        .put(&faults_url)
        .json(&json!({"visa": {}}))
        .send()
        .await
        .unwrap();
    let seen = uqpay_create(&http, &sandbox.base_url(), &token, "k", BODY).await;
    let listed: Value = http
        .get(&faults_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert_eq!(seen, Seen::Transient);
    assert_eq!(listed["uqpay"]["transient_error_rate"], 1.0);
    assert_eq!(listed["uqpay"]["lost_response_rate"], 0.0);
    assert!(listed["qitech_prepaid"].is_object());
}

#[tokio::test]
async fn the_ledger_route_shows_a_duplicate_issuance_and_the_stats_route_counts_requests() {
    let sandbox = start(uqpay_config(1, FaultConfig::default())).await;
    let http = reqwest::Client::new();
    let token = uqpay_token(&http, &sandbox).await;
    // Two different keys for the same logical order: the client's mistake the ledger exposes.
    let body = r#"{"cardholder_id":"25ea804d-7fd5-43d5-8792-0fc0214cdb2f","card_product_id":"467e993f-317a-49fc-9ea0-bf49de7d1f76","card_currency":"USD","metadata":{"order":"A-1"}}"#;
    for key in ["k-1", "k-2"] {
        assert_eq!(
            uqpay_create(&http, &sandbox.base_url(), &token, key, body).await,
            Seen::Created
        );
    }

    let ledger: Value = http
        .get(format!(
            "{}/_sandbox/ledger?provider=uqpay",
            sandbox.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stats: Value = http
        .get(format!("{}/_sandbox/stats", sandbox.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(ledger["total_cards"], 2);
    assert_eq!(ledger["cards"][0]["references"]["idempotency_key"], "k-1");
    let duplicates = ledger["duplicates"].as_array().unwrap();
    let metadata_dup = duplicates.iter().find(|d| d["name"] == "metadata").unwrap();
    assert_eq!(metadata_dup["value"], r#"{"order":"A-1"}"#);
    assert_eq!(metadata_dup["cards"], 2);
    assert_eq!(
        stats["uqpay"]["requests"], 3,
        "one token call and two creates"
    );
    assert_eq!(stats["uqpay"]["cards_created"], 2);
}
