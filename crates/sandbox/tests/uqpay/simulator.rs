//! UQPAY's simulator of card use: authorizations approved or declined by what the card can
//! spend, reversals, and the card transactions they leave.

use crate::support::uqpay::{Env, HOLDER, PRODUCT_SINGLE, key, seed_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

const AUTHORIZE: &str = "/v1/simulation/issuing/authorization";
const REVERSE: &str = "/v1/simulation/issuing/reversal";

fn purchase(card: &str, amount: f64) -> Value {
    json!({"card_id": card, "transaction_amount": amount, "transaction_currency": "USD",
           "merchant_name": "SDK Test Shop", "merchant_category_code": "5734"})
}

#[tokio::test]
async fn a_single_mode_card_spends_its_balance_and_a_reversal_gives_it_back() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let body = json!({"cardholder_id": HOLDER, "card_product_id": PRODUCT_SINGLE, "card_currency": "USD", "card_limit": 25});
    let (_, created) = env.create_raw(&token, &key(), &body).await;
    env.receiver.wait_for("/webhooks/uqpay", 1).await;
    let card = created["card_id"].as_str().unwrap();

    let (status, approved) = env
        .post(&token, &key(), AUTHORIZE, &purchase(card, 10.0))
        .await;
    let hooks = env.receiver.wait_for("/webhooks/uqpay", 2).await;
    let (_, too_much) = env
        .post(&token, &key(), AUTHORIZE, &purchase(card, 30.0))
        .await;
    let id = approved["transaction_id"].as_str().unwrap();
    let (_, read) = env
        .get(&token, &format!("/v1/issuing/transactions/{id}"))
        .await;
    let (reverse_status, reversal) = env
        .post(&token, &key(), REVERSE, &json!({"transaction_id": id}))
        .await;
    let (again_status, _) = env
        .post(&token, &key(), REVERSE, &json!({"transaction_id": id}))
        .await;
    let (_, list) = env
        .get(&token, &format!("/v1/issuing/transactions?card_id={card}"))
        .await;
    let (_, after) = env.get(&token, &format!("/v1/issuing/cards/{card}")).await;

    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["transaction_status"], "APPROVED");
    assert_eq!(approved["transaction_type"], "AUTHORIZATION");
    assert_eq!(approved["card_available_balance"], 15);
    assert_eq!(
        hooks[1].json()["event_type"],
        "issuing.transaction.authorization"
    );
    assert_eq!(hooks[1].json()["data"]["transaction_id"], id);
    assert_eq!(too_much["transaction_status"], "DECLINED");
    assert_eq!(too_much["failure_reason"], "INSUFFICIENT_BALANCE");
    assert_eq!(read["transaction_amount"], "10");
    assert_eq!(read["card_available_balance"], "15");
    assert_eq!(reverse_status, StatusCode::OK, "{reversal}");
    assert_eq!(reversal["transaction_type"], "REVERSAL");
    assert_eq!(reversal["card_available_balance"], 25);
    assert_eq!(again_status, StatusCode::BAD_REQUEST);
    let kinds: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transaction_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["REVERSAL", "AUTHORIZATION", "AUTHORIZATION"],
        "newest first"
    );
    assert_eq!(list["data"][0]["original_transaction_id"], id);
    assert_eq!(after["available_balance"], 25);
}

#[tokio::test]
async fn a_share_mode_card_draws_on_the_issuing_balance_and_a_pending_card_is_declined() {
    let env = Env::start(|s| s.lifecycle_delay_ms = 60_000_000).await;
    let token = env.token().await;
    let (_, pending) = env.create_raw(&token, &key(), &seed_body()).await;
    let pending = pending["card_id"].as_str().unwrap();

    let (_, declined) = env
        .post(&token, &key(), AUTHORIZE, &purchase(pending, 1.0))
        .await;
    let (missing_status, missing) = env
        .post(&token, &key(), AUTHORIZE, &json!({"card_id": pending}))
        .await;

    assert_eq!(declined["transaction_status"], "DECLINED");
    assert_eq!(declined["failure_reason"], "CARD_NOT_ACTIVE");
    assert_eq!(missing_status, StatusCode::BAD_REQUEST);
    assert_eq!(missing["code"], "missing_required_fields");
}

#[tokio::test]
async fn an_active_share_mode_card_spends_from_the_issuing_balance() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let (_, created) = env.create_raw(&token, &key(), &seed_body()).await;
    env.receiver.wait_for("/webhooks/uqpay", 1).await;
    let card = created["card_id"].as_str().unwrap();

    let (_, approved) = env
        .post(&token, &key(), AUTHORIZE, &purchase(card, 12.5))
        .await;
    let (_, moves) = env.get(&token, "/v1/issuing/balances/transactions").await;

    assert_eq!(approved["transaction_status"], "APPROVED", "{approved}");
    assert_eq!(
        moves["data"][0]["transaction_type"],
        "ISSUING_AUTHORIZATION"
    );
    assert_eq!(moves["data"][0]["amount"], "-12.50");
}
