//! Clients decode a body by its media type (QI's public clients unwrap `encoded_body` only from
//! an `application/json` answer), so every JSON answer of every simulated provider, success or
//! error, must say `application/json`.

use crate::support::alchemypay::{CREATE, KEY, SECRET, alchemy_sign, now_ms};
use crate::support::qitech_sign::{Request, Variant, new_key, request};
use crate::support::uqpay::{API_KEY, BODY, CLIENT_ID, key};
use crate::support::{json_by_content_type, start};
use axum::http::header::CONTENT_TYPE;
use cardbatch_sandbox::SandboxConfig;
use cardbatch_sandbox::qitech::DEV_CLIENT_PRIVATE_KEY_PEM;
use openssl::ec::EcKey;
use serde_json::{Value, json};

const UNKNOWN_CARD: &str = "05fd3654-1f5d-479d-ade5-64239fdf214d";

#[tokio::test]
async fn every_json_answer_of_every_provider_says_application_json() {
    // Arrange: a sandbox with nothing configured, so the development credentials apply.
    let sandbox = start(SandboxConfig::default()).await;
    let base = sandbox.base_url();
    let http = reqwest::Client::new();
    let dev_key = EcKey::private_key_from_pem(DEV_CLIENT_PRIVATE_KEY_PEM.as_bytes()).unwrap();
    let card = json!({
        "account_key": "5294ed8d-08fc-4397-b15f-6d9aa07b0041",
        "program_key": "7d405c31-ec9a-46c1-8ac8-54bab209bf41",
        "type": "virtual", "card_name": "ecommerce", "printed_name": "Aurora Catarina",
        "cvv_rotation_interval_hours": 72
    });
    let qi = |req: Request| req.send(&http, &base);
    let qi_path = "/qitech/prepaid/card";
    let unknown_path = format!("{qi_path}/{UNKNOWN_CARD}");
    let token: Value = http
        .post(format!("{base}/uqpay/api/v1/connect/token"))
        .header("x-client-id", CLIENT_ID)
        .header("x-api-key", API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["auth_token"].as_str().unwrap());
    let uqpay_create = |auth: &str| {
        http.post(format!("{base}/uqpay/api/v1/issuing/cards"))
            .header("x-auth-token", auth)
            .header("x-idempotency-key", key())
            .header("content-type", "application/json")
            .body(BODY)
            .send()
    };
    let alchemy_create = |secret: &str| {
        let body = json!({"deposit": "1000", "vid": "USD", "orderNo": key(), "callbackUrl": "http://127.0.0.1:9/cb"}).to_string();
        let ts = now_ms().to_string();
        http.post(format!("{base}{CREATE}"))
            .header("content-type", "application/json")
            .header("ach-access-key", KEY)
            .header("ach-access-timestamp", &ts)
            .header(
                "ach-access-sign",
                alchemy_sign(secret, &ts, "POST", CREATE, &body),
            )
            .body(body)
            .send()
    };

    // Act
    let answers = [
        (
            "QI v1 created",
            qi(request(Variant::V1, &dev_key, "POST", qi_path, Some(&card))).await,
        ),
        (
            "QI v1 not found",
            qi(request(Variant::V1, &dev_key, "GET", &unknown_path, None)).await,
        ),
        (
            "QI v1 unauthenticated",
            qi(request(
                Variant::V1,
                &new_key(),
                "POST",
                qi_path,
                Some(&card),
            ))
            .await,
        ),
        (
            "QI v2 created",
            qi(request(Variant::V2, &dev_key, "POST", qi_path, Some(&card))).await,
        ),
        (
            "QI v2 not found",
            qi(request(Variant::V2, &dev_key, "GET", &unknown_path, None)).await,
        ),
        (
            "UQPAY invalid client id",
            http.post(format!("{base}/uqpay/api/v1/connect/token"))
                .header("x-client-id", "someone-else")
                .send()
                .await,
        ),
        ("UQPAY created", uqpay_create(&bearer).await),
        ("UQPAY unauthorized", uqpay_create("Bearer nope").await),
        (
            "UQPAY not found",
            http.get(format!("{base}/uqpay/api/v1/issuing/cards/{UNKNOWN_CARD}"))
                .header("x-auth-token", &bearer)
                .send()
                .await,
        ),
        ("Alchemy Pay created", alchemy_create(SECRET).await),
        ("Alchemy Pay bad signature", alchemy_create("wrong").await),
        (
            "admin faults",
            http.get(format!("{base}/_sandbox/faults")).send().await,
        ),
        (
            "admin ledger",
            http.get(format!("{base}/_sandbox/ledger")).send().await,
        ),
        (
            "admin stats",
            http.get(format!("{base}/_sandbox/stats")).send().await,
        ),
    ];

    // Assert
    for (name, answer) in answers {
        let answer = answer.unwrap();
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = answer.bytes().await.unwrap();
        assert!(
            json_by_content_type(&headers, &body).is_some(),
            "{name} ({status}) was served as {:?}",
            headers.get_all(CONTENT_TYPE).iter().collect::<Vec<_>>()
        );
    }
}
