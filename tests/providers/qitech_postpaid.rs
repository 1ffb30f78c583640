//! The QI Tech postpaid client against the in-process sandbox over loopback, in both signing
//! variants: the documented example accepted with its three keys, every documented error code
//! classified as the table says, a lost answer resolved by re-sending the same
//! request_control_key (409 CIN000099: needs review, or accepted when QI reveals the keys), and
//! a 429 slowing the lane.

use crate::support::as_refs;
use crate::support::qitech::{QiHarness, Setup, VARIANTS, assert_each_error_is_permanent, start};
use cardbatch::domain::ProviderKind;
use cardbatch::domain::ProviderOrder;
use cardbatch::providers::{CallKind, CallReport, Classified, Resolution};
use cardbatch::sandbox::FaultConfig;
use serde_json::{Value, json};

const KIND: ProviderKind = ProviderKind::QitechPostpaid;
const PROVIDER: &str = "qitech_postpaid";
const WALLET: &str = "3f9a7c2e-1b4d-4e8f-9a6c-5d2e8b7f1a30";
const SMALL_WALLET: &str = "4a0b8d3f-2c5e-4f90-8b7d-6e3f9c8a2b41";
const CCB_WALLET: &str = "5b1c9e40-3d6f-4a01-9c8e-7f4a0d9b3c52";
const PERSON: &str = "f2cad6b4-2a68-4572-99a7-2849c8d6ecf8";

fn address() -> Value {
    json!({
        "street": "Rua das Flores", "number": "123", "neighborhood": "Centro",
        "postal_code": "01234567", "city": "São Paulo", "state": "SP", "complement": "Apto 1"
    })
}

/// The seed's documented example as ingest stores it: `wallet_key` inside, the limit in
/// centavos, no `request_control_key`; a virtual card, as the rules table allows with a CVV
/// interval (the seed's own example mixes physical and virtual fields).
fn seed_payload() -> Value {
    json!({
        "wallet_key": WALLET,
        "owner": {
            "person_type": "natural", "name": "João Silva", "document_number": "12345678901",
            "birthdate": "1990-01-01", "email": "joao.silva@email.com",
            "phone": {"number": "99999999", "area_code": "11", "country_code": "55"},
            "address": address()
        },
        "payment_instrument_type": "postpaid_card",
        "limit_amount_minor": 200_000,
        "postpaid_card_data": {
            "card_type": "virtual", "card_name": "Cartão Principal", "printed_name": "JOAO SILVA",
            "cvv_rotation_interval_hours": 24
        }
    })
}

/// A virtual card for an existing person.
fn person_payload() -> Value {
    let mut p = seed_payload();
    let body = p.as_object_mut().unwrap();
    body.remove("owner");
    body.insert("person_key".into(), json!(PERSON));
    p
}

fn order(payload: Value) -> ProviderOrder {
    ProviderOrder {
        profile: PROVIDER.into(),
        provider: ProviderKind::QitechPostpaid,
        order_ref: "r-1".into(),
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        payload,
        amount_minor: Some(200_000),
        currency: Some("BRL".into()),
        refs: Default::default(),
        queued_at_ms: chrono::Utc::now().timestamp_millis(),
    }
}

fn with(mut payload: Value, pointer: &str, value: Value) -> Value {
    *payload.pointer_mut(pointer).unwrap() = value;
    payload
}

fn accepted_refs(report: &CallReport) -> Value {
    match &report.classified {
        Classified::Accepted { refs } => serde_json::to_value(refs).unwrap(),
        other => panic!("expected Accepted, got {other:?}"),
    }
}

fn set_faults(qi: &QiHarness, faults: FaultConfig) {
    qi.sandbox.set_faults(PROVIDER, faults);
}

fn lose_every_answer(qi: &QiHarness) {
    set_faults(
        qi,
        FaultConfig {
            lost_response_rate: 1.0,
            ..FaultConfig::default()
        },
    );
}

fn fail_every_create(qi: &QiHarness) {
    set_faults(
        qi,
        FaultConfig {
            transient_error_rate: 1.0,
            ..FaultConfig::default()
        },
    );
}

/// The ledger's card for a request_control_key: `(card count, postpaid_card_key)`.
fn ledger_card(qi: &QiHarness, key: &str) -> (usize, String) {
    let cards: Vec<_> = qi
        .sandbox
        .ledger()
        .entries()
        .into_iter()
        .filter(|e| e.references.get("request_control_key").map(String::as_str) == Some(key))
        .collect();
    (cards.len(), cards[0].card_id.clone())
}

