//! The Alchemy Pay client against the in-process sandbox over loopback, with cardbatch's own
//! reverse-validation endpoint served on 127.0.0.1:0 from a real store: the sandbox calls it
//! before every create, so only orders the store holds in flight get a card. (The endpoint's own
//! answers are in `alchemypay_check.rs`.)

use crate::support::alchemypay::{Env, PROVIDER, assert_code, client, credentials, seed_payload};
use crate::support::as_refs;
use cardbatch::config::Profile;
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::providers::alchemypay;
use cardbatch::providers::{CallKind, Classified, Credentials, Resolution};
use cardbatch::sandbox::FaultConfig;
use cardbatch::sandbox::config::DEV_ALCHEMYPAY_ACCESS_KEY;
use cardbatch::sandbox::fixtures::DEFAULT_FIXTURES;
use serde_json::json;
use std::time::Duration;
use tokio::net::TcpListener;

#[tokio::test]
async fn the_seed_example_is_accepted_after_reverse_validation_with_the_order_number_as_ref() {
    // Arrange
    let env = Env::start().await;
    let order = env.one_claimed().await;

    // Act
    let report = env.client.create(&order.order).await;

    // Assert
    assert_eq!(
        report.classified,
        Classified::Accepted {
            refs: as_refs(json!({ "order_no": order.order.idempotency_key }))
        }
    );
    assert_eq!(report.kind, CallKind::Create);
    assert_eq!(report.http_status, Some(200));
    assert_eq!(report.provider_code.as_deref(), Some("0"));
    assert_eq!(env.cards_for(&order), 1);
    let stats = env.sandbox.stats();
    assert_eq!(stats.get(PROVIDER, "reverse_validation_passed"), 1);
    assert_eq!(stats.get(PROVIDER, "reverse_validation_failed"), 0);
    // The order's row is untouched by the client; the activation link is in no record.
    let row = env.store.order_get(order.id).await.unwrap().unwrap();
    assert_eq!(row.state, OrderState::InFlight);
    assert!(!format!("{report:?}").contains("token="));
}

#[tokio::test]
async fn a_wrong_secret_is_a_permanent_200006_and_an_unknown_key_a_permanent_300002() {
    // Arrange
    let env = Env::start().await;
    let orders = env.claimed(vec![seed_payload(), seed_payload()]).await;
    let wrong_secret = client(
        &env.profile,
        &Credentials::from_pairs([
            ("access_key", DEV_ALCHEMYPAY_ACCESS_KEY),
            ("secret_key", "not-the-secret"),
        ]),
        &env.store,
        &env.server,
    );
    let unknown_key = client(
        &env.profile,
        &Credentials::from_pairs([("access_key", "nobody"), ("secret_key", "x")]),
        &env.store,
        &env.server,
    );

    // Act
    let signed_wrong = wrong_secret.create(&orders[0].order).await;
    let unknown = unknown_key.create(&orders[1].order).await;

    // Assert
    assert!(matches!(
        signed_wrong.classified,
        Classified::Permanent { .. }
    ));
    assert_code(&signed_wrong.classified, "200006");
    assert!(matches!(unknown.classified, Classified::Permanent { .. }));
    assert_code(&unknown.classified, "300002");
    assert_eq!(env.sandbox.ledger().len(), 0);
}

#[tokio::test]
async fn a_clock_off_by_more_than_a_minute_is_a_transient_200005() {
    // Arrange: the provider's clock runs two minutes ahead of ours.
    let env = Env::start().await;
    let order = env.one_claimed().await;
    env.sandbox.core().clock.advance(Duration::from_secs(120));

    // Act
    let report = env.client.create(&order.order).await;

    // Assert
    assert!(matches!(report.classified, Classified::Transient { .. }));
    assert_code(&report.classified, "200005");
}

#[tokio::test]
async fn invalid_orders_are_permanent_with_the_providers_code() {
    // Arrange: a deposit under the single-load minimum, an unknown card segment, and a
    // currency Alchemy Pay does not issue.
    let env = Env::start().await;
    let mut low = seed_payload();
    low["deposit_cents"] = json!(999);
    let mut segment = seed_payload();
    segment["vid"] = json!("vab_unknown");
    let mut currency = seed_payload();
    currency["currency"] = json!("GBP");
    let orders = env.claimed(vec![low, segment, currency]).await;

    // Act
    let mut codes = Vec::new();
    for order in &orders {
        let report = env.client.create(&order.order).await;
        assert!(
            matches!(report.classified, Classified::Permanent { .. }),
            "{report:?}"
        );
        codes.push(report.provider_code.unwrap());
    }

    // Assert
    assert_eq!(codes, ["300003", "200002", "400007"]);
    assert_eq!(env.sandbox.ledger().len(), 0);
}

#[tokio::test]
async fn the_providers_transient_errors_are_transient_and_consume_no_order_number() {
    // Arrange
    let env = Env::start().await;
    let order = env.one_claimed().await;
    env.set_faults(FaultConfig {
        transient_error_rate: 1.0,
        ..FaultConfig::default()
    });

    // Act
    let mut codes = Vec::new();
    for _ in 0..6 {
        let report = env.client.create(&order.order).await;
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
        codes.push(report.provider_code.unwrap());
    }
    env.set_faults(FaultConfig::default());
    let retried = env.client.create(&order.order).await;

    // Assert
    assert!(
        codes
            .iter()
            .all(|c| ["100000", "500000", "600002"].contains(&c.as_str())),
        "{codes:?}"
    );
    assert!(matches!(retried.classified, Classified::Accepted { .. }));
    assert_eq!(env.cards_for(&order), 1);
}

