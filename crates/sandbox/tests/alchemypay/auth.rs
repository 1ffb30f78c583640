//! Alchemy Pay's `ach-access-*` signature: what it covers (the canonical body, not its
//! spelling), each way a request can fail it, and the rate limit per access key.

use crate::support::alchemypay::{
    CREATE, Env, KEY, SECRET, Signing, alchemy_sign, assert_error, now_ms,
};
use serde_json::Value;

#[tokio::test]
async fn each_badly_signed_or_typed_request_gets_its_documented_code_and_creates_nothing() {
    // Arrange
    let env = Env::start(|_, _| {}).await;
    let body = env.create_body("o").to_string();
    let tampered = body.replace("\"1000\"", "\"2000\"");
    let cases = [
        (
            "a wrong secret",
            &body,
            Signing {
                secret: "wrong-secret",
                ..Signing::of(&body)
            },
            "200006",
        ),
        (
            "a body changed after signing",
            &tampered,
            Signing::of(&body),
            "200006",
        ),
        (
            "a timestamp older than a minute",
            &body,
            Signing {
                timestamp_ms: now_ms() - 61_000,
                ..Signing::of(&body)
            },
            "200005",
        ),
        (
            "an unknown access key",
            &body,
            Signing {
                key: Some("someone-else"),
                ..Signing::of(&body)
            },
            "300002",
        ),
        (
            "no access key header",
            &body,
            Signing {
                key: None,
                ..Signing::of(&body)
            },
            "200001",
        ),
        (
            "a body that is not JSON content",
            &body,
            Signing {
                content_type: "text/plain",
                ..Signing::of(&body)
            },
            "200003",
        ),
    ];

    for (name, sent, signing, code) in cases {
        // Act
        let r = env.send(CREATE, sent, &signing).await;

        // Assert
        assert_eq!(r.status(), reqwest::StatusCode::OK, "{name}");
        let answer: Value = r.json().await.unwrap();
        assert_error(&answer, code);
    }
    assert_eq!(env.sandbox.ledger().len(), 0);
}

#[tokio::test]
async fn the_signature_covers_the_canonical_body_not_its_spelling() {
    let env = Env::start(|_, _| {}).await;
    // Keys out of order, spaces, and fields the canonical form drops (null, "", {}).
    let body = format!(
        r#"{{ "vid" : "USD", "orderNo": "o-canon", "deposit": "1000", "customerId": "",
             "callbackUrl": "{}", "extra": null, "meta": {{}},
             "cardHolder": {{ "lastName": "Schmitt", "firstName": "Milton" }} }}"#,
        env.merchant.url("/callback")
    );

    let answer = env.post_signed(CREATE, &body, SECRET, now_ms()).await;

    assert_eq!(answer["code"], "0", "{answer}");
}

#[tokio::test]
async fn over_the_rate_limit_an_access_key_gets_429_with_retry_after() {
    let env = Env::start(|s, _| {
        s.faults.rate_limit_per_sec = Some(0.01);
        s.faults.rate_limit_burst = Some(1);
    })
    .await;
    env.post(CREATE, &env.create_body("rl-1")).await;
    let body = env.create_body("rl-2").to_string();
    let ts = now_ms().to_string();

    let r = env
        .http
        .post(format!("{}{CREATE}", env.sandbox.base_url()))
        .header("content-type", "application/json")
        .header("ach-access-key", KEY)
        .header("ach-access-timestamp", &ts)
        .header(
            "ach-access-sign",
            alchemy_sign(SECRET, &ts, "POST", CREATE, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_error(&r.json().await.unwrap(), "429");
}

#[tokio::test]
async fn the_signed_path_may_be_relative_to_the_sandbox_mount_as_at_alchemy_pay() {
    let env = Env::start(|_, _| {}).await;
    let relative = env.create_body("rel-1").to_string();
    let elsewhere = env.create_body("rel-2").to_string();

    // A client given the base URL `.../alchemypay` signs the path it asked for.
    let relative: Value = env
        .send_signed_for(
            CREATE,
            "/open/api/card/create",
            &relative,
            &Signing::of(&relative),
        )
        .await
        .json()
        .await
        .unwrap();
    let elsewhere: Value = env
        .send_signed_for(
            CREATE,
            "/open/api/card/info",
            &elsewhere,
            &Signing::of(&elsewhere),
        )
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(relative["code"], "0", "{relative}");
    assert_error(&elsewhere, "200006");
    assert_eq!(env.sandbox.ledger().len(), 1);
}
