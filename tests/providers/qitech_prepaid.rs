//! The QI Tech prepaid client against the in-process sandbox over loopback, in both signing
//! variants: the documented example accepted, every documented error code classified as the
//! table says, a lost answer resolved by listing the account's cards (never a second card), and
//! a 429 slowing the lane.

use crate::support::as_refs;
use crate::support::qitech::{
    QiHarness, Setup, VARIANTS, assert_each_error_is_permanent, new_key, prepaid_error_triggers,
    start,
};
use cardbatch::domain::ProviderKind;
use cardbatch::domain::ProviderOrder;
use cardbatch::providers::{CallKind, CallReport, Classified, Resolution};
use cardbatch::sandbox::FaultConfig;
use serde_json::{Value, json};

const KIND: ProviderKind = ProviderKind::QitechPrepaid;
const PROVIDER: &str = "qitech_prepaid";
const ACCOUNT: &str = "5294ed8d-08fc-4397-b15f-6d9aa07b0041";
const PROGRAM: &str = "7d405c31-ec9a-46c1-8ac8-54bab209bf41";

/// A unique 15-character card_name, shaped like the keys ingest makes.
fn new_card_name() -> String {
    format!("cb{}", &uuid::Uuid::new_v4().simple().to_string()[..13])
}

/// An order as ingest stores it: the seed's documented request without `card_name`.
fn order(payload: Value) -> ProviderOrder {
    ProviderOrder {
        profile: PROVIDER.into(),
        provider: ProviderKind::QitechPrepaid,
        order_ref: "r-1".into(),
        idempotency_key: new_card_name(),
        payload,
        amount_minor: None,
        currency: None,
        refs: Default::default(),
        queued_at_ms: chrono::Utc::now().timestamp_millis(),
    }
}

fn seed_payload() -> Value {
    json!({
        "account_key": ACCOUNT,
        "program_key": PROGRAM,
        "type": "virtual",
        "printed_name": "Aurora Catarina",
        "cvv_rotation_interval_hours": 72
    })
}

fn accepted_card_key(report: &CallReport) -> String {
    match &report.classified {
        Classified::Accepted { refs } => refs.get("card_key").unwrap().to_string(),
        other => panic!("expected Accepted, got {other:?}"),
    }
}

fn set_faults(qi: &QiHarness, faults: FaultConfig) {
    qi.sandbox.set_faults(PROVIDER, faults);
}

#[tokio::test]
async fn the_documented_request_is_accepted_with_its_card_key_in_both_variants() {
    let qi = start(Setup::default()).await;
    for signing in VARIANTS {
        // Arrange
        let client = qi.client(KIND, signing).await;
        let order = order(seed_payload());

        // Act
        let report = client.create(&order).await;

        // Assert
        let card_key = accepted_card_key(&report);
        assert_eq!(report.kind, CallKind::Create);
        assert_eq!(report.http_status, Some(201), "{signing}");
        let entry = qi.sandbox.ledger().get(PROVIDER, &card_key).unwrap();
        assert_eq!(entry.references["card_name"], order.idempotency_key);
        assert_eq!(
            qi.ledger_count(PROVIDER, "card_name", &order.idempotency_key),
            1
        );
    }
}

#[tokio::test]
async fn each_documented_error_code_is_classified_as_the_table_says() {
    let qi = start(Setup::default()).await;

    let cases = prepaid_error_triggers(&seed_payload());

    assert_each_error_is_permanent(&qi, KIND, &cases, order).await;
}

#[tokio::test]
async fn card000009_is_transient_and_a_retry_with_the_same_card_name_makes_one_card() {
    let qi = start(Setup::default()).await;
    let client = qi.client(KIND, "v2").await;
    let order = order(seed_payload());
    set_faults(
        &qi,
        FaultConfig {
            transient_error_rate: 1.0,
            ..FaultConfig::default()
        },
    );

    let failed = client.create(&order).await;
    set_faults(&qi, FaultConfig::default());
    let retried = client.create(&order).await;

    assert!(
        matches!(
            &failed.classified,
            Classified::Transient { code, rate_limited: false, .. } if code == "CARD000009"
        ),
        "{:?}",
        failed.classified
    );
    accepted_card_key(&retried);
    assert_eq!(
        qi.ledger_count(PROVIDER, "card_name", &order.idempotency_key),
        1
    );
}

#[tokio::test]
async fn a_lost_answer_is_unknown_and_resolve_finds_the_same_card_without_a_second_one() {
    let qi = start(Setup::default()).await;
    for signing in VARIANTS {
        // Arrange
        let client = qi.client(KIND, signing).await;
        let order = order(seed_payload());
        set_faults(
            &qi,
            FaultConfig {
                lost_response_rate: 1.0,
                ..FaultConfig::default()
            },
        );

        // Act
        let lost = client.create(&order).await;
        set_faults(&qi, FaultConfig::default());
        let (resolution, reports) = client.resolve(&order).await;

        // Assert
        assert!(
            matches!(lost.classified, Classified::Unknown { .. }),
            "{signing}: {:?}",
            lost.classified
        );
        assert_eq!(lost.http_status, None);
        let entries: Vec<_> = qi
            .sandbox
            .ledger()
            .entries()
            .into_iter()
            .filter(|e| e.references["card_name"] == order.idempotency_key)
            .collect();
        assert_eq!(entries.len(), 1, "exactly one card for the card_name");
        assert_eq!(
            resolution,
            Resolution::Found {
                refs: as_refs(json!({ "card_key": entries[0].card_id }))
            }
        );
        assert!(!reports.is_empty());
        assert!(reports.iter().all(|r| r.kind == CallKind::Lookup));
    }
}

