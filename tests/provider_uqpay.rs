//! The UQPAY client against the in-process sandbox over loopback: the seed example, every
//! validation error the sandbox knows, idempotency (in-flight duplicate, key conflict, lost
//! response then replay), 429 and 5xx, token expiry, and two "processes" (two stores on one
//! database) sharing one token.

mod common;
mod sandbox_support;

use cardbatch::config::Profile;
use cardbatch::domain::ProviderKind;
use cardbatch::providers::uqpay::{self, REPLAY_TRUSTED_FOR_MS, UqpayClient};
use cardbatch::providers::{
    CallKind, CallReport, Classified, Credentials, Provider, ProviderEnv, Resolution, http,
};
use cardbatch::sandbox::config::{DEV_UQPAY_API_KEY, DEV_UQPAY_CLIENT_ID};
use cardbatch::sandbox::{FaultConfig, ProviderSettings, RunningSandbox, SandboxConfig};
use cardbatch::store::{ClaimedOrder, Store};
use common::TestDb;
use serde_json::{Value, json};
use std::time::Duration;

const PRODUCT: &str = "467e993f-317a-49fc-9ea0-bf49de7d1f76";
const PRODUCT_527735: &str = "0c5b7f2e-8a41-4d3b-9e6c-2f1a8b7c6d5e";
const PRODUCT_DISABLED: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";
const PRODUCT_PHYSICAL: &str = "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6";
const PRODUCT_SINGLE: &str = "2f3e4d5c-6b7a-4898-8a1b-d2e3f4a5b6c7";
const PRODUCT_NO_POOL: &str = "3a4b5c6d-7e8f-4a9b-8c0d-e1f2a3b4c5d6";
const HOLDER: &str = "25ea804d-7fd5-43d5-8792-0fc0214cdb2f";
const HOLDER_PENDING: &str = "6e4c9d5f-2a7b-4fbe-9ac8-3b5a4f6e7d8c";
const PROFILE: &str = "uqpay";
const PROVIDER: &str = "uqpay";

async fn sandbox() -> RunningSandbox {
    let config = SandboxConfig {
        seed: 11,
        time_scale: 0.001,
        ..SandboxConfig::default()
    }
    .with_provider(ProviderKind::Uqpay, ProviderSettings::default());
    sandbox_support::start(config).await
}

fn client(sandbox: &RunningSandbox, store: &Store) -> UqpayClient {
    let profile = Profile::sandbox(ProviderKind::Uqpay, &sandbox.addr().to_string());
    let credentials = Credentials::from_pairs([
        ("client_id", DEV_UQPAY_CLIENT_ID),
        ("api_key", DEV_UQPAY_API_KEY),
    ]);
    let env = ProviderEnv {
        http: http::client(),
        store: store.clone(),
        public_url: "http://127.0.0.1:9".into(),
    };
    uqpay::client(PROFILE, &profile, &credentials, &env).expect("the client builds")
}

/// The payload ingest makes from the seed's row (card_limit 1000 USD).
fn seed_payload() -> Value {
    json!({
        "cardholder_id": HOLDER, "card_product_id": PRODUCT, "card_currency": "USD",
        "card_limit_minor": 100_000, "usage_type": "NORMAL",
        "metadata": {"cardbatch_order_ref": "seed-1"}
    })
}

fn order(payload: Value) -> ClaimedOrder {
    ClaimedOrder {
        id: 1,
        batch_id: uuid::Uuid::new_v4(),
        profile: PROFILE.into(),
        provider: ProviderKind::Uqpay,
        order_ref: "seed-1".into(),
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        payload,
        amount_minor: Some(100_000),
        currency: Some("USD".into()),
        provider_refs: None,
        attempt: 1,
        created_at_ms: chrono::Utc::now().timestamp_millis(),
        previous_outcome_unknown: false,
    }
}

fn cards_for(sandbox: &RunningSandbox, order: &ClaimedOrder) -> u64 {
    sandbox
        .ledger()
        .count_for(PROVIDER, "idempotency_key", &order.idempotency_key)
}

