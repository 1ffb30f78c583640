//! cardbatch's side of Alchemy Pay's reverse validation: the sandbox asks cardbatch's server
//! whether it sent an order number before it makes a card, and cardbatch says yes, signed, only
//! for an order the store holds in flight.

use crate::support::TestDb;
use crate::support::alchemypay::{
    Env, PROFILE, PROVIDER, assert_code, credentials, now_ms, write_order,
};
use crate::support::serve;
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::providers::Classified;
use cardbatch::providers::alchemypay::{self, AccessKey, CheckKeys};
use cardbatch::sandbox::config::{DEV_ALCHEMYPAY_ACCESS_KEY, DEV_ALCHEMYPAY_SECRET_KEY};
use serde_json::Value;
use std::time::Duration;
use tokio::net::TcpListener;

#[tokio::test]
async fn reverse_validation_refuses_an_order_number_cardbatch_never_sent() {
    // Arrange: an order the store does not hold (forged, or from another system).
    let env = Env::start().await;
    let mut forged = env.one_claimed().await;
    forged.order.idempotency_key = "cbnotoneofours".into();

    // Act
    let report = env.client.create(&forged.order).await;

    // Assert
    assert!(
        matches!(
            report.classified,
            Classified::Transient {
                rate_limited: false,
                ..
            }
        ),
        "{report:?}"
    );
    assert_code(&report.classified, "200008");
    assert_eq!(report.provider_code.as_deref(), Some("200008"));
    assert_eq!(env.sandbox.ledger().len(), 0);
    assert_eq!(
        env.sandbox
            .stats()
            .get(PROVIDER, "reverse_validation_failed"),
        1
    );
}

#[tokio::test]
async fn an_order_that_is_no_longer_in_flight_is_refused_too() {
    // Arrange: the batch is written but nobody claimed it, so it is `queued`.
    let env = Env::start().await;
    write_order(&env.store, "cbqueuedorder").await;
    let http = reqwest::Client::new();
    let check = |order_no: &str| {
        http.get(format!(
            "{}{}?orderNo={order_no}",
            env.server,
            alchemypay::CREATE_CHECK_PATH
        ))
        .send()
    };

    // Act
    let queued = check("cbqueuedorder").await.unwrap();
    let unknown = check("cbunknown").await.unwrap();
    let missing = http
        .get(format!("{}{}", env.server, alchemypay::CREATE_CHECK_PATH))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(queued.status(), 409);
    assert!(queued.headers().get("ach-access-sign").is_none());
    assert_eq!(queued.json::<Value>().await.unwrap()["success"], false);
    assert_eq!(unknown.status(), 404);
    assert_eq!(missing.status(), 400);
}

#[tokio::test]
async fn an_in_flight_order_gets_a_success_signed_as_the_sandbox_verifies_it() {
    // Arrange
    let env = Env::start().await;
    let order = env.one_claimed().await;
    let path = format!(
        "{}?orderNo={}",
        alchemypay::CREATE_CHECK_PATH,
        order.order.idempotency_key
    );

    // Act
    let answer = reqwest::get(format!("{}{path}", env.server)).await.unwrap();

    // Assert: checked with the sandbox's own, independent signing code.
    assert_signed_success(answer, &path).await;
}

#[tokio::test]
async fn behind_a_proxy_the_success_is_signed_over_the_path_alchemy_pay_called() {
    // Arrange: cardbatch served under https://ops.example.com/cardbatch by a proxy that strips
    // the prefix; Alchemy Pay calls (and verifies) /cardbatch/alchemypay/create-check.
    let env = Env::start().await;
    let order = env.one_claimed().await;
    let mut keys = CheckKeys::new().with_public_path("/cardbatch");
    keys.add_profile(PROFILE, &credentials()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxied = format!("http://{}", listener.local_addr().unwrap());
    serve(listener, &env.store, keys, None, std::future::pending());
    let path = format!(
        "{}?orderNo={}",
        alchemypay::CREATE_CHECK_PATH,
        order.order.idempotency_key
    );

    // Act
    let answer = reqwest::get(format!("{proxied}{path}")).await.unwrap();

    // Assert
    assert_signed_success(answer, &format!("/cardbatch{path}")).await;
}

/// A yes, signed with the development key over `signed_path`, as the sandbox's own signing code
/// computes it.
async fn assert_signed_success(answer: reqwest::Response, signed_path: &str) {
    assert_eq!(answer.status(), 200);
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    let (key, ts, sign) = (
        header("ach-access-key"),
        header("ach-access-timestamp"),
        header("ach-access-sign"),
    );
    assert_eq!(key, DEV_ALCHEMYPAY_ACCESS_KEY);
    assert_eq!(ts.len(), 13);
    assert!((now_ms() - ts.parse::<i64>().unwrap()).abs() < 60_000);
    let body = answer.text().await.unwrap();
    assert_eq!(body, "success");
    let expected = cardbatch::sandbox::alchemypay::sign(
        DEV_ALCHEMYPAY_SECRET_KEY,
        &ts,
        "GET",
        signed_path,
        &cardbatch::sandbox::alchemypay::canonical_body(body.as_bytes()),
    );
    assert_eq!(sign, expected);
}

async fn the_lookup_by_key_finds_the_order_and_its_state(db: TestDb) {
    // Arrange
    let store = db.store().await;
    write_order(&store, "cbkey1").await;

    // Act
    let queued = store
        .order_find_by_key(ProviderKind::AlchemypayVcc, "cbkey1")
        .await
        .unwrap();
    let claimed = store
        .order_claim_due(PROFILE, "w", 1, Duration::from_secs(60), now_ms())
        .await
        .unwrap();
    let in_flight = store
        .order_lookup_by_key(ProviderKind::AlchemypayVcc, "cbkey1")
        .await
        .unwrap()
        .unwrap();
    let other_provider = store
        .order_find_by_key(ProviderKind::Uqpay, "cbkey1")
        .await
        .unwrap();
    let unknown = store
        .order_find_by_key(ProviderKind::AlchemypayVcc, "cbkey2")
        .await
        .unwrap();

    // Assert
    assert_eq!(queued, Some((claimed[0].id, OrderState::Queued)));
    assert_eq!(in_flight.state, OrderState::InFlight);
    assert_eq!(in_flight.profile, PROFILE);
    assert_eq!(other_provider, None);
    assert_eq!(unknown, None);
}

on_both_engines!(the_lookup_by_key_finds_the_order_and_its_state);

#[test]
fn an_access_key_never_shows_its_secret_in_debug() {
    let key = AccessKey {
        key: "k".into(),
        secret: "do-not-print".into(),
    };
    let mut keys = CheckKeys::new();
    keys.insert("p", key);
    assert!(!format!("{keys:?}").contains("do-not-print"));
}
