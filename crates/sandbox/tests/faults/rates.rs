//! Injected create faults: their rates over thousands of requests, lost responses that still
//! leave their card in the ledger, and repeatability from the seed.

use crate::support::alchemypay::{CREATE, KEY, SECRET, alchemy_sign};
use crate::support::start;
use crate::support::uqpay::{BODY, Seen, config_with_faults, create_seen, token_for};
use cardbatch_sandbox::{FaultConfig, ProviderSettings, SandboxConfig};
use cardbatch_types::ProviderKind;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;

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
    let sandbox = start(config_with_faults(2024, faults)).await;
    let http = reqwest::Client::new();
    let token = token_for(&http, &sandbox).await;
    let base = sandbox.base_url();

    // Act
    let outcomes: Vec<(String, Seen)> = futures::stream::iter(0..N)
        .map(|i| {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            async move {
                let key = format!("fault-run-{i}");
                let seen = create_seen(&http, &base, &token, &key, BODY).await;
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
    let sandbox = start(config_with_faults(1, faults)).await;
    let http = reqwest::Client::new();
    let token = token_for(&http, &sandbox).await;

    let first = create_seen(&http, &sandbox.base_url(), &token, "lost-1", BODY).await;
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
        let sandbox = start(config_with_faults(99, faults.clone())).await;
        let http = reqwest::Client::new();
        let token = token_for(&http, &sandbox).await;
        let mut seen = Vec::new();
        for i in 0..300 {
            seen.push(
                create_seen(&http, &sandbox.base_url(), &token, &format!("k{i}"), BODY).await,
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
    let url = format!("{}{CREATE}", sandbox.base_url());

    let codes: Vec<String> = futures::stream::iter(0..N)
        .map(|i| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let body = json!({"deposit": "1000", "vid": "USD", "orderNo": format!("f-{i}"), "callbackUrl": "http://127.0.0.1:9/cb"}).to_string();
                let ts = chrono::Utc::now().timestamp_millis().to_string();
                let sign = alchemy_sign(SECRET, &ts, "POST", CREATE, &body);
                let answer: Value = http
                    .post(url)
                    .header("content-type", "application/json")
                    .header("ach-access-key", KEY)
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

#[tokio::test]
async fn a_create_whose_client_hangs_up_mid_call_still_makes_its_card() {
    // Arrange: every call takes 300 ms; the client gives up after 50 ms (a worker killed
    // mid-call). A provider carries on with a request it has received.
    let faults = FaultConfig {
        latency_ms: 300,
        ..FaultConfig::default()
    };
    let sandbox = start(config_with_faults(5, faults)).await;
    let token = token_for(&reqwest::Client::new(), &sandbox).await;
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(50))
        .build()
        .unwrap();

    // Act
    let sent = impatient
        .post(format!("{}/uqpay/api/v1/issuing/cards", sandbox.base_url()))
        .header("x-auth-token", format!("Bearer {token}"))
        .header("x-idempotency-key", "hung-up")
        .header("content-type", "application/json")
        .body(BODY)
        .send()
        .await;

    // Assert: no answer, and the card is made anyway.
    assert!(sent.is_err_and(|e| e.is_timeout()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sandbox
        .ledger()
        .count_for("uqpay", "idempotency_key", "hung-up")
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the card of a request whose client hung up was never made"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