#[track_caller]
fn accepted_card_id(report: &CallReport) -> String {
    match &report.classified {
        Classified::Accepted { refs } => {
            assert!(
                refs["card_order_id"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{refs}"
            );
            refs["card_id"].as_str().expect("a card_id").to_string()
        }
        other => panic!("expected Accepted, got {other:?}"),
    }
}

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
    sandbox_support::eventually("the first request to hold the key", || {
        sandbox.stats().get(PROVIDER, "idempotency_keys_locked") >= 1
    })
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
async fn a_lost_response_is_unknown_and_resolving_it_finds_the_same_card_without_a_second() {
    // Arrange: the card is created, then the connection dies with no answer.
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    let order = order(seed_payload());
    sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            lost_response_rate: 1.0,
            ..FaultConfig::default()
        },
    );

    // Act 1: the lost answer.
    let lost = client.create(&order).await;
    sandbox.set_faults(PROVIDER, FaultConfig::default());

    // Assert 1
    assert!(
        matches!(lost.classified, Classified::Unknown { .. }),
        "{lost:?}"
    );
    assert_eq!(lost.http_status, None);
    let created = sandbox.ledger().entries();
    assert_eq!(created.len(), 1, "the provider did create the card");

    // Act 2: resolve, then re-send with the same key as resolve says is safe.
    let mut in_doubt = order.clone();
    in_doubt.previous_outcome_unknown = true;
    let (resolution, reports) = client.resolve(&in_doubt).await;
    let replay = client.create(&in_doubt).await;

    // Assert 2: the replay is the original answer; still one card.
    assert_eq!(resolution, Resolution::ResendIsSafe);
    assert!(reports.is_empty());
    assert_eq!(accepted_card_id(&replay), created[0].card_id);
    assert_eq!(cards_for(&sandbox, &order), 1);
    assert_eq!(sandbox.stats().get(PROVIDER, "idempotent_replays"), 1);
}

#[tokio::test]
async fn resolving_with_refs_looks_the_card_up() {
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    let mut order = order(seed_payload());
    let accepted = client.create(&order).await;
    let Classified::Accepted { refs } = accepted.classified else {
        panic!("{accepted:?}")
    };
    order.provider_refs = Some(refs.clone());

    let (resolution, reports) = client.resolve(&order).await;

    assert_eq!(resolution, Resolution::Found { refs });
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].kind, CallKind::Lookup);
    assert_eq!(reports[0].http_status, Some(200));

    // A card we hold refs for but UQPAY does not know: re-sending (the replay) is the lookup.
    order.provider_refs =
        Some(json!({"card_id": "00000000-0000-4000-8000-00000000dead", "card_order_id": "x"}));
    let (resolution, reports) = client.resolve(&order).await;
    assert_eq!(resolution, Resolution::ResendIsSafe);
    assert_eq!(reports[0].http_status, Some(404));
}

#[tokio::test]
async fn a_rate_limited_lookup_resolves_as_transient_with_retry_after() {
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    let mut order = order(seed_payload());
    let Classified::Accepted { refs } = client.create(&order).await.classified else {
        panic!("the seed order is accepted")
    };
    order.provider_refs = Some(refs);
    sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            rate_limit_per_minute: Some(1),
            ..FaultConfig::default()
        },
    );
    let _spend_the_window = client.resolve(&order).await;

    let (resolution, reports) = client.resolve(&order).await;

    assert!(
        matches!(&resolution, Resolution::Transient { code, retry_after: Some(_), .. } if code == "too_many_requests"),
        "{resolution:?}"
    );
    assert_eq!(reports[0].http_status, Some(429));
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
    let credentials = Credentials::from_pairs([
        ("client_id", DEV_UQPAY_CLIENT_ID),
        ("api_key", DEV_UQPAY_API_KEY),
    ]);
    let env = ProviderEnv {
        http: http::client(),
        store: db.store().await,
        public_url: String::new(),
    };
    let client = uqpay::client(PROFILE, &profile, &credentials, &env).unwrap();

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
    let env = ProviderEnv {
        http: http::client(),
        store: db.store().await,
        public_url: String::new(),
    };
    let client = uqpay::client(PROFILE, &profile, &credentials, &env).unwrap();

    let report = client.create(&order(seed_payload())).await;

    assert_eq!(report.kind, CallKind::Token);
    assert_eq!(report.http_status, Some(401));
    assert!(
        matches!(report.classified, Classified::Transient { .. }),
        "{report:?}"
    );
    assert!(sandbox.ledger().is_empty());
}

async fn an_expired_token_is_refreshed_transparently(db: TestDb) {
    // Arrange: one card with the first token, then UQPAY's clock passes its expiry.
    let sandbox = sandbox().await;
    let client = client(&sandbox, &db.store().await);
    accepted_card_id(&client.create(&order(seed_payload())).await);
    sandbox.core().clock.advance(Duration::from_secs(31 * 60));

    // Act
    let report = client.create(&order(seed_payload())).await;

    // Assert: accepted on the replay with a new token, minted once.
    accepted_card_id(&report);
    assert_eq!(client.tokens().minted(), 2);
    assert_eq!(sandbox.ledger().len(), 2);
}

