//! The `/_sandbox` admin routes: faults changed at run time, the ledger (whose duplicates are
//! orders with two cards, not references shared by design) and the stats.

use crate::support::alchemypay::{CREATE, KEY, SECRET, alchemy_sign, now_ms};
use crate::support::start;
use crate::support::uqpay::{
    BODY, HOLDER, PRODUCT, Seen, config_with_faults, create_seen, token_for,
};
use cardbatch_sandbox::{FaultConfig, SandboxConfig};
use futures::StreamExt;
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
    // Two different keys for the same order (cardbatch tags the metadata with it): the client's
    // mistake the ledger exposes.
    let body = r#"{"cardholder_id":"25ea804d-7fd5-43d5-8792-0fc0214cdb2f","card_product_id":"467e993f-317a-49fc-9ea0-bf49de7d1f76","card_currency":"USD","metadata":{"cardbatch_order_ref":"A-1"}}"#;
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
    assert_eq!(
        duplicates,
        &[json!({"provider": "uqpay", "name": "cardbatch_order_ref", "value": "A-1", "cards": 2})]
    );
    assert_eq!(
        stats["uqpay"]["requests"], 3,
        "one token call and two creates"
    );
    assert_eq!(stats["uqpay"]["cards_created"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_shared_by_design_are_no_duplicates_and_an_order_with_two_cards_is_one() {
    // Arrange: the development credentials; no check URL, so Alchemy Pay skips reverse
    // validation.
    let sandbox = start(SandboxConfig::default()).await;
    let http = reqwest::Client::new();
    let base = sandbox.base_url();
    let token = token_for(&http, &sandbox).await;
    let order = |n: usize| {
        json!({"cardholder_id": HOLDER, "card_product_id": PRODUCT, "card_currency": "USD",
               "metadata": {"cardbatch_order_ref": format!("order-{n}")}})
        .to_string()
    };

    // Act: 300 orders for one cardholder, two Alchemy Pay orders of one customer.
    let seen: Vec<Seen> = futures::stream::iter(0..300)
        .map(|n| {
            let (http, base, token, body) = (http.clone(), base.clone(), token.clone(), order(n));
            async move { create_seen(&http, &base, &token, &format!("k-{n}"), &body).await }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for order_no in ["a-1", "a-2"] {
        let body = json!({"deposit": "1000", "vid": "USD", "orderNo": order_no,
                          "customerId": "customer-1", "callbackUrl": "http://127.0.0.1:9/cb"})
        .to_string();
        let ts = now_ms().to_string();
        let answer: Value = http
            .post(format!("{base}{CREATE}"))
            .header("content-type", "application/json")
            .header("ach-access-key", KEY)
            .header("ach-access-timestamp", &ts)
            .header(
                "ach-access-sign",
                alchemy_sign(SECRET, &ts, "POST", CREATE, &body),
            )
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["code"], "0", "{answer}");
    }
    let clean: Value = http
        .get(format!("{base}/_sandbox/ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Then order 7 issued a second time under a new key.
    let again = create_seen(&http, &base, &token, "k-7-again", &order(7)).await;
    let dirty: Value = http
        .get(format!("{base}/_sandbox/ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Assert
    assert!(seen.iter().all(|s| *s == Seen::Created));
    assert_eq!(again, Seen::Created);
    assert_eq!(clean["total_cards"], 302);
    assert_eq!(clean["duplicates"], json!([]));
    let count = |name: &str, value: &str| {
        clean["per_reference"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name && r["value"] == value)
            .map(|r| r["cards"].clone())
    };
    assert_eq!(count("cardholder_id", HOLDER), Some(json!(300)));
    assert_eq!(count("customerId", "customer-1"), Some(json!(2)));
    assert_eq!(
        dirty["duplicates"],
        json!([{"provider": "uqpay", "name": "cardbatch_order_ref", "value": "order-7", "cards": 2}])
    );
}
