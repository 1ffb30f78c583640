//! The UQPAY client's create against the in-process sandbox over loopback: the seed example,
//! every validation error the sandbox knows, idempotency (in-flight duplicate, key conflict),
//! 429 and 5xx, an unreachable provider, wrong credentials and a sub-account.

use crate::support::uqpay::{
    PROVIDER, accepted_card_id, cards_for, client, client_with, credentials, order, sandbox,
    seed_payload,
};
use crate::support::{TestDb, wait_until};
use cardbatch::config::Profile;
use cardbatch::domain::ProviderKind;
use cardbatch::providers::{CallKind, Classified, Credentials, Provider};
use cardbatch::sandbox::FaultConfig;
use cardbatch::sandbox::config::DEV_UQPAY_CLIENT_ID;
use serde_json::{Value, json};
use std::time::Duration;

const PRODUCT_527735: &str = "0c5b7f2e-8a41-4d3b-9e6c-2f1a8b7c6d5e";
const PRODUCT_DISABLED: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";
const PRODUCT_PHYSICAL: &str = "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6";
const PRODUCT_SINGLE: &str = "2f3e4d5c-6b7a-4898-8a1b-d2e3f4a5b6c7";
const PRODUCT_NO_POOL: &str = "3a4b5c6d-7e8f-4a9b-8c0d-e1f2a3b4c5d6";
const HOLDER_PENDING: &str = "6e4c9d5f-2a7b-4fbe-9ac8-3b5a4f6e7d8c";

#[tokio::test]
async fn the_seed_example_is_accepted_with_its_card_and_order_ids() {
    // Arrange
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    let order = order(seed_payload());

    // Act
    let report = client.create(&order).await;

    // Assert
    let card_id = accepted_card_id(&report);
    assert_eq!(report.kind, CallKind::Create);
    assert_eq!(report.http_status, Some(200));
    assert_eq!(cards_for(&sandbox, &order), 1);
    let entry = sandbox
        .ledger()
        .get(PROVIDER, &card_id)
        .expect("the card is in the ledger");
    assert!(entry.references["metadata"].contains("seed-1"));
    assert_eq!(client.tokens().minted(), 1);
}

#[tokio::test]
async fn every_validation_error_is_permanent_with_uqpay_s_code_and_creates_no_card() {
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    let with = |changes: Value| {
        let mut p = seed_payload();
        for (k, v) in changes.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    let cases = [
        (
            with(json!({"card_product_id": PRODUCT_DISABLED})),
            "product_disabled",
        ),
        (
            with(json!({"card_product_id": PRODUCT_PHYSICAL})),
            "card_form_not_supported",
        ),
        (
            with(json!({"card_product_id": "00000000-0000-4000-8000-000000000000"})),
            "card_product_not_found",
        ),
        (
            with(json!({"cardholder_id": HOLDER_PENDING})),
            "cardholder_status_invalid",
        ),
        (
            with(json!({"cardholder_id": "00000000-0000-4000-8000-000000000001"})),
            "cardholder_not_found",
        ),
        (
            with(json!({"card_product_id": PRODUCT_527735, "card_limit_minor": null})),
            "invalid_card_limit",
        ),
        (
            with(json!({"card_product_id": PRODUCT_527735, "card_currency": "SGD"})),
            "invalid_card_currency",
        ),
        (
            with(json!({"card_product_id": PRODUCT_NO_POOL})),
            "insufficient_sub_bin",
        ),
        (
            with(json!({"card_product_id": PRODUCT_SINGLE, "card_limit_minor": 20_000_000_000i64})),
            "insufficient_balance",
        ),
        (
            with(json!({"usage_type": "ONE_TIME"})),
            "missing_auto_cancel_trigger",
        ),
        (
            with(json!({"metadata": {"blob": "x".repeat(3300)}})),
            "metadata_too_large",
        ),
        (
            with(json!({"risk_controls": {"allowed_mcc": ["5734"], "blocked_mcc": ["5735"]}})),
            "invalid_risk_controls",
        ),
    ];
    for (payload, expected) in cases {
        let order = order(payload);

        let report = client.create(&order).await;

        match &report.classified {
            Classified::Permanent { code, .. } => assert_eq!(code, expected),
            other => panic!("{expected}: expected Permanent, got {other:?}"),
        }
        assert_eq!(report.provider_code.as_deref(), Some(expected));
        assert_eq!(report.http_status, Some(400), "{expected}");
        assert_eq!(cards_for(&sandbox, &order), 0, "{expected}");
    }
}

#[tokio::test]
async fn a_key_reused_with_a_different_body_is_a_permanent_key_conflict() {
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    let first = order(seed_payload());
    accepted_card_id(&client.create(&first).await);
    let mut changed = first.clone();
    changed.payload["card_limit_minor"] = json!(5_000);

    let report = client.create(&changed).await;

    assert!(
        matches!(&report.classified, Classified::Permanent { code, .. } if code == "key_conflict"),
        "{report:?}"
    );
    assert_eq!(cards_for(&sandbox, &first), 1);
}

#[tokio::test]
async fn a_duplicate_sent_while_the_first_is_processing_is_transient() {
    // Arrange: a slow provider, so the first request is still in flight.
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = std::sync::Arc::new(client(&sandbox, &db.store().await));
    let order = order(seed_payload());
    let _ = client.tokens().token().await.expect("a token");
    sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            latency_ms: 1_500,
            ..FaultConfig::default()
        },
    );
    let first = tokio::spawn({
        let (client, order) = (client.clone(), order.clone());
        async move { client.create(&order).await }
    });
    wait_until(
        "the first request to hold the key",
        Duration::from_secs(20),
        || async { sandbox.stats().get(PROVIDER, "idempotency_keys_locked") >= 1 },
    )
    .await;

    // Act
    let duplicate = client.create(&order).await;

    // Assert
    assert!(
        matches!(&duplicate.classified, Classified::Transient { code, rate_limited: false, .. } if code == "request_processing"),
        "{duplicate:?}"
    );
    assert_eq!(duplicate.http_status, Some(400));
    accepted_card_id(&first.await.unwrap());
    assert_eq!(cards_for(&sandbox, &order), 1);
}

