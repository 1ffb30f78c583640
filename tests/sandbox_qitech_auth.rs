//! QI Tech sandbox authentication over real HTTP: tokens made here with `openssl` (an ES512
//! implementation independent of the sandbox's) are accepted in both variants, tampered ones
//! get GDF000014, and the API-key errors are GDF000003/GDF000018.

mod qitech_support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use qitech_support::*;
use serde_json::{Value, json};

fn seed_virtual() -> Value {
    json!({
        "account_key": "5294ed8d-08fc-4397-b15f-6d9aa07b0041",
        "program_key": "7d405c31-ec9a-46c1-8ac8-54bab209bf41",
        "type": "virtual",
        "card_name": "ecommerce",
        "printed_name": "Aurora Catarina",
        "cvv_rotation_interval_hours": 72
    })
}

/// Replaces one header's value.
fn set_header(req: &mut Request, name: &str, value: String) {
    let slot = req
        .headers
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .unwrap();
    slot.1 = value;
}

/// Flips one base64url character of a token's signature segment.
fn tamper_signature(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    raw[10] ^= 0x01;
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw))
}

#[tokio::test]
async fn an_openssl_signed_v2_request_is_accepted_and_the_answer_is_signed_by_the_sandbox() {
    // Arrange
    let qi = start(Setup::default()).await;

    // Act: `call` verifies the answer's AUTHORIZATION with the sandbox public key (openssl).
    let reply = qi
        .call(Variant::V2, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;

    // Assert
    assert_eq!(reply.status, 201, "{}", reply.json);
    assert_eq!(reply.json["status"], "created");
}

#[tokio::test]
async fn an_openssl_signed_v1_request_is_accepted_and_answered_in_a_signed_encoded_body() {
    let qi = start(Setup::default()).await;

    let reply = qi
        .call(Variant::V1, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;

    assert_eq!(reply.status, 201, "{}", reply.json);
    assert!(
        reply.json["card_key"]
            .as_str()
            .is_some_and(|k| k.len() == 36)
    );
}

#[tokio::test]
async fn a_v2_token_with_a_tampered_signature_gets_gdf000014() {
    let qi = start(Setup::default()).await;
    let mut req = v2_request(
        &qi.client_key,
        API_KEY,
        "POST",
        "/qitech/prepaid/card",
        Some(&seed_virtual()),
    );
    let token = req.headers[0].1.clone();
    set_header(&mut req, "authorization", tamper_signature(&token));

    let reply = qi.send(req).await.unwrap();

    assert_eq!(reply.status, 401);
    assert_eq!(reply.json["code"], "GDF000014");
    assert_eq!(reply.json["title"], "QI Unauthenticated");
    assert_eq!(qi.sandbox.ledger().len(), 0);
}

#[tokio::test]
async fn a_v2_body_changed_after_signing_gets_gdf000014() {
    let qi = start(Setup::default()).await;
    let mut req = v2_request(
        &qi.client_key,
        API_KEY,
        "POST",
        "/qitech/prepaid/card",
        Some(&seed_virtual()),
    );
    req.body = python_json(&json!({"card_name": "other"})).into_bytes();

    let reply = qi.send(req).await.unwrap();

    assert_eq!(reply.json["code"], "GDF000014");
}

#[tokio::test]
async fn a_v1_request_with_a_tampered_encoded_body_gets_gdf000014_inside_an_encoded_body() {
    let qi = start(Setup::default()).await;
    let mut req = v1_request(
        &qi.client_key,
        API_KEY,
        "POST",
        "/qitech/prepaid/card",
        Some(&seed_virtual()),
    );
    let wrapper: Value = serde_json::from_slice(&req.body).unwrap();
    let forged = tamper_signature(wrapper["encoded_body"].as_str().unwrap());
    req.body = json!({"encoded_body": forged}).to_string().into_bytes();

    // `send` checks the error arrives as a sandbox-signed encoded_body.
    let reply = qi.send(req).await.unwrap();

    assert_eq!(reply.status, 401);
    assert_eq!(reply.json["code"], "GDF000014");
}

#[tokio::test]
async fn a_token_signed_by_another_key_gets_gdf000014() {
    let qi = start(Setup::default()).await;
    let stranger = new_key();
    let req = v2_request(
        &stranger,
        API_KEY,
        "POST",
        "/qitech/prepaid/card",
        Some(&seed_virtual()),
    );

    let reply = qi.send(req).await.unwrap();

    assert_eq!(reply.json["code"], "GDF000014");
}

#[tokio::test]
async fn a_v2_token_signed_for_another_path_gets_gdf000014() {
    let qi = start(Setup::default()).await;
    let mut req = v2_request(
        &qi.client_key,
        API_KEY,
        "POST",
        "/prepaid/card",
        Some(&seed_virtual()),
    );
    // Signed without the /qitech prefix the sandbox is mounted under.
    req.path = "/qitech/prepaid/card".into();

    let reply = qi.send(req).await.unwrap();

    assert_eq!(reply.json["code"], "GDF000014");
}

#[tokio::test]
async fn a_stale_v2_timestamp_gets_gdf000014() {
    let qi = start(Setup::default()).await;
    let body = python_json(&seed_virtual());
    let old = (chrono::Utc::now() - chrono::TimeDelta::minutes(6))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let claims = json!({"payload_md5": md5_hex(body.as_bytes()), "timestamp": old, "method": "POST", "uri": "/qitech/prepaid/card"});
    let req = Request {
        method: "POST".into(),
        path: "/qitech/prepaid/card".into(),
        headers: vec![
            ("AUTHORIZATION".into(), es512(&qi.client_key, &claims)),
            ("API-CLIENT-KEY".into(), API_KEY.into()),
        ],
        body: body.into_bytes(),
    };

    let reply = qi.send(req).await.unwrap();

    assert_eq!(reply.json["code"], "GDF000014");
}

#[tokio::test]
async fn a_request_without_an_api_client_key_gets_gdf000003() {
    let qi = start(Setup::default()).await;
    let mut req = v2_request(
        &qi.client_key,
        API_KEY,
        "POST",
        "/qitech/prepaid/card",
        Some(&seed_virtual()),
    );
    req.headers.retain(|(k, _)| k != "API-CLIENT-KEY");

    let reply = qi.send(req).await.unwrap();

    assert_eq!(reply.status, 400);
    assert_eq!(reply.json["code"], "GDF000003");
    assert_eq!(reply.json["description"], "No API Client Key received");
}

#[tokio::test]
async fn an_unknown_api_client_key_gets_gdf000018() {
    let qi = start(Setup::default()).await;
    let req = v2_request(
        &qi.client_key,
        "00000000-1111-4222-8333-444444444444",
        "POST",
        "/qitech/prepaid/card",
        Some(&seed_virtual()),
    );

    let reply = qi.send(req).await.unwrap();

    assert_eq!(reply.status, 404);
    assert_eq!(reply.json["code"], "GDF000018");
    assert_eq!(
        reply.json["description"],
        "No ClientIntegration found for api_client_key: 00000000-1111-4222-8333-444444444444."
    );
}

#[tokio::test]
async fn the_error_envelope_has_title_description_translation_code_and_extra_fields() {
    let qi = start(Setup::default()).await;

    let reply = qi
        .call(
            Variant::V2,
            "GET",
            "/prepaid/card/05fd3654-1f5d-479d-ade5-64239fdf214d",
            None,
        )
        .await;

    let mut keys: Vec<&str> = reply
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "code",
            "description",
            "extra_fields",
            "title",
            "translation"
        ]
    );
    assert_eq!(reply.json["code"], "CARD000011");
}

