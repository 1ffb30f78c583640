//! UQPAY's create validation: every documented rule answers its typed error, and the issuing
//! balance and BIN pools of SINGLE-mode products.

use crate::support::uqpay::{
    Env, HOLDER, HOLDER_PENDING, PRODUCT_527735, PRODUCT_DISABLED, PRODUCT_NO_POOL,
    PRODUCT_PHYSICAL, PRODUCT_SINGLE, key, seed_body,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn single_mode(limit: u64) -> Value {
    json!({"cardholder_id": HOLDER, "card_product_id": PRODUCT_SINGLE, "card_currency": "USD", "card_limit": limit})
}

#[tokio::test]
async fn every_documented_validation_rule_answers_its_error() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let with = |patch: Value| {
        let mut body = seed_body();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases = [
        (
            "BIN 527735 without card_limit",
            with(json!({"card_product_id": PRODUCT_527735, "card_limit": null})),
            "invalid_request_error",
            "invalid_card_limit",
        ),
        (
            "BIN 527735 with card_limit 0",
            with(json!({"card_product_id": PRODUCT_527735, "card_limit": 0})),
            "invalid_request_error",
            "invalid_card_limit",
        ),
        (
            "negative card_limit",
            with(json!({"card_limit": -1})),
            "invalid_request_error",
            "invalid_card_limit",
        ),
        (
            "ONE_TIME without trigger",
            with(json!({"usage_type": "ONE_TIME"})),
            "invalid_request_error",
            "missing_auto_cancel_trigger",
        ),
        (
            "bad trigger",
            with(json!({"usage_type": "ONE_TIME", "auto_cancel_trigger": "ON_WHIM"})),
            "invalid_request_error",
            "invalid_auto_cancel_trigger",
        ),
        (
            "metadata over 3200 bytes",
            with(json!({"metadata": {"note": "x".repeat(3200)}})),
            "invalid_request_error",
            "metadata_too_large",
        ),
        (
            "currency not in product",
            with(
                json!({"card_product_id": PRODUCT_527735, "card_currency": "SGD", "card_limit": 5}),
            ),
            "invalid_request_error",
            "invalid_card_currency",
        ),
        (
            "unknown currency",
            with(json!({"card_currency": "EUR"})),
            "invalid_request_error",
            "invalid_card_currency",
        ),
        (
            "cardholder pending KYC",
            with(json!({"cardholder_id": HOLDER_PENDING})),
            "invalid_request_error",
            "cardholder_status_invalid",
        ),
        (
            "disabled product",
            with(json!({"card_product_id": PRODUCT_DISABLED})),
            "invalid_request_error",
            "product_disabled",
        ),
        (
            "product without VIR",
            with(json!({"card_product_id": PRODUCT_PHYSICAL})),
            "invalid_request_error",
            "card_form_not_supported",
        ),
        (
            "unknown cardholder",
            with(json!({"cardholder_id": "00000000-0000-4000-8000-000000000000"})),
            "not_found",
            "cardholder_not_found",
        ),
        (
            "unknown product",
            with(json!({"card_product_id": "00000000-0000-4000-8000-000000000000"})),
            "not_found",
            "card_product_not_found",
        ),
        (
            "missing currency",
            with(json!({"card_currency": null})),
            "invalid_request_error",
            "missing_required_fields",
        ),
        (
            "both mcc lists",
            with(json!({"risk_controls": {"allowed_mcc": ["5411"], "blocked_mcc": ["7995"]}})),
            "invalid_request_error",
            "invalid_risk_controls",
        ),
    ];
    for (name, body, kind, code) in cases {
        let (status, answer) = env.create_raw(&token, &key(), &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {answer}");
        assert_eq!(
            (answer["type"].as_str(), answer["code"].as_str()),
            (Some(kind), Some(code)),
            "{name}: {answer}"
        );
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{name}"
        );
    }
    assert_eq!(
        env.sandbox.ledger().len(),
        0,
        "no card for an invalid request"
    );

    let ok = with(
        json!({"card_product_id": PRODUCT_527735, "card_limit": 0.01, "usage_type": "ONE_TIME", "auto_cancel_trigger": "ON_AUTH", "metadata": {"order": "x".repeat(3000)}}),
    );
    let (status, answer) = env.create_raw(&token, &key(), &ok).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn a_single_mode_card_beyond_the_issuing_balance_and_an_empty_bin_pool_are_refused() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let no_pool = json!({"cardholder_id": HOLDER, "card_product_id": PRODUCT_NO_POOL, "card_currency": "USD"});

    // The fixtures' issuing balance is 100,000.00 USD.
    let (first, _) = env.create_raw(&token, &key(), &single_mode(60_000)).await;
    let (second, refused) = env.create_raw(&token, &key(), &single_mode(60_000)).await;
    let (pool_status, pool) = env.create_raw(&token, &key(), &no_pool).await;

    assert_eq!(first, StatusCode::OK);
    assert_eq!(second, StatusCode::BAD_REQUEST);
    assert_eq!(refused["code"], "insufficient_balance");
    assert_eq!(pool_status, StatusCode::BAD_REQUEST);
    assert_eq!(pool["code"], "insufficient_sub_bin");
    assert_eq!(pool["type"], "invalid_request_error");
    assert_eq!(env.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn a_failed_single_mode_card_gives_its_funds_back() {
    let env = Env::start(|s| s.failure_rate = 1.0).await;
    let token = env.token().await;
    let (first, _) = env.create_raw(&token, &key(), &single_mode(60_000)).await;
    env.receiver.wait_for("/webhooks/uqpay", 1).await;

    let (second, answer) = env.create_raw(&token, &key(), &single_mode(60_000)).await;

    assert_eq!(first, StatusCode::OK);
    assert_eq!(second, StatusCode::OK, "{answer}");
}