#[tokio::test]
async fn a_429_is_transient_rate_limited_with_retry_after() {
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            rate_limit_per_minute: Some(1),
            ..FaultConfig::default()
        },
    );
    let first = order(seed_payload());
    accepted_card_id(&client.create(&first).await);
    let second = order(seed_payload());

    let report = client.create(&second).await;

    match &report.classified {
        Classified::Transient {
            code,
            rate_limited,
            retry_after,
            ..
        } => {
            assert_eq!(code, "too_many_requests");
            assert!(rate_limited);
            assert!(
                retry_after.is_some_and(|d| d >= Duration::from_secs(1)),
                "{retry_after:?}"
            );
        }
        other => panic!("expected a rate-limited Transient, got {other:?}"),
    }
    assert_eq!(report.http_status, Some(429));
    assert_eq!(cards_for(&sandbox, &second), 0);
}

#[tokio::test]
async fn a_server_error_is_transient_and_creates_nothing() {
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            transient_error_rate: 1.0,
            ..FaultConfig::default()
        },
    );
    let order = order(seed_payload());

    let report = client.create(&order).await;

    assert!(
        matches!(&report.classified, Classified::Transient { code, rate_limited: false, .. } if code == "api_error"),
        "{report:?}"
    );
    assert_eq!(report.http_status, Some(500));
    assert_eq!(cards_for(&sandbox, &order), 0);
}

#[tokio::test]
async fn an_unreachable_provider_is_transient() {
    let db = TestDb::sqlite().await;
    // Bind then drop a listener: nothing listens on that port any more.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let profile = Profile::sandbox(ProviderKind::Uqpay, &addr.to_string());
    let client = client_with(&profile, &credentials(), &db.store().await);

    let report = client.create(&order(seed_payload())).await;

    assert!(
        matches!(report.classified, Classified::Transient { .. }),
        "{report:?}"
    );
    assert_eq!(
        report.kind,
        CallKind::Token,
        "no create was sent without a token"
    );
}

#[tokio::test]
async fn wrong_credentials_fail_the_token_step_transiently_and_send_no_order() {
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let profile = Profile::sandbox(ProviderKind::Uqpay, &sandbox.addr().to_string());
    let credentials =
        Credentials::from_pairs([("client_id", DEV_UQPAY_CLIENT_ID), ("api_key", "wrong")]);
    let client = client_with(&profile, &credentials, &db.store().await);

    let report = client.create(&order(seed_payload())).await;

    assert_eq!(report.kind, CallKind::Token);
    assert_eq!(report.http_status, Some(401));
    assert!(
        matches!(report.classified, Classified::Transient { .. }),
        "{report:?}"
    );
    assert!(sandbox.ledger().is_empty());
}

#[tokio::test]
async fn the_on_behalf_of_option_is_sent_and_an_unknown_sub_account_is_permanent() {
    // Arrange: the sandbox's fixtures have no Issuing sub-accounts.
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let mut profile = Profile::sandbox(ProviderKind::Uqpay, &sandbox.addr().to_string());
    profile.options.insert(
        "on_behalf_of".into(),
        "7c0e8d1a-1111-4222-8333-944455556666".into(),
    );
    let client = client_with(&profile, &credentials(), &db.store().await);

    // Act
    let report = client.create(&order(seed_payload())).await;

    // Assert
    assert!(
        matches!(&report.classified, Classified::Permanent { code, .. } if code == "sub_account_not_found"),
        "{report:?}"
    );
    assert!(sandbox.ledger().is_empty());
}