#[tokio::test]
async fn over_the_rate_limit_the_answer_is_429_qit000429_with_retry_after() {
    let qi = start(Setup {
        rate_limit_per_sec: Some(0.5),
        ..Setup::default()
    })
    .await;

    let first = qi
        .call(Variant::V2, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;
    let second = qi
        .call(Variant::V2, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;

    assert_eq!(first.status, 201);
    assert_eq!(second.status, 429);
    assert_eq!(second.json["code"], "QIT000429");
    let retry_after: u64 = second.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_eq!(qi.sandbox.stats().get("qitech_prepaid", "rate_limited"), 1);
}

#[tokio::test]
async fn the_dev_key_pair_works_when_no_client_key_is_configured() {
    // Arrange: a sandbox with no QI options at all.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox = cardbatch::sandbox::Sandbox::start(Default::default(), listener).unwrap();
    let dev = openssl::ec::EcKey::private_key_from_pem(
        cardbatch::sandbox::qitech::DEV_CLIENT_PRIVATE_KEY_PEM.as_bytes(),
    )
    .unwrap();
    let req = v2_request(
        &dev,
        API_KEY,
        "POST",
        "/qitech/prepaid/card",
        Some(&seed_virtual()),
    );

    // Act
    let response = reqwest::Client::new()
        .post(format!("{}/qitech/prepaid/card", sandbox.base_url()))
        .headers(
            req.headers
                .iter()
                .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
                .collect(),
        )
        .body(req.body)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn the_self_test_endpoint_echoes_a_signed_request_in_both_variants() {
    let qi = start(Setup::default()).await;
    let path = format!("/test/{API_KEY}");

    let get = qi.call(Variant::V1, "GET", &path, None).await;
    let post = qi
        .call(
            Variant::V2,
            "POST",
            &path,
            Some(&json!({"name": "QI Tech"})),
        )
        .await;
    let other = qi.call(Variant::V2, "GET", "/test/not-my-key", None).await;

    assert_eq!(get.status, 200, "{}", get.json);
    assert_eq!(get.json["api_key"], API_KEY);
    assert_eq!(post.json["request_body"], json!({"name": "QI Tech"}));
    assert_eq!(other.json["code"], "GDF000014");
}
