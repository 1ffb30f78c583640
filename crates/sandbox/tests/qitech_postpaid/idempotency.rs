//! QI Tech postpaid `request_control_key`: 409 CIN000099 on reuse (with the original keys under
//! a flag), scoped per wallet, and what injected faults and lost answers do to it.

use super::{PROVIDER, WALLET, create_path, key, seed_example, virtual_card};
use crate::support::qitech::{Setup, start};
use crate::support::qitech_sign::{API_KEY, Variant, v2_request};
use cardbatch_sandbox::FaultConfig;
use serde_json::{Value, json};

#[tokio::test]
async fn a_reused_request_control_key_gets_409_cin000099_and_creates_nothing() {
    let qi = start(Setup::default()).await;

    let first = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(7))),
        )
        .await;
    let again = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(7))),
        )
        .await;

    assert_eq!(first.status, 201);
    assert_eq!(
        (again.status, again.json["code"].as_str()),
        (409, Some("CIN000099"))
    );
    assert_eq!(
        again.json["description"],
        "Request control key already exists."
    );
    assert_eq!(again.json["extra_fields"], json!({}));
    assert_eq!(qi.ledger_count(PROVIDER, "request_control_key", &key(7)), 1);
}

#[tokio::test]
async fn with_the_flag_a_conflict_carries_the_original_keys() {
    let qi = start(Setup {
        options: vec![("conflict_reveals_keys", "true")],
        ..Setup::default()
    })
    .await;

    let first = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(8))),
        )
        .await;
    let again = qi
        .call(
            Variant::V1,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(8))),
        )
        .await;

    assert_eq!(again.status, 409);
    assert_eq!(
        again.json["extra_fields"]["payment_instrument_key"],
        first.json["payment_instrument_key"]
    );
    assert_eq!(
        again.json["extra_fields"]["postpaid_card_key"],
        first.json["postpaid_card_key"]
    );
}

#[tokio::test]
async fn a_key_is_scoped_to_its_wallet() {
    let qi = start(Setup::default()).await;

    let first = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(9))),
        )
        .await;
    let other = qi
        .call(
            Variant::V2,
            "POST",
            &create_path("4a0b8d3f-2c5e-4f90-8b7d-6e3f9c8a2b41"),
            Some(&virtual_card(&key(9))),
        )
        .await;

    assert_eq!((first.status, other.status), (201, 201));
}

#[tokio::test]
async fn an_injected_cin000072_leaves_the_key_free_for_a_retry() {
    let qi = start(Setup::default()).await;
    qi.sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            transient_error_rate: 1.0,
            ..FaultConfig::default()
        },
    );

    let failed = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(10))),
        )
        .await;
    qi.sandbox.set_faults(PROVIDER, FaultConfig::default());
    let retried = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(10))),
        )
        .await;

    // With a person_key there is no owner to create, so the fault is the card service's.
    assert_eq!(
        (failed.status, failed.json["code"].as_str()),
        (400, Some("CIN000072"))
    );
    assert_eq!(retried.status, 201, "{}", retried.json);
    assert_eq!(
        qi.ledger_count(PROVIDER, "request_control_key", &key(10)),
        1
    );
}

#[tokio::test]
async fn injected_faults_with_an_owner_are_cin000067_or_cin000072() {
    let qi = start(Setup {
        options: vec![("lenient", "true")],
        ..Setup::default()
    })
    .await;
    qi.sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            transient_error_rate: 1.0,
            ..FaultConfig::default()
        },
    );
    let mut codes = std::collections::BTreeSet::new();

    for n in 0..40 {
        let mut body = seed_example();
        body["request_control_key"] = json!(key(100 + n));
        let reply = qi
            .call(Variant::V2, "POST", &create_path(WALLET), Some(&body))
            .await;
        assert_eq!(reply.status, 400);
        codes.insert(reply.json["code"].as_str().unwrap().to_string());
    }

    assert_eq!(
        codes.into_iter().collect::<Vec<_>>(),
        ["CIN000067", "CIN000072"]
    );
    assert_eq!(qi.sandbox.ledger().len(), 0);
}

#[tokio::test]
async fn a_partial_cin000072_uses_up_the_key_with_no_card() {
    let qi = start(Setup {
        options: vec![
            ("partial_cin000072", "true"),
            ("conflict_reveals_keys", "true"),
        ],
        ..Setup::default()
    })
    .await;
    qi.sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            transient_error_rate: 1.0,
            ..FaultConfig::default()
        },
    );

    let failed = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(11))),
        )
        .await;
    qi.sandbox.set_faults(PROVIDER, FaultConfig::default());
    let retried = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(11))),
        )
        .await;

    assert_eq!(failed.json["code"], "CIN000072");
    assert_eq!(retried.json["code"], "CIN000099");
    assert!(retried.json["extra_fields"]["payment_instrument_key"].is_string());
    assert_eq!(
        retried.json["extra_fields"]["postpaid_card_key"],
        Value::Null
    );
    assert_eq!(qi.sandbox.ledger().len(), 0, "the instrument has no card");
}

#[tokio::test]
async fn a_lost_response_leaves_the_card_in_the_ledger_and_the_retry_gets_409() {
    let qi = start(Setup::default()).await;
    qi.sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            lost_response_rate: 1.0,
            ..FaultConfig::default()
        },
    );
    let req = v2_request(
        &qi.client_key,
        API_KEY,
        "POST",
        &format!("/qitech{}", create_path(WALLET)),
        Some(&virtual_card(&key(12))),
    );

    let lost = qi.send(req).await;
    qi.sandbox.set_faults(PROVIDER, FaultConfig::default());
    let retried = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(12))),
        )
        .await;

    assert!(lost.is_err(), "no answer is expected");
    assert_eq!(
        qi.ledger_count(PROVIDER, "request_control_key", &key(12)),
        1
    );
    assert_eq!(retried.json["code"], "CIN000099");
}
