//! The `/_sandbox` admin routes: faults changed at run time, the ledger and the stats.

use crate::support::start;
use crate::support::uqpay::{BODY, Seen, config_with_faults, create_seen, token_for};
use cardbatch_sandbox::FaultConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn faults_change_at_run_time_through_the_admin_route() {
    let sandbox = start(config_with_faults(1, FaultConfig::default())).await;
    let http = reqwest::Client::new();
    let token = token_for(&http, &sandbox).await;
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
    let seen = create_seen(&http, &sandbox.base_url(), &token, "k", BODY).await;
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
    let sandbox = start(config_with_faults(1, FaultConfig::default())).await;
    let http = reqwest::Client::new();
    let token = token_for(&http, &sandbox).await;
    // Two different keys for the same logical order: the client's mistake the ledger exposes.
    let body = r#"{"cardholder_id":"25ea804d-7fd5-43d5-8792-0fc0214cdb2f","card_product_id":"467e993f-317a-49fc-9ea0-bf49de7d1f76","card_currency":"USD","metadata":{"order":"A-1"}}"#;
    for key in ["k-1", "k-2"] {
        assert_eq!(
            create_seen(&http, &sandbox.base_url(), &token, key, body).await,
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
