//! UQPAY's read endpoints (card list, card, products, secure card data) and the per-minute rate
//! limit.

use crate::support::uqpay::{Env, HOLDER, HOLDER_2, PRODUCT, key, seed_body};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn cards_are_listed_by_cardholder_with_pagination() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    for holder in [HOLDER, HOLDER, HOLDER, HOLDER_2] {
        let body = json!({"cardholder_id": holder, "card_product_id": PRODUCT, "card_currency": "USD", "metadata": {"job": holder}});
        assert_eq!(
            env.create_raw(&token, &key(), &body).await.0,
            StatusCode::OK
        );
    }

    let (status, page2) = env
        .get(
            &token,
            &format!("/v1/issuing/cards?cardholder_id={HOLDER}&page_size=2&page_number=2"),
        )
        .await;
    let (_, other) = env
        .get(
            &token,
            &format!("/v1/issuing/cards?cardholder_id={HOLDER_2}"),
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(page2["total_items"], 3);
    assert_eq!(page2["total_pages"], 2);
    assert_eq!(page2["data"].as_array().unwrap().len(), 1);
    assert_eq!(other["total_items"], 1);
    // Listed, the metadata is JSON text (as UQPAY lists it); read alone, an object.
    let listed = other["data"][0]["metadata"].as_str().expect("JSON text");
    assert_eq!(
        serde_json::from_str::<Value>(listed).unwrap(),
        json!({"job": HOLDER_2})
    );
    let card = other["data"][0]["card_id"].as_str().unwrap();
    let (_, read) = env.get(&token, &format!("/v1/issuing/cards/{card}")).await;
    assert_eq!(read["metadata"], json!({"job": HOLDER_2}));
}

#[tokio::test]
async fn an_unknown_card_is_not_found() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;

    let (status, body) = env
        .get(
            &token,
            "/v1/issuing/cards/00000000-0000-4000-8000-000000000000",
        )
        .await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["type"], "not_found");
}

#[tokio::test]
async fn the_products_list_has_the_seed_shape() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;

    let (status, body) = env
        .get(&token, "/v1/issuing/products?page_number=1&page_size=10")
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total_items"], 6);
    assert_eq!(body["data"][0]["product_id"], PRODUCT);
    assert_eq!(body["data"][0]["card_form"], json!(["VIR", "PHY"]));
}

#[tokio::test]
async fn over_the_per_minute_limit_a_client_gets_429_with_the_documented_body() {
    let env = Env::start(|s| s.faults.rate_limit_per_minute = Some(3)).await;
    // Start at the top of a sandbox minute so the window cannot roll over mid-test.
    let clock = &env.sandbox.core().clock;
    clock.advance(Duration::from_millis(
        (60_000 - clock.now_ms().rem_euclid(60_000)) as u64,
    ));
    let token = env.token().await;
    for _ in 0..3 {
        assert_eq!(
            env.create_raw(&token, &key(), &seed_body()).await.0,
            StatusCode::OK
        );
    }

    let r = env
        .http
        .post(env.url("/v1/issuing/cards"))
        .header("x-auth-token", format!("Bearer {token}"))
        .header("x-idempotency-key", key())
        .json(&seed_body())
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=UTF-8"
    );
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": "too_many_requests", "message": "Too many requests have been made to the api. Please refer to the Developer Center for more information"})
    );
    assert_eq!(env.sandbox.stats().get("uqpay", "rate_limited"), 1);
    assert_eq!(env.sandbox.ledger().len(), 3);
}

#[tokio::test]
async fn an_active_cards_secure_data_matches_its_mask_and_a_pending_one_has_none() {
    let env = Env::start(|s| s.lifecycle_delay_ms = 60_000_000).await;
    let token = env.token().await;
    let (_, pending) = env.create_raw(&token, &key(), &seed_body()).await;
    let pending = pending["card_id"].as_str().unwrap();

    let (status, refused) = env
        .get(&token, &format!("/v1/issuing/cards/{pending}/secure"))
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["code"], "invalid_card_status");
}

#[tokio::test]
async fn secure_data_is_a_luhn_valid_number_under_the_cards_mask_and_a_token_lives_a_minute() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let (_, created) = env.create_raw(&token, &key(), &seed_body()).await;
    env.receiver.wait_for("/webhooks/uqpay", 1).await;
    let card = created["card_id"].as_str().unwrap();

    let (status, secure) = env
        .get(&token, &format!("/v1/issuing/cards/{card}/secure"))
        .await;
    let (_, again) = env
        .get(&token, &format!("/v1/issuing/cards/{card}/secure"))
        .await;
    let (_, read) = env.get(&token, &format!("/v1/issuing/cards/{card}")).await;
    let (token_status, pan_token) = env
        .post(
            &token,
            &key(),
            &format!("/v1/issuing/cards/{card}/token"),
            &json!({}),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{secure}");
    let number = secure["card_number"].as_str().unwrap();
    let mask = read["card_number"].as_str().unwrap();
    let (bin, last4) = mask.split_once("****").unwrap();
    assert_eq!(number.len(), 16);
    assert!(number.starts_with(bin) && number.ends_with(last4), "{mask}");
    assert!(luhn_valid(number));
    assert_eq!(secure["cvv"].as_str().unwrap().len(), 3);
    let expiry = secure["expire_date"].as_str().unwrap();
    assert!(
        expiry.len() == 5 && expiry.as_bytes()[2] == b'/',
        "{expiry}"
    );
    assert_eq!(again, secure, "the same card data on every read");
    assert_eq!(token_status, StatusCode::OK, "{pan_token}");
    assert_eq!(pan_token["expires_in"], 60);
    assert!(pan_token["token"].as_str().is_some_and(|t| t.len() >= 16));
}

/// The Luhn check, written here apart from the sandbox's.
fn luhn_valid(number: &str) -> bool {
    let sum: u32 = number
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap();
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}