#[tokio::test]
async fn resolve_says_not_found_for_an_order_that_never_reached_qi() {
    let qi = start(Setup::default()).await;
    let client = qi.client(KIND, "v1").await;
    client.create(&order(seed_payload())).await;

    let (resolution, reports) = client.resolve(&order(seed_payload())).await;

    assert_eq!(resolution, Resolution::NotFound);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].http_status, Some(200));
}

#[tokio::test]
async fn resolve_pages_through_the_accounts_cards_to_find_the_card_name() {
    // Arrange: 100 other cards fill the first page, so the order's card is on the second.
    let qi = start(Setup::default()).await;
    let client = qi.client(KIND, "v2").await;
    for _ in 0..100 {
        accepted_card_key(&client.create(&order(seed_payload())).await);
    }
    let order = order(seed_payload());
    let card_key = accepted_card_key(&client.create(&order).await);

    // Act
    let (resolution, reports) = client.resolve(&order).await;

    // Assert
    assert_eq!(
        resolution,
        Resolution::Found {
            refs: as_refs(json!({ "card_key": card_key }))
        }
    );
    assert_eq!(reports.len(), 2, "two pages of 100 were read");
}

#[tokio::test]
async fn resolve_with_a_held_card_key_looks_the_card_up_by_key() {
    let qi = start(Setup::default()).await;
    let client = qi.client(KIND, "v1").await;
    let mut order = order(seed_payload());
    let card_key = accepted_card_key(&client.create(&order).await);
    order.refs = as_refs(json!({ "card_key": card_key }));

    let (resolution, reports) = client.resolve(&order).await;
    let mut unknown = order.clone();
    unknown.refs = as_refs(json!({ "card_key": "00000000-0000-4000-8000-000000000000" }));
    let (missing, _) = client.resolve(&unknown).await;

    assert_eq!(
        resolution,
        Resolution::Found {
            refs: as_refs(json!({ "card_key": card_key }))
        }
    );
    assert_eq!(reports.len(), 1);
    assert!(
        matches!(&missing, Resolution::Unresolvable { code, .. } if code == "CARD000011"),
        "{missing:?}"
    );
}

#[tokio::test]
async fn two_cards_with_the_order_card_name_make_resolve_ask_an_operator() {
    // Arrange: QI prepaid has no idempotency, so a blind re-send makes a second card.
    let qi = start(Setup::default()).await;
    let client = qi.client(KIND, "v2").await;
    let order = order(seed_payload());
    let first = accepted_card_key(&client.create(&order).await);
    let second = accepted_card_key(&client.create(&order).await);

    // Act
    let (resolution, _) = client.resolve(&order).await;

    // Assert
    match resolution {
        Resolution::Unresolvable { code, message } => {
            assert_eq!(code, "duplicate_card_name");
            assert!(
                message.contains(&first) && message.contains(&second),
                "{message}"
            );
        }
        other => panic!("expected Unresolvable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_429_is_transient_rate_limited_with_its_retry_after() {
    let qi = start(Setup {
        rate_limit_per_sec: Some(0.2),
        ..Setup::default()
    })
    .await;
    let client = qi.client(KIND, "v2").await;

    let first = client.create(&order(seed_payload())).await;
    let limited = client.create(&order(seed_payload())).await;

    accepted_card_key(&first);
    assert_eq!(limited.http_status, Some(429));
    match limited.classified {
        Classified::Transient {
            rate_limited,
            retry_after,
            ..
        } => {
            assert!(rate_limited);
            assert!(
                retry_after.is_some_and(|d| d.as_secs() >= 1),
                "{retry_after:?}"
            );
        }
        other => panic!("expected Transient, got {other:?}"),
    }
    assert_eq!(qi.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn an_answer_that_does_not_verify_is_unknown_because_the_card_may_exist() {
    // Arrange: the client trusts another key than the sandbox's.
    let qi = start(Setup::default()).await;
    let stranger = new_key();
    let stranger_pem = String::from_utf8(stranger.public_key_to_pem().unwrap()).unwrap();
    let client = qi.client_verifying_with(KIND, "v1", &stranger_pem).await;
    let order = order(seed_payload());

    // Act
    let report = client.create(&order).await;

    // Assert
    assert!(
        matches!(&report.classified, Classified::Unknown { code, .. } if code == "unverified_answer"),
        "{:?}",
        report.classified
    );
    assert_eq!(
        qi.ledger_count(PROVIDER, "card_name", &order.idempotency_key),
        1,
        "QI did create the card, which is why the answer is unknown, not failed"
    );
}