async fn a_token_near_expiry_in_the_database_is_replaced_before_use(db: TestDb) {
    // Arrange: the row holds a token with two minutes left (another process's, say).
    let sandbox = sandbox().await;
    let store = db.store().await;
    let now = chrono::Utc::now().timestamp_millis();
    store
        .token_lock(PROFILE)
        .await
        .unwrap()
        .save("stale-token", now + 120_000, now)
        .await
        .unwrap();
    let client = client(&sandbox, &store);

    // Act
    let report = client.create(&order(seed_payload())).await;

    // Assert: a new token was minted and stored, and the stale one never reached UQPAY.
    accepted_card_id(&report);
    assert_eq!(client.tokens().minted(), 1);
    let row = store
        .token_get(PROFILE)
        .await
        .unwrap()
        .expect("a stored token");
    assert_ne!(row.token, "stale-token");
    assert!(row.expires_at_ms > now + 20 * 60 * 1000);
}

async fn two_processes_share_one_token_and_never_fail_on_an_invalidated_one(db: TestDb) {
    // Arrange: two stores on one database are two processes, each with its own manager.
    let sandbox = sandbox().await;
    let a = std::sync::Arc::new(client(&sandbox, &db.store().await));
    let b = std::sync::Arc::new(client(&sandbox, &db.store().await));
    let burst = |n: usize| {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            let c = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.spawn(async move { c.create(&order(seed_payload())).await });
        }
        tasks
    };

    // Act: a concurrent burst, UQPAY's clock passes the token's expiry, another burst.
    let first = burst(40).join_all().await;
    sandbox.core().clock.advance(Duration::from_secs(31 * 60));
    let second = burst(40).join_all().await;

    // Assert: every call accepted, one token per period for both processes together.
    for report in first.iter().chain(&second) {
        accepted_card_id(report);
    }
    assert_eq!(a.tokens().minted() + b.tokens().minted(), 2);
    let ledger = sandbox.ledger().snapshot(Some(PROVIDER));
    assert_eq!(ledger.total_cards, 80);
    let duplicate_keys: Vec<_> = ledger
        .duplicates
        .iter()
        .filter(|d| d.name == "idempotency_key")
        .collect();
    assert!(duplicate_keys.is_empty(), "{duplicate_keys:?}");
}

async fn a_process_refused_with_a_token_the_row_no_longer_holds_adopts_the_row_s_without_minting(
    db: TestDb,
) {
    // Arrange: process A mints the first token; process B adopts it from the database.
    let sandbox = sandbox().await;
    let a = client(&sandbox, &db.store().await);
    let b = client(&sandbox, &db.store().await);
    accepted_card_id(&a.create(&order(seed_payload())).await);
    accepted_card_id(&b.create(&order(seed_payload())).await);
    assert_eq!((a.tokens().minted(), b.tokens().minted()), (1, 0));
    // The shared token expires at UQPAY; B is refused first and mints its successor.
    sandbox.core().clock.advance(Duration::from_secs(31 * 60));
    accepted_card_id(&b.create(&order(seed_payload())).await);
    assert_eq!(b.tokens().minted(), 1);

    // Act: A still holds the old token, is refused, and finds B's token in the row.
    let report = a.create(&order(seed_payload())).await;

    // Assert: accepted without minting (which would have revoked B's token).
    accepted_card_id(&report);
    assert_eq!(a.tokens().minted(), 1);
    accepted_card_id(&b.create(&order(seed_payload())).await);
    assert_eq!(b.tokens().minted(), 1, "B's token is still valid");
}

on_both_engines!(
    a_process_refused_with_a_token_the_row_no_longer_holds_adopts_the_row_s_without_minting,
    an_expired_token_is_refreshed_transparently,
    a_token_near_expiry_in_the_database_is_replaced_before_use,
    two_processes_share_one_token_and_never_fail_on_an_invalidated_one,
);