#[tokio::test]
async fn the_documented_example_is_accepted_with_its_three_keys_in_both_variants() {
    let qi = start(Setup::default()).await;
    for signing in VARIANTS {
        // Arrange
        let client = qi.client(KIND, signing).await;
        let order = order(seed_payload());

        // Act
        let report = client.create(&order).await;

        // Assert
        let refs = accepted_refs(&report);
        assert_eq!(report.http_status, Some(201), "{signing}");
        let (count, card_key) = ledger_card(&qi, &order.idempotency_key);
        assert_eq!(count, 1);
        assert_eq!(refs["postpaid_card_key"], card_key);
        for key in ["payment_instrument_key", "owner_person_key"] {
            assert!(refs[key].as_str().is_some_and(|k| k.len() == 36), "{refs}");
        }
    }
}

#[tokio::test]
async fn each_documented_error_code_is_classified_as_the_table_says() {
    let qi = start(Setup::default()).await;
    let unknown = "00000000-0000-4000-8000-000000000000";
    let cases = [
        (
            with(
                seed_payload(),
                "/postpaid_card_data/card_type",
                json!("physical"),
            ),
            400,
            "QIT000001",
        ),
        (
            with(seed_payload(), "/wallet_key", json!(unknown)),
            404,
            "CIN000007",
        ),
        (
            with(person_payload(), "/person_key", json!(unknown)),
            404,
            "CIN000062",
        ),
        (
            with(
                with(seed_payload(), "/wallet_key", json!(SMALL_WALLET)),
                "/limit_amount_minor",
                json!(100_001),
            ),
            400,
            "CIN000073",
        ),
        (
            with(
                with(seed_payload(), "/wallet_key", json!(CCB_WALLET)),
                "/limit_amount_minor",
                json!(50_001),
            ),
            400,
            "CIN000074",
        ),
    ];

    assert_each_error_is_permanent(&qi, KIND, &cases, order).await;
}

#[tokio::test]
async fn the_limits_are_sent_in_brl_so_exactly_the_wallet_limit_passes() {
    // The small wallet's limit is 1000.00 BRL: 100000 centavos must arrive as 1000.0.
    let qi = start(Setup::default()).await;
    let client = qi.client(KIND, "v2").await;
    let payload = with(seed_payload(), "/wallet_key", json!(SMALL_WALLET));

    let report = client
        .create(&order(with(payload, "/limit_amount_minor", json!(100_000))))
        .await;

    accepted_refs(&report);
}

#[tokio::test]
async fn cin000072_and_cin000067_are_transient_and_the_same_key_then_succeeds() {
    let qi = start(Setup::default()).await;
    let client = qi.client(KIND, "v1").await;
    let mut seen = std::collections::BTreeSet::new();
    fail_every_create(&qi);
    // Each injected failure is CIN000067 or CIN000072 (a seeded coin toss when an owner is
    // sent), so a few orders show both.
    for _ in 0..40 {
        let report = client.create(&order(seed_payload())).await;
        match report.classified {
            Classified::Transient {
                code, rate_limited, ..
            } => {
                assert!(!rate_limited);
                seen.insert(code);
            }
            other => panic!("expected Transient, got {other:?}"),
        }
        if seen.len() == 2 {
            break;
        }
    }
    let order = order(seed_payload());
    let failed = client.create(&order).await;
    set_faults(&qi, FaultConfig::default());

    let retried = client.create(&order).await;

    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["CIN000067", "CIN000072"]
    );
    assert!(matches!(failed.classified, Classified::Transient { .. }));
    accepted_refs(&retried);
    assert_eq!(ledger_card(&qi, &order.idempotency_key).0, 1);
}

