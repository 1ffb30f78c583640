//! UQPAY card status updates (spec section 8): freeze, unfreeze and cancel, each answered
//! `PROCESSING` and finished by a signed `card.status.update.succeeded` webhook.

use crate::support::uqpay::{Env, SECRET, hmac512_hex, key, seed_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn set_status(
    env: &Env,
    token: &str,
    key: &str,
    card: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let path = format!("/v1/issuing/cards/{card}/status");
    env.post(token, key, &path, body).await
}

/// A card made active (its create webhook received).
async fn active_card(env: &Env, token: &str) -> String {
    let (_, created) = env.create_raw(token, &key(), &seed_body()).await;
    env.receiver.wait_for("/webhooks/uqpay", 1).await;
    created["card_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_card_is_frozen_then_cancelled_each_with_a_signed_status_webhook() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let card = active_card(&env, &token).await;

    let (status, frozen) = set_status(
        &env,
        &token,
        &key(),
        &card,
        &json!({"card_status": "FROZEN", "update_reason": "lost wallet"}),
    )
    .await;
    let hooks = env.receiver.wait_for("/webhooks/uqpay", 2).await;
    let (_, read) = env.get(&token, &format!("/v1/issuing/cards/{card}")).await;

    assert_eq!(status, StatusCode::OK, "{frozen}");
    assert_eq!(frozen["order_status"], "PROCESSING");
    assert_eq!(frozen["update_reason"], "lost wallet");
    let hook = &hooks[1];
    let ts = hook.header("x-wk-timestamp").unwrap();
    assert_eq!(
        hook.header("x-wk-signature").unwrap(),
        hmac512_hex(SECRET, &hook.body, ts)
    );
    let event = hook.json();
    assert_eq!(event["event_type"], "card.status.update.succeeded");
    assert_eq!(event["source_id"], frozen["card_order_id"]);
    assert_eq!(event["data"]["card_id"], card.as_str());
    assert_eq!(event["data"]["card_status"], "FROZEN");
    assert_eq!(read["card_status"], "FROZEN");

    let (status, _) = set_status(
        &env,
        &token,
        &key(),
        &card,
        &json!({"card_status": "CANCELLED"}),
    )
    .await;
    let hooks = env.receiver.wait_for("/webhooks/uqpay", 3).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hooks[2].json()["data"]["card_status"], "PRE_CANCEL");
    let entry = env.sandbox.ledger().entries().pop().unwrap();
    assert_eq!(entry.status, "PRE_CANCEL");
}

#[tokio::test]
async fn a_move_the_card_cannot_make_is_refused_and_a_repeated_key_replays() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let card = active_card(&env, &token).await;
    let freeze = json!({"card_status": "FROZEN"});
    let first_key = key();

    let (_, first) = set_status(&env, &token, &first_key, &card, &freeze).await;
    let (_, replay) = set_status(&env, &token, &first_key, &card, &freeze).await;
    env.receiver.wait_for("/webhooks/uqpay", 2).await;
    let (again_status, again) = set_status(&env, &token, &key(), &card, &freeze).await;
    let (bad_status, bad) =
        set_status(&env, &token, &key(), &card, &json!({"card_status": "LOST"})).await;
    let (missing_status, _) = set_status(
        &env,
        &token,
        &key(),
        "00000000-0000-4000-8000-000000000000",
        &freeze,
    )
    .await;

    assert_eq!(replay["card_order_id"], first["card_order_id"]);
    assert!(
        first.get("update_reason").is_none(),
        "no reason given: {first}"
    );
    assert_eq!(again_status, StatusCode::BAD_REQUEST);
    assert_eq!(again["code"], "invalid_card_status");
    assert_eq!(bad_status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["type"], "invalid_request_error");
    assert_eq!(missing_status, StatusCode::NOT_FOUND);
    // One status webhook: the replay changed nothing.
    assert_eq!(env.receiver.received_on("/webhooks/uqpay").len(), 2);
}
