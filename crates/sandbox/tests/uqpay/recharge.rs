//! Money between the issuing balance and a SINGLE-mode card (recharge, withdraw), and card
//! updates: each answered `PROCESSING`, its order readable, finished in the background.

use crate::support::uqpay::{Env, HOLDER, PRODUCT_SINGLE, key, seed_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A SINGLE-mode card funded with 25.00, made active (its create webhook received).
async fn single_card(env: &Env, token: &str) -> String {
    let body = json!({"cardholder_id": HOLDER, "card_product_id": PRODUCT_SINGLE, "card_currency": "USD", "card_limit": 25});
    let (_, created) = env.create_raw(token, &key(), &body).await;
    env.receiver.wait_for("/webhooks/uqpay", 1).await;
    created["card_id"].as_str().unwrap().to_string()
}

async fn order(env: &Env, token: &str, id: &Value) -> Value {
    let path = format!("/v1/issuing/cards/{}/order", id.as_str().unwrap());
    let (status, order) = env.get(token, &path).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    order
}

#[tokio::test]
async fn a_recharge_moves_money_from_the_issuing_balance_to_the_card_and_says_so() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let card = single_card(&env, &token).await;
    let recharge_key = key();
    let path = format!("/v1/issuing/cards/{card}/recharge");

    let (status, recharged) = env
        .post(&token, &recharge_key, &path, &json!({"amount": 10.5}))
        .await;
    let (_, replay) = env
        .post(&token, &recharge_key, &path, &json!({"amount": 10.5}))
        .await;
    let hooks = env.receiver.wait_for("/webhooks/uqpay", 2).await;
    let (_, read) = env.get(&token, &format!("/v1/issuing/cards/{card}")).await;
    let (_, balance) = env.get(&token, "/v1/issuing/balances").await;
    let (_, moves) = env.get(&token, "/v1/issuing/balances/transactions").await;

    assert_eq!(status, StatusCode::OK, "{recharged}");
    assert_eq!(recharged["order_type"], "CARD_RECHARGE");
    assert_eq!(recharged["order_status"], "PROCESSING");
    assert_eq!(recharged["amount"], "10.5");
    assert_eq!(recharged["card_currency"], "USD");
    assert_eq!(replay["card_order_id"], recharged["card_order_id"]);
    let event = hooks[1].json();
    assert_eq!(event["event_type"], "card.recharge.succeeded");
    assert_eq!(event["source_id"], recharged["card_order_id"]);
    assert_eq!(event["data"]["amount"], "10.5");
    assert_eq!(event["data"]["card_available_balance"], "35.5");
    assert_eq!(event["data"]["order_status"], "SUCCESS");
    assert_eq!(read["available_balance"], 35.5);
    let done = order(&env, &token, &recharged["card_order_id"]).await;
    assert_eq!(done["order_status"], "SUCCESS");
    assert_eq!(done["order_type"], "CARD_RECHARGE");
    // Funding 25.00 and one recharge of 10.50: the replay moved nothing.
    assert_eq!(balance["data"][0]["available_balance"], "99964.50");
    assert_eq!(moves["total_items"], 2);
    assert_eq!(moves["data"][0]["amount"], "-10.50");
}

#[tokio::test]
async fn a_withdrawal_cannot_overdraw_the_card_and_credits_the_issuing_balance() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let card = single_card(&env, &token).await;
    let path = format!("/v1/issuing/cards/{card}/withdraw");

    let (too_much_status, too_much) = env
        .post(&token, &key(), &path, &json!({"amount": "25.01"}))
        .await;
    let (status, withdrawn) = env
        .post(&token, &key(), &path, &json!({"amount": "20.00"}))
        .await;
    let (second_status, second) = env
        .post(&token, &key(), &path, &json!({"amount": 10}))
        .await;
    let (_, read) = env.get(&token, &format!("/v1/issuing/cards/{card}")).await;
    let done = loop {
        let order = order(&env, &token, &withdrawn["card_order_id"]).await;
        if order["order_status"] == "SUCCESS" {
            break order;
        }
        tokio::task::yield_now().await;
    };
    let (_, moves) = env.get(&token, "/v1/issuing/balances/transactions").await;

    assert_eq!(too_much_status, StatusCode::BAD_REQUEST);
    assert_eq!(too_much["code"], "insufficient_card_balance");
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    assert_eq!(withdrawn["order_type"], "CARD_WITHDRAW");
    // 5.00 was left once the first withdrawal was taken, though it had not completed.
    assert_eq!(second_status, StatusCode::BAD_REQUEST);
    assert_eq!(second["code"], "insufficient_card_balance");
    assert_eq!(read["available_balance"], 5);
    assert_eq!(done["amount"], "20");
    assert_eq!(moves["data"][0]["transaction_type"], "CARD_WITHDRAW");
    assert_eq!(moves["data"][0]["amount"], "20.00");
    assert_eq!(moves["data"][0]["ending_balance"], "99995.00");
}