#[tokio::test]
async fn a_lost_answer_is_unknown_and_the_resend_it_allows_needs_review_without_a_second_card() {
    let qi = start(Setup::default()).await;
    for signing in VARIANTS {
        // Arrange
        let client = qi.client(KIND, signing).await;
        let order = order(seed_payload());
        lose_every_answer(&qi);

        // Act
        let lost = client.create(&order).await;
        set_faults(&qi, FaultConfig::default());
        let (resolution, lookups) = client.resolve(&order).await;
        let resent = client.create(&order).await;

        // Assert
        assert!(
            matches!(lost.classified, Classified::Unknown { .. }),
            "{signing}: {:?}",
            lost.classified
        );
        assert_eq!(resolution, Resolution::ResendIsSafe);
        assert!(
            lookups.is_empty(),
            "QI has no lookup by request_control_key"
        );
        assert_eq!(resent.http_status, Some(409));
        match &resent.classified {
            Classified::NeedsReview { code, message } => {
                assert_eq!(code, "CIN000099");
                assert!(message.contains(&order.idempotency_key), "{message}");
                assert!(message.contains(WALLET), "{message}");
            }
            other => panic!("expected NeedsReview, got {other:?}"),
        }
        assert_eq!(ledger_card(&qi, &order.idempotency_key).0, 1);
    }
}

#[tokio::test]
async fn when_the_conflict_reveals_the_keys_the_resend_is_accepted_with_the_first_card() {
    let qi = start(Setup {
        options: vec![("conflict_reveals_keys", "true")],
        ..Setup::default()
    })
    .await;
    for signing in VARIANTS {
        let client = qi.client(KIND, signing).await;
        let order = order(person_payload());
        lose_every_answer(&qi);

        let lost = client.create(&order).await;
        set_faults(&qi, FaultConfig::default());
        let resent = client.create(&order).await;

        assert!(matches!(lost.classified, Classified::Unknown { .. }));
        let refs = accepted_refs(&resent);
        let (count, card_key) = ledger_card(&qi, &order.idempotency_key);
        assert_eq!(count, 1);
        assert_eq!(refs["postpaid_card_key"], card_key, "{signing}");
        assert_eq!(resent.provider_code.as_deref(), Some("CIN000099"));
    }
}

#[tokio::test]
async fn a_partial_cin000072_leaves_an_instrument_without_a_card_for_review() {
    let qi = start(Setup {
        options: vec![
            ("partial_cin000072", "true"),
            ("conflict_reveals_keys", "true"),
        ],
        ..Setup::default()
    })
    .await;
    let client = qi.client(KIND, "v2").await;
    let order = order(person_payload());
    fail_every_create(&qi);

    let failed = client.create(&order).await;
    set_faults(&qi, FaultConfig::default());
    let retried = client.create(&order).await;

    assert!(
        matches!(&failed.classified, Classified::Transient { code, .. } if code == "CIN000072"),
        "{:?}",
        failed.classified
    );
    assert!(
        matches!(&retried.classified, Classified::NeedsReview { message, .. } if message.contains("no card")),
        "{:?}",
        retried.classified
    );
    assert_eq!(qi.sandbox.ledger().len(), 0);
}

#[tokio::test]
async fn resolve_with_held_refs_looks_the_card_up_in_its_wallet() {
    let qi = start(Setup::default()).await;
    let client = qi.client(KIND, "v1").await;
    let mut order = order(seed_payload());
    let refs = accepted_refs(&client.create(&order).await);
    order.refs = as_refs(refs.clone());

    let (resolution, reports) = client.resolve(&order).await;
    let mut gone = order.clone();
    gone.refs = as_refs(with(
        refs.clone(),
        "/postpaid_card_key",
        json!("00000000-0000-4000-8000-000000000000"),
    ));
    let (missing, _) = client.resolve(&gone).await;

    assert_eq!(
        resolution,
        Resolution::Found {
            refs: as_refs(refs)
        }
    );
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].kind, CallKind::Lookup);
    assert_eq!(reports[0].http_status, Some(200));
    assert!(
        matches!(&missing, Resolution::Unresolvable { code, .. } if code == "CARD000011"),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_429_is_transient_rate_limited_with_its_retry_after() {
    let qi = start(Setup {
        rate_limit_per_sec: Some(0.2),
        ..Setup::default()
    })
    .await;
    let client = qi.client(KIND, "v1").await;

    let first = client.create(&order(person_payload())).await;
    let limited = client.create(&order(person_payload())).await;

    accepted_refs(&first);
    assert_eq!(limited.http_status, Some(429));
    assert!(
        matches!(
            limited.classified,
            Classified::Transient {
                rate_limited: true,
                retry_after: Some(_),
                ..
            }
        ),
        "{:?}",
        limited.classified
    );
}
