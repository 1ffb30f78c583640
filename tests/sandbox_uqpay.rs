//! The UQPAY simulator driven over real HTTP with hand-built requests: token rules, the seed's
//! create example, validation errors, idempotency, lifecycle and signed webhooks, lookups and
//! the rate limit.

mod sandbox_support;

use cardbatch::domain::ProviderKind;
use cardbatch::sandbox::{ProviderSettings, RunningSandbox, SandboxConfig};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use sandbox_support::{Receiver, start};
use serde_json::{Value, json};
use sha2::Sha512;
use std::time::Duration;

const CLIENT_ID: &str = "uqpay-sandbox-client";
const API_KEY: &str = "uqpay-sandbox-api-key";
const SECRET: &str = "test-webhook-secret";
const PRODUCT: &str = "467e993f-317a-49fc-9ea0-bf49de7d1f76";
const PRODUCT_527735: &str = "0c5b7f2e-8a41-4d3b-9e6c-2f1a8b7c6d5e";
const PRODUCT_DISABLED: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";
const PRODUCT_PHYSICAL: &str = "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6";
const PRODUCT_SINGLE: &str = "2f3e4d5c-6b7a-4898-8a1b-d2e3f4a5b6c7";
const PRODUCT_NO_POOL: &str = "3a4b5c6d-7e8f-4a9b-8c0d-e1f2a3b4c5d6";
const HOLDER: &str = "25ea804d-7fd5-43d5-8792-0fc0214cdb2f";
const HOLDER_2: &str = "3b1f6a2c-9d4e-4c8b-a7f5-0e2d1c3b4a59";
const HOLDER_PENDING: &str = "6e4c9d5f-2a7b-4fbe-9ac8-3b5a4f6e7d8c";

struct Env {
    sandbox: RunningSandbox,
    receiver: Receiver,
    http: reqwest::Client,
}

impl Env {
    async fn start(tweak: impl FnOnce(&mut ProviderSettings)) -> Env {
        let receiver = Receiver::start().await;
        let mut settings = ProviderSettings {
            webhook_url: Some(receiver.url("/webhooks/uqpay")),
            webhook_secret: Some(SECRET.into()),
            lifecycle_delay_ms: 1_000,
            ..ProviderSettings::default()
        };
        tweak(&mut settings);
        let config = SandboxConfig {
            seed: 7,
            time_scale: 0.001,
            ..SandboxConfig::default()
        }
        .with_provider(ProviderKind::Uqpay, settings);
        Env {
            sandbox: start(config).await,
            receiver,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/uqpay/api{path}", self.sandbox.base_url())
    }

    async fn token_response(&self, client_id: &str, api_key: &str) -> reqwest::Response {
        self.http
            .post(self.url("/v1/connect/token"))
            .header("x-client-id", client_id)
            .header("x-api-key", api_key)
            .send()
            .await
            .unwrap()
    }

    async fn token(&self) -> String {
        let r = self.token_response(CLIENT_ID, API_KEY).await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        body["auth_token"].as_str().unwrap().to_string()
    }

    async fn create_raw(&self, token: &str, key: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url("/v1/issuing/cards"))
            .header("x-auth-token", format!("Bearer {token}"))
            .header("x-idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap())
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(self.url(path))
            .header("x-auth-token", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap())
    }
}

fn seed_body() -> Value {
    json!({"cardholder_id": HOLDER, "card_product_id": PRODUCT, "card_currency": "USD", "card_limit": 1000})
}

fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn hmac512_hex(secret: &str, body: &[u8], ts: &str) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.update(ts.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn a_token_is_issued_for_valid_credentials_and_lives_thirty_minutes() {
    let env = Env::start(|_| {}).await;

    let r = env.token_response(CLIENT_ID, API_KEY).await;

    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["auth_token"].as_str().unwrap().split('.').count() == 3,
        "a JWT"
    );
    let lifetime = body["expired_at"].as_i64().unwrap() - chrono::Utc::now().timestamp();
    assert!((1790..=1800).contains(&lifetime), "{lifetime}");
}

#[tokio::test]
async fn an_unknown_client_id_or_a_wrong_api_key_gets_no_token() {
    let env = Env::start(|_| {}).await;

    let unknown = env.token_response("someone-else", API_KEY).await;
    let wrong_key = env.token_response(CLIENT_ID, "not-the-key").await;

    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.json::<Value>().await.unwrap(),
        json!({"code": 400, "message": "Invalid client id"})
    );
    assert_eq!(wrong_key.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong_key.json::<Value>().await.unwrap()["error"].is_string());
}

#[tokio::test]
async fn a_new_token_invalidates_the_previous_one() {
    let env = Env::start(|_| {}).await;
    let first = env.token().await;
    let second = env.token().await;

    let (old_status, old_body) = env.create_raw(&first, &key(), &seed_body()).await;
    let (new_status, _) = env.create_raw(&second, &key(), &seed_body()).await;

    assert_eq!(old_status, StatusCode::UNAUTHORIZED);
    assert_eq!(old_body, json!({"error": "token has expired"}));
    assert_eq!(new_status, StatusCode::OK);
}

#[tokio::test]
async fn a_token_older_than_thirty_minutes_is_refused() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;

    env.sandbox
        .core()
        .clock
        .advance(Duration::from_secs(30 * 60));
    let (status, body) = env.create_raw(&token, &key(), &seed_body()).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"error": "token has expired"}));
}

#[tokio::test]
async fn a_token_without_the_bearer_prefix_or_no_token_is_unauthorized() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;

    let bare = env
        .http
        .post(env.url("/v1/issuing/cards"))
        .header("x-auth-token", &token)
        .header("x-idempotency-key", key())
        .json(&seed_body())
        .send()
        .await
        .unwrap();
    let none = env
        .http
        .post(env.url("/v1/issuing/cards"))
        .header("x-idempotency-key", key())
        .json(&seed_body())
        .send()
        .await
        .unwrap();

    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        bare.json::<Value>().await.unwrap(),
        json!({"error": "invalid auth token format"})
    );
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(env.sandbox.ledger().len(), 0);
}

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
    sandbox_support::eventually("delivered count", || {
        env.sandbox.stats().get("uqpay", "webhooks_delivered") == 1
    })
    .await;
    assert_eq!(env.sandbox.stats().get("uqpay", "webhooks_retried"), 2);
}

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
    sandbox_support::eventually("the key to be in flight", || {
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
    assert_eq!(other["data"][0]["metadata"], json!({"job": HOLDER_2}));
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

fn single_mode(limit: u64) -> Value {
    json!({"cardholder_id": HOLDER, "card_product_id": PRODUCT_SINGLE, "card_currency": "USD", "card_limit": limit})
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