#[tokio::test]
async fn an_empty_merchant_balance_is_transient_with_a_long_retry() {
    // Arrange: a merchant balance of 5 USD, under the 10 USD deposit.
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("fixtures.toml");
    let text = DEFAULT_FIXTURES.replace(
        "merchant_balance_cents = 100000000000",
        "merchant_balance_cents = 500",
    );
    assert_ne!(text, DEFAULT_FIXTURES, "the fixture line moved");
    std::fs::write(&fixtures, text).unwrap();
    let env = Env::start_with(|_, c| c.fixtures = Some(fixtures.clone())).await;
    let order = env.one_claimed().await;

    // Act
    let report = env.client.create(&order.order).await;

    // Assert
    assert_eq!(
        report.classified,
        match &report.classified {
            Classified::Transient { code, message, .. } => Classified::Transient {
                code: code.clone(),
                message: message.clone(),
                retry_after: Some(alchemypay::BALANCE_RETRY),
                rate_limited: false,
            },
            other => panic!("expected a transient answer, got {other:?}"),
        }
    );
    assert_code(&report.classified, "300004");
    assert_eq!(env.sandbox.ledger().len(), 0);
}

#[tokio::test]
async fn a_lost_response_is_unknown_and_resending_the_same_order_number_is_already_done() {
    // Arrange
    let env = Env::start().await;
    let order = env.one_claimed().await;
    env.set_faults(FaultConfig {
        lost_response_rate: 1.0,
        ..FaultConfig::default()
    });

    // Act: the card is created, the answer is lost.
    let lost = env.client.create(&order.order).await;
    env.set_faults(FaultConfig::default());
    let (resolution, lookups) = env.client.resolve(&order.order).await;
    let resent = env.client.create(&order.order).await;

    // Assert
    assert!(
        matches!(lost.classified, Classified::Unknown { .. }),
        "{lost:?}"
    );
    assert_eq!(lost.http_status, None);
    assert_eq!(resolution, Resolution::ResendIsSafe);
    assert!(lookups.is_empty());
    assert_eq!(
        resent.classified,
        Classified::Accepted {
            refs: as_refs(json!({ "order_no": order.order.idempotency_key }))
        }
    );
    assert_eq!(resent.provider_code.as_deref(), Some("300001"));
    assert_eq!(env.cards_for(&order), 1);
    assert_eq!(env.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn a_429_is_transient_rate_limited_with_the_providers_retry_after() {
    // Arrange: one request per 10 s, so the second call is refused.
    let env = Env::start_with(|s, _| {
        s.faults.rate_limit_per_sec = Some(0.1);
        s.faults.rate_limit_burst = Some(1);
    })
    .await;
    let orders = env.claimed(vec![seed_payload(), seed_payload()]).await;

    // Act
    let first = env.client.create(&orders[0].order).await;
    let second = env.client.create(&orders[1].order).await;

    // Assert
    assert!(matches!(first.classified, Classified::Accepted { .. }));
    assert_eq!(second.http_status, Some(429));
    match &second.classified {
        Classified::Transient {
            rate_limited,
            retry_after,
            ..
        } => {
            assert!(rate_limited);
            let wait = retry_after.expect("a Retry-After");
            assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(10));
        }
        other => panic!("expected a rate-limited transient answer, got {other:?}"),
    }
    assert_eq!(env.cards_for(&orders[1]), 0);
}

#[tokio::test]
async fn resolve_finds_the_card_by_its_id_once_known_and_an_unknown_id_needs_review() {
    // Arrange: the card exists; its id is known (as after the callback).
    let env = Env::start().await;
    let mut order = env.one_claimed().await;
    env.client.create(&order.order).await;
    let card_id = env.sandbox.ledger().entries()[0].card_id.clone();
    order.order.refs =
        as_refs(json!({ "order_no": order.order.idempotency_key, "card_id": card_id }));
    let mut stranger = order.clone();
    stranger.order.refs =
        as_refs(json!({ "order_no": order.order.idempotency_key, "card_id": "c_nope" }));

    // Act
    let (found, reports) = env.client.resolve(&order.order).await;
    let (unknown, _) = env.client.resolve(&stranger.order).await;

    // Assert
    assert_eq!(
        found,
        Resolution::Found {
            refs: as_refs(json!({ "order_no": order.order.idempotency_key, "card_id": card_id }))
        }
    );
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].kind, CallKind::Lookup);
    assert_eq!(reports[0].provider_code.as_deref(), Some("0"));
    assert!(
        matches!(&unknown, Resolution::Unresolvable { code, .. } if code == "404005"),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn a_lookup_that_cannot_connect_is_a_transient_resolution() {
    // Arrange: a profile aimed at a port nobody listens on.
    let env = Env::start().await;
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let profile = Profile::sandbox(ProviderKind::AlchemypayVcc, &addr);
    let offline = client(&profile, &credentials(), &env.store, &env.server);
    let mut order = env.one_claimed().await;
    order.order.refs =
        as_refs(json!({ "order_no": order.order.idempotency_key, "card_id": "c_1" }));

    // Act
    let created = offline.create(&order.order).await;
    let (resolution, _) = offline.resolve(&order.order).await;

    // Assert
    assert!(matches!(created.classified, Classified::Transient { .. }));
    assert!(
        matches!(resolution, Resolution::Transient { .. }),
        "{resolution:?}"
    );
}
