//! UQPAY's create: the seed example and its answer, the card's lifecycle and its signed
//! webhooks, retried until acknowledged.

use crate::support::eventually;
use crate::support::uqpay::{Env, HOLDER, SECRET, hmac512_hex, key, seed_body};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn the_seed_create_example_is_accepted_and_answered_in_the_documented_shape() {
    let env = Env::start(|s| s.lifecycle_delay_ms = 3_600_000).await;
    let token = env.token().await;

    let (status, body) = env.create_raw(&token, &key(), &seed_body()).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "card_id",
            "card_order_id",
            "card_status",
            "create_time",
            "order_status"
        ]
    );
    assert!(uuid::Uuid::parse_str(body["card_id"].as_str().unwrap()).is_ok());
    assert!(uuid::Uuid::parse_str(body["card_order_id"].as_str().unwrap()).is_ok());
    assert_eq!(body["card_status"], "PENDING");
    assert_eq!(body["order_status"], "PROCESSING");
    let created =
        chrono::DateTime::parse_from_rfc3339(body["create_time"].as_str().unwrap()).unwrap();
    assert_eq!(created.offset().local_minus_utc(), 8 * 3600);
    let entry = env.sandbox.ledger().entries().pop().unwrap();
    assert_eq!(entry.card_id, body["card_id"].as_str().unwrap());
    assert_eq!(entry.status, "PENDING");
}

#[tokio::test]
async fn the_card_becomes_active_with_a_webhook_signed_as_uqpay_signs() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let (_, created) = env.create_raw(&token, &key(), &seed_body()).await;

    let hooks = env.receiver.wait_for("/webhooks/uqpay", 1).await;

    let hook = &hooks[0];
    let ts = hook.header("x-wk-timestamp").unwrap();
    assert_eq!(ts.len(), 13, "milliseconds");
    assert_eq!(
        hook.header("x-wk-signature").unwrap(),
        hmac512_hex(SECRET, &hook.body, ts)
    );
    let event = hook.json();
    assert_eq!(event["event_type"], "card.create.succeeded");
    assert_eq!(event["event_name"], "ISSUING");
    assert_eq!(event["version"], "V1.6.0");
    assert_eq!(event["source_id"], created["card_order_id"]);
    let data = &event["data"];
    assert_eq!(data["card_id"], created["card_id"]);
    assert_eq!(data["card_status"], "ACTIVE");
    assert_eq!(data["card_available_balance"], "1000");
    assert_eq!(data["card_bin"], "40963608");
    assert!(
        data["card_number"]
            .as_str()
            .unwrap()
            .starts_with("40963608****")
    );
    assert_eq!(data["cardholder"]["first_name"], "Alex");
    assert_eq!(data["form_factor"], "VIRTUAL");

    let card_id = created["card_id"].as_str().unwrap();
    let (status, card) = env
        .get(&token, &format!("/v1/issuing/cards/{card_id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(card["card_status"], "ACTIVE");
    assert_eq!(card["cardholder"]["cardholder_id"], HOLDER);
    let order_id = created["card_order_id"].as_str().unwrap();
    let (status, order) = env
        .get(&token, &format!("/v1/issuing/cards/{order_id}/order"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["order_status"], "SUCCESS");
    assert_eq!(order["order_type"], "CREATE_CARD");
    assert_eq!(order["card_id"], created["card_id"]);
    assert_eq!(
        env.sandbox.ledger().get("uqpay", card_id).unwrap().status,
        "ACTIVE"
    );
}

#[tokio::test]
async fn a_failed_creation_ends_failed_with_a_card_create_failed_webhook() {
    let env = Env::start(|s| s.failure_rate = 1.0).await;
    let token = env.token().await;
    let (_, created) = env.create_raw(&token, &key(), &seed_body()).await;

    let hooks = env.receiver.wait_for("/webhooks/uqpay", 1).await;

    let event = hooks[0].json();
    assert_eq!(event["event_type"], "card.create.failed");
    assert_eq!(event["data"]["card_status"], "FAILED");
    let (_, order) = env
        .get(
            &token,
            &format!(
                "/v1/issuing/cards/{}/order",
                created["card_order_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(order["order_status"], "FAILED");
}

#[tokio::test]
async fn a_webhook_answered_500_is_retried_with_the_same_event_and_a_fresh_signature() {
    let env = Env::start(|_| {}).await;
    env.receiver.fail_next(2);
    let token = env.token().await;
    env.create_raw(&token, &key(), &seed_body()).await;

    let hooks = env.receiver.wait_for("/webhooks/uqpay", 3).await;

    assert_eq!(
        hooks.iter().map(|h| h.answered).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    let ids: Vec<Value> = hooks.iter().map(|h| h.json()["event_id"].clone()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]));
    for hook in &hooks {
        let ts = hook.header("x-wk-timestamp").unwrap();
        assert_eq!(
            hook.header("x-wk-signature").unwrap(),
            hmac512_hex(SECRET, &hook.body, ts)
        );
    }
    eventually("delivered count", || {
        env.sandbox.stats().get("uqpay", "webhooks_delivered") == 1
    })
    .await;
    assert_eq!(env.sandbox.stats().get("uqpay", "webhooks_retried"), 2);
}
