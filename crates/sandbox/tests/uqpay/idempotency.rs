//! UQPAY's `x-idempotency-key`: a replay returns the original answer for 24 hours, a different
//! body is a conflict, a repeat in flight is "processing", a missing key is refused.

use crate::support::eventually;
use crate::support::uqpay::{Env, key, seed_body};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn a_reused_idempotency_key_replays_the_original_answer_and_creates_one_card() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let k = key();

    let (s1, first) = env.create_raw(&token, &k, &seed_body()).await;
    let (s2, second) = env.create_raw(&token, &k, &seed_body()).await;

    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(first, second);
    assert_eq!(
        env.sandbox
            .ledger()
            .count_for("uqpay", "idempotency_key", &k),
        1
    );
    assert_eq!(env.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn a_reused_key_with_a_different_body_is_an_idempotency_error() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let k = key();
    env.create_raw(&token, &k, &seed_body()).await;

    let mut other = seed_body();
    other["card_limit"] = json!(2000);
    let (status, body) = env.create_raw(&token, &k, &other).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["type"], "idempotency_error");
    assert_eq!(body["code"], "key_conflict");
    assert_eq!(env.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn a_repeat_while_the_original_is_in_flight_gets_request_is_processing() {
    // The latency fault keeps the original in flight long enough for the repeat.
    let env = Env::start(|s| s.faults.latency_ms = 3_000).await;
    let token = env.token().await;
    let k = key();
    let original = {
        let (http, url, token, k) = (
            env.http.clone(),
            env.url("/v1/issuing/cards"),
            token.clone(),
            k.clone(),
        );
        tokio::spawn(async move {
            http.post(url)
                .header("x-auth-token", format!("Bearer {token}"))
                .header("x-idempotency-key", k)
                .json(&seed_body())
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    eventually("the key to be in flight", || {
        env.sandbox.stats().get("uqpay", "idempotency_keys_locked") == 1
    })
    .await;

    let (status, body) = env.create_raw(&token, &k, &seed_body()).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"code": 200, "message": "Request is processing, please try again later"})
    );
    assert_eq!(original.await.unwrap(), StatusCode::OK);
    assert_eq!(env.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn a_replay_is_forgotten_after_twenty_four_hours() {
    let env = Env::start(|_| {}).await;
    let k = key();
    let (_, first) = env.create_raw(&env.token().await, &k, &seed_body()).await;

    env.sandbox
        .core()
        .clock
        .advance(Duration::from_secs(24 * 3600 + 1));
    let (status, second) = env.create_raw(&env.token().await, &k, &seed_body()).await;

    assert_eq!(status, StatusCode::OK);
    assert_ne!(first["card_id"], second["card_id"]);
    assert_eq!(
        env.sandbox
            .ledger()
            .count_for("uqpay", "idempotency_key", &k),
        2
    );
}

#[tokio::test]
async fn a_missing_idempotency_key_is_refused() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;

    let r = env
        .http
        .post(env.url("/v1/issuing/cards"))
        .header("x-auth-token", format!("Bearer {token}"))
        .json(&seed_body())
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["type"],
        "idempotency_error"
    );
}
