//! Alchemy Pay's asynchronous card: INIT to ACTIVE (or a refunded failure) with callbacks to
//! the request's `callbackUrl`, retried until acknowledged, and card info along the way.

use crate::support::alchemypay::{CREATE, Env, INFO};
use serde_json::json;

#[tokio::test]
async fn the_card_goes_through_its_lifecycle_to_active_with_an_unsigned_callback() {
    let env = Env::start(|_, _| {}).await;
    env.post(CREATE, &env.create_body("order-1")).await;

    let callbacks = env.merchant.wait_for("/callback", 1).await;

    let event = callbacks[0].json();
    assert_eq!(event["eventType"], "CREATE_CARD");
    assert!(event["eventId"].as_str().unwrap().starts_with("ev_"));
    assert!(
        event["webhookSubscribeId"]
            .as_str()
            .unwrap()
            .starts_with("wsb_")
    );
    assert_eq!(event["data"]["orderNo"], "order-1");
    assert_eq!(event["data"]["status"], "ACTIVE");
    assert_eq!(event["data"]["deposit"], 1000);
    assert_eq!(event["data"]["holderName"], "Milton Schmitt");
    assert!(
        callbacks[0].header("ach-access-sign").is_none(),
        "v1 callbacks are unsigned"
    );
    let card_id = event["data"]["cardId"].as_str().unwrap();
    let info = env.post(INFO, &json!({"cardId": card_id})).await;
    assert_eq!(info["code"], "0");
    assert_eq!(info["model"]["card"]["status"], "ACTIVE");
    assert_eq!(info["model"]["card"]["cardId"], card_id);
    assert_eq!(info["model"]["cardHolder"]["firstName"], "Milton");
    assert_eq!(
        env.sandbox
            .ledger()
            .get("alchemypay_vcc", card_id)
            .unwrap()
            .status,
        "ACTIVE"
    );
}

#[tokio::test]
async fn a_card_is_in_init_right_after_its_creation() {
    let env = Env::start(|_, c| c.time_scale = 1.0).await;
    env.post(CREATE, &env.create_body("order-init")).await;

    let card_id = env.sandbox.ledger().entries()[0].card_id.clone();
    let info = env.post(INFO, &json!({"cardId": card_id})).await;

    assert_eq!(info["model"]["card"]["status"], "INIT");
}

#[tokio::test]
async fn a_failed_creation_is_refunded_and_reported_with_create_card_fail() {
    let env = Env::start(|s, _| s.failure_rate = 1.0).await;
    env.post(CREATE, &env.create_body("order-fail")).await;

    let callbacks = env.merchant.wait_for("/callback", 1).await;

    let event = callbacks[0].json();
    assert_eq!(event["eventType"], "CREATE_CARD_FAIL");
    assert_eq!(event["data"]["orderNo"], "order-fail");
    let card_id = event["data"]["cardId"].as_str().unwrap();
    let info = env.post(INFO, &json!({"cardId": card_id})).await;
    assert_eq!(info["model"]["card"]["status"], "CREATE_CARD_FAILED_REFUND");
    assert_eq!(info["model"]["card"]["balance"], 0);
}

#[tokio::test]
async fn a_callback_answered_500_is_retried_until_acknowledged() {
    let env = Env::start(|_, _| {}).await;
    env.merchant.fail_next(2);
    env.post(CREATE, &env.create_body("order-retry")).await;

    let callbacks = env.merchant.wait_for("/callback", 3).await;

    assert_eq!(
        callbacks.iter().map(|c| c.answered).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    assert!(callbacks.iter().all(|c| c.body == callbacks[0].body));
}