#[tokio::test]
async fn money_moves_only_on_an_active_single_mode_card_and_by_a_valid_amount() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let single = single_card(&env, &token).await;
    let (_, shared) = env.create_raw(&token, &key(), &seed_body()).await;
    env.receiver.wait_for("/webhooks/uqpay", 2).await;
    let shared = shared["card_id"].as_str().unwrap();
    let recharge = |card: &str| format!("/v1/issuing/cards/{card}/recharge");

    let (_, share_mode) = env
        .post(&token, &key(), &recharge(shared), &json!({"amount": 1}))
        .await;
    let (_, no_amount) = env
        .post(
            &token,
            &key(),
            &recharge(&single),
            &json!({"currency": "USD"}),
        )
        .await;
    let (_, fractions) = env
        .post(
            &token,
            &key(),
            &recharge(&single),
            &json!({"amount": 1.005}),
        )
        .await;
    let (_, too_much) = env
        .post(&token, &key(), &recharge(&single), &json!({"amount": 1e6}))
        .await;
    let (unknown_status, _) = env
        .post(
            &token,
            &key(),
            &recharge("00000000-0000-4000-8000-000000000000"),
            &json!({"amount": 1}),
        )
        .await;

    assert_eq!(share_mode["code"], "card_mode_not_supported");
    assert_eq!(no_amount["code"], "missing_required_fields");
    assert_eq!(fractions["code"], "invalid_amount");
    assert_eq!(too_much["code"], "insufficient_balance");
    assert_eq!(unknown_status, StatusCode::NOT_FOUND);
    let (_, balance) = env.get(&token, "/v1/issuing/balances").await;
    assert_eq!(balance["data"][0]["available_balance"], "99975.00");
}

#[tokio::test]
async fn an_update_changes_the_card_after_its_order_completes_with_a_webhook() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let (_, created) = env.create_raw(&token, &key(), &seed_body()).await;
    env.receiver.wait_for("/webhooks/uqpay", 1).await;
    let card = created["card_id"].as_str().unwrap();
    let path = format!("/v1/issuing/cards/{card}");
    let change =
        json!({"metadata": {"team": "finance"}, "card_limit": 75, "no_pin_payment_amount": 20});

    let (status, updated) = env.post(&token, &key(), &path, &change).await;
    let hooks = env.receiver.wait_for("/webhooks/uqpay", 2).await;
    let (_, read) = env.get(&token, &path).await;
    let (empty_status, empty) = env.post(&token, &key(), &path, &json!({})).await;
    let (_, big) = env
        .post(
            &token,
            &key(),
            &path,
            &json!({"metadata": {"x": "y".repeat(4_000)}}),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["card_id"], card);
    assert_eq!(updated["order_status"], "PROCESSING");
    assert_eq!(updated["card_status"], "ACTIVE");
    let event = hooks[1].json();
    assert_eq!(event["event_type"], "card.update.succeeded");
    assert_eq!(event["source_id"], updated["card_order_id"]);
    assert_eq!(event["data"]["metadata"]["team"], "finance");
    assert_eq!(read["metadata"], json!({"team": "finance"}));
    assert_eq!(read["card_limit"], 75);
    assert_eq!(read["no_pin_payment_amount"], 20);
    let done = order(&env, &token, &updated["card_order_id"]).await;
    assert_eq!(done["order_type"], "CARD_UPDATE");
    assert_eq!(done["order_status"], "SUCCESS");
    assert_eq!(empty_status, StatusCode::BAD_REQUEST);
    assert_eq!(empty["code"], "invalid_request");
    assert_eq!(big["code"], "metadata_too_large");
}

#[tokio::test]
async fn a_single_mode_cards_limit_is_not_updated_but_changed_by_recharge() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let card = single_card(&env, &token).await;

    let (status, refused) = env
        .post(
            &token,
            &key(),
            &format!("/v1/issuing/cards/{card}"),
            &json!({"card_limit": 100}),
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["code"], "card_limit_not_updatable");
}
