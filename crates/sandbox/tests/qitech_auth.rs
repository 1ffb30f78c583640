//! QI Tech sandbox authentication over real HTTP: tokens made here with `openssl` (an ES512
//! implementation independent of the sandbox's) are accepted in both variants, forged or stale
//! ones get GDF000014, and the API-key errors are GDF000003/GDF000018.

use crate::support::qitech::{QiHarness, Setup, seed_virtual, start};
use crate::support::qitech_sign::{
    API_KEY, Request, Variant, es512, md5_hex, new_key, python_json, v1_request, v2_request,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const PATH: &str = "/qitech/prepaid/card";

/// Flips one bit of a token's signature segment.
fn tamper_signature(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    raw[10] ^= 0x01;
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw))
}

/// A v2 request for the seed body, signed with the harness's client key.
fn signed_v2(qi: &QiHarness) -> Request {
    v2_request(&qi.client_key, API_KEY, "POST", PATH, Some(&seed_virtual()))
}

#[tokio::test]
async fn an_openssl_signed_request_is_accepted_in_each_variant_and_answered_signed_alike() {
    let qi = start(Setup::default()).await;

    for variant in [Variant::V1, Variant::V2] {
        // `call` checks the answer's signature with the sandbox public key (openssl), in an
        // `encoded_body` for v1.
        let reply = qi
            .call(variant, "POST", "/prepaid/card", Some(&seed_virtual()))
            .await;

        assert_eq!(reply.status, 201, "{variant:?}: {}", reply.json);
        assert_eq!(reply.json["status"], "created");
        assert!(
            reply.json["card_key"]
                .as_str()
                .is_some_and(|k| k.len() == 36)
        );
    }
}

#[tokio::test]
async fn each_forged_or_stale_request_gets_gdf000014_and_creates_nothing() {
    // Arrange
    let qi = start(Setup::default()).await;
    let tampered_header = {
        let mut req = signed_v2(&qi);
        let token = req.header("authorization").unwrap().to_string();
        req.set_header("AUTHORIZATION", tamper_signature(&token));
        req
    };
    let body_changed = {
        let mut req = signed_v2(&qi);
        req.body = python_json(&json!({"card_name": "other"})).into_bytes();
        req
    };
    let tampered_encoded_body = {
        let mut req = v1_request(&qi.client_key, API_KEY, "POST", PATH, Some(&seed_virtual()));
        let wrapper: Value = serde_json::from_slice(&req.body).unwrap();
        let forged = tamper_signature(wrapper["encoded_body"].as_str().unwrap());
        req.body = json!({"encoded_body": forged}).to_string().into_bytes();
        req
    };
    let another_key = v2_request(&new_key(), API_KEY, "POST", PATH, Some(&seed_virtual()));
    let another_path = {
        // Signed for another endpoint (relative to the mount, as a client given the sandbox's
        // base URL signs it).
        let mut req = v2_request(
            &qi.client_key,
            API_KEY,
            "POST",
            "/wallet/3f9a7c2e-1b4d-4e8f-9a6c-5d2e8b7f1a30/payment_instrument",
            Some(&seed_virtual()),
        );
        req.path = PATH.into();
        req
    };
    let stale = {
        let body = python_json(&seed_virtual());
        let old = (chrono::Utc::now() - chrono::TimeDelta::minutes(6))
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string();
        let claims = json!({"payload_md5": md5_hex(body.as_bytes()), "timestamp": old, "method": "POST", "uri": PATH});
        Request {
            method: "POST".into(),
            path: PATH.into(),
            headers: vec![
                ("AUTHORIZATION".into(), es512(&qi.client_key, &claims)),
                ("API-CLIENT-KEY".into(), API_KEY.into()),
            ],
            body: body.into_bytes(),
        }
    };
    let cases = [
        ("a v2 token with a tampered signature", tampered_header),
        ("a v2 body changed after signing", body_changed),
        (
            "a v1 request with a tampered encoded_body",
            tampered_encoded_body,
        ),
        ("a token signed by another key", another_key),
        ("a v2 token signed for another path", another_path),
        ("a v2 timestamp six minutes old", stale),
    ];

    for (name, req) in cases {
        // Act: `send` checks the error arrives signed, as an encoded_body for v1.
        let reply = qi.send(req).await.unwrap();

        // Assert
        assert_eq!(reply.status, 401, "{name}: {}", reply.json);
        assert_eq!(reply.json["code"], "GDF000014", "{name}");
        assert_eq!(reply.json["title"], "QI Unauthenticated", "{name}");
    }
    assert_eq!(qi.sandbox.ledger().len(), 0);
}

#[tokio::test]
async fn a_missing_or_unknown_api_client_key_gets_its_documented_code_and_text() {
    let qi = start(Setup::default()).await;
    let mut missing = signed_v2(&qi);
    missing.headers.retain(|(k, _)| k != "API-CLIENT-KEY");
    let stranger = "00000000-1111-4222-8333-444444444444";
    let unknown = v2_request(
        &qi.client_key,
        stranger,
        "POST",
        PATH,
        Some(&seed_virtual()),
    );
    let cases = [
        (
            missing,
            400,
            "GDF000003",
            "No API Client Key received".to_string(),
        ),
        (
            unknown,
            404,
            "GDF000018",
            format!("No ClientIntegration found for api_client_key: {stranger}."),
        ),
    ];

    for (req, status, code, description) in cases {
        let reply = qi.send(req).await.unwrap();

        assert_eq!(reply.status, status, "{code}");
        assert_eq!(reply.json["code"], code);
        assert_eq!(reply.json["description"], description.as_str());
    }
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
    let sandbox = crate::support::start(Default::default()).await;
    let dev = openssl::ec::EcKey::private_key_from_pem(
        cardbatch_sandbox::qitech::DEV_CLIENT_PRIVATE_KEY_PEM.as_bytes(),
    )
    .unwrap();
    let req = v2_request(&dev, API_KEY, "POST", PATH, Some(&seed_virtual()));

    // Act
    let response = reqwest::Client::new()
        .post(format!("{}{PATH}", sandbox.base_url()))
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