#[tokio::test]
async fn the_on_behalf_of_option_is_sent_and_an_unknown_sub_account_is_permanent() {
    // Arrange: the sandbox's fixtures have no Issuing sub-accounts.
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let mut profile = Profile::sandbox(ProviderKind::Uqpay, &sandbox.addr().to_string());
    profile.options.insert(
        "on_behalf_of".into(),
        "7c0e8d1a-1111-4222-8333-944455556666".into(),
    );
    let credentials = Credentials::from_pairs([
        ("client_id", DEV_UQPAY_CLIENT_ID),
        ("api_key", DEV_UQPAY_API_KEY),
    ]);
    let env = ProviderEnv {
        http: http::client(),
        store: db.store().await,
        public_url: String::new(),
    };
    let client = uqpay::client(PROFILE, &profile, &credentials, &env).unwrap();

    // Act
    let report = client.create(&order(seed_payload())).await;

    // Assert
    assert!(
        matches!(&report.classified, Classified::Permanent { code, .. } if code == "sub_account_not_found"),
        "{report:?}"
    );
    assert!(sandbox.ledger().is_empty());
}

/// Creates `order`'s card with the answer lost on the way back; returns the card's id.
async fn create_losing_the_answer(
    sandbox: &RunningSandbox,
    client: &UqpayClient,
    order: &ClaimedOrder,
) -> String {
    sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            lost_response_rate: 1.0,
            ..FaultConfig::default()
        },
    );
    let report = client.create(order).await;
    sandbox.set_faults(PROVIDER, FaultConfig::default());
    assert!(
        matches!(report.classified, Classified::Unknown { .. }),
        "{report:?}"
    );
    sandbox.ledger().entries().last().unwrap().card_id.clone()
}

fn order_with_ref(order_ref: &str) -> ClaimedOrder {
    let mut payload = seed_payload();
    payload["metadata"]["cardbatch_order_ref"] = json!(order_ref);
    ClaimedOrder {
        order_ref: order_ref.into(),
        ..order(payload)
    }
}

#[tokio::test]
async fn past_the_replay_window_a_card_is_found_by_listing_its_cardholder_s_cards() {
    // Arrange: 105 cards on one cardholder (two pages); the answer for one was lost.
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    for i in 0..104 {
        accepted_card_id(&client.create(&order_with_ref(&format!("r-{i}"))).await);
    }
    let lost = order_with_ref("r-lost");
    let lost_card = create_losing_the_answer(&sandbox, &client, &lost).await;

    // Act
    let (found, found_reports) = client.find_by_order_ref(&lost).await;
    let (missing, missing_reports) = client
        .find_by_order_ref(&order_with_ref("never-sent"))
        .await;

    // Assert
    assert_eq!(
        found,
        Resolution::Found {
            refs: json!({ "card_id": lost_card })
        }
    );
    assert_eq!(found_reports.len(), 2, "the card is on the second page");
    assert!(
        found_reports
            .iter()
            .all(|r| r.kind == CallKind::Lookup && r.http_status == Some(200))
    );
    assert_eq!(missing, Resolution::NotFound);
    assert_eq!(missing_reports.len(), 2);
    assert_eq!(cards_for(&sandbox, &lost), 1);
}

#[tokio::test]
async fn an_order_in_doubt_past_the_replay_window_is_looked_for_by_listing_not_resent() {
    // Arrange: a create whose answer was lost.
    let (sandbox, db) = (sandbox().await, TestDb::sqlite().await);
    let client = client(&sandbox, &db.store().await);
    let lost = ClaimedOrder {
        previous_outcome_unknown: true,
        ..order_with_ref("r-old")
    };
    let lost_card = create_losing_the_answer(&sandbox, &client, &lost).await;
    let now = chrono::Utc::now().timestamp_millis();
    let queued_ago = |ms: i64| ClaimedOrder {
        created_at_ms: now - ms,
        ..lost.clone()
    };

    // Act: the same order, queued an hour ago and queued as long ago as the replay is trusted.
    let (young, young_calls) = client.resolve_order_at(&queued_ago(3_600_000), now).await;
    let (old, old_calls) = client
        .resolve_order_at(&queued_ago(REPLAY_TRUSTED_FOR_MS), now)
        .await;

    // Assert: the young order counts on the replay; the old one is found in the card list.
    assert_eq!(young, Resolution::ResendIsSafe);
    assert!(young_calls.is_empty());
    assert_eq!(
        old,
        Resolution::Found {
            refs: json!({ "card_id": lost_card })
        }
    );
    assert!(!old_calls.is_empty());
    assert!(old_calls.iter().all(|c| c.kind == CallKind::Lookup));
    assert_eq!(cards_for(&sandbox, &lost), 1);
}
