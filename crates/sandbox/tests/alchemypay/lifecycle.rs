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

/// The Luhn check, written here independently of the sandbox's.
fn luhn_valid(number: &str) -> bool {
    let sum: u32 = number
        .chars()
        .rev()
        .map(|c| c.to_digit(10).expect("digits only"))
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                (d * 2) / 10 + (d * 2) % 10
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[tokio::test]
async fn the_create_card_callback_carries_a_luhn_valid_test_number_its_cvc_and_expiry() {
    // Arrange
    let env = Env::start(|_, _| {}).await;
    env.post(CREATE, &env.create_body("order-data")).await;

    // Act
    let callbacks = env.merchant.wait_for("/callback", 1).await;

    // Assert: what the v1 docs show (spec §5.1), unmasked.
    let data = &callbacks[0].json()["data"];
    let number = data["number"].as_str().expect("a number");
    assert_eq!(number.len(), 16, "{number}");
    assert!(luhn_valid(number), "{number}");
    assert!(number.starts_with("400000999"), "the docs' test range");
    assert_eq!(data["last4"], &number[12..]);
    let cvc = data["cvc"].as_str().expect("a cvc");
    assert!(
        cvc.len() == 3 && cvc.chars().all(|c| c.is_ascii_digit()),
        "{cvc}"
    );
    let this_year = i64::from(chrono::Datelike::year(&chrono::Utc::now()));
    assert!(data["expYear"].as_i64().unwrap() > this_year);
    assert!((1..=12).contains(&data["expMonth"].as_i64().unwrap()));
}

#[tokio::test]
async fn card_info_carries_the_card_data_once_the_issuer_has_made_the_card() {
    // Arrange: one card that became active, one still opening (real-time lifecycle).
    let active = Env::start(|_, _| {}).await;
    active.post(CREATE, &active.create_body("order-on")).await;
    let callback = active.merchant.wait_for("/callback", 1).await[0].json();
    let opening = Env::start(|_, c| c.time_scale = 1.0).await;
    opening
        .post(CREATE, &opening.create_body("order-init"))
        .await;
    let opening_id = opening.sandbox.ledger().entries()[0].card_id.clone();

    // Act
    let issued = active
        .post(INFO, &json!({"cardId": callback["data"]["cardId"]}))
        .await;
    let not_yet = opening.post(INFO, &json!({"cardId": opening_id})).await;

    // Assert
    let card = &issued["model"]["card"];
    for field in ["number", "cvc", "last4", "expYear", "expMonth"] {
        assert_eq!(card[field], callback["data"][field], "{field}");
        assert!(!card[field].is_null(), "{field}");
        assert!(
            not_yet["model"]["card"][field].is_null(),
            "{field} before issuance"
        );
    }
}
