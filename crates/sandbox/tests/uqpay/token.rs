//! UQPAY's access token: issued for known credentials, 30 minutes, one active token per client,
//! `Bearer` required, and the JWT claims the official SDKs read.

use crate::support::uqpay::{API_KEY, CLIENT_ID, Env, key, seed_body};
use cardbatch_sandbox::uqpay::{ACCOUNT_ID, SHORT_ACCOUNT_ID, TOKEN_SECRET};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

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
async fn the_token_is_an_hs256_jwt_with_the_account_claims_the_sdks_read() {
    // Arrange
    let env = Env::start(|_| {}).await;

    // Act
    let answer: Value = env
        .token_response(CLIENT_ID, API_KEY)
        .await
        .json()
        .await
        .unwrap();

    // Assert: jsonwebtoken verifies the signature, `exp` and `iss`, then gives the claims.
    let token = answer["auth_token"].as_str().unwrap();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["uqpay"]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    let decoded = jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(TOKEN_SECRET.as_bytes()),
        &validation,
    )
    .expect("an HS256 JWT signed with the sandbox secret");
    let claims = decoded.claims;
    for (name, expected) in [
        ("entity_id", ACCOUNT_ID),
        ("short_entity_id", SHORT_ACCOUNT_ID),
        ("parent_entity_id", ""),
        ("client_id", CLIENT_ID),
        ("api_version", "V1.6.0"),
        ("bus_type", "ISSUING"),
    ] {
        assert_eq!(claims[name], expected, "{name}: {claims}");
    }
    assert_eq!(claims["exp"], answer["expired_at"]);
}
