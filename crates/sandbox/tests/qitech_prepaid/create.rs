//! QI Tech prepaid create: the documented requests and answer, every error code by its
//! trigger, injected faults, and no idempotency (a re-post makes a second card).

use super::{ACCOUNT, PROVIDER};
use crate::support::qitech::{Setup, prepaid_error_triggers, seed_virtual, start, with_field};
use crate::support::qitech_sign::{API_KEY, Variant, v2_request};
use cardbatch_sandbox::FaultConfig;
use serde_json::{Value, json};

/// The physical-card page's shape.
fn plastic() -> Value {
    json!({
        "account_key": ACCOUNT,
        "program_key": "7d405c31-ec9a-46c1-8ac8-54bab209bf41",
        "type": "plastic",
        "card_name": "fisico",
        "printed_name": "Aurora Catarina",
        "contactless_enabled": true,
        "delivery_address": {
            "address": "Rua das Flores", "neighborhood": "Centro", "zip_code": "01234567",
            "city": "São Paulo", "state": "SP", "number": 123, "complement": "Apto 1",
            "address_type": "residential"
        }
    })
}

#[tokio::test]
async fn the_documented_virtual_request_gets_201_in_the_documented_shape_in_both_variants() {
    let qi = start(Setup::default()).await;

    for variant in [Variant::V1, Variant::V2] {
        let reply = qi
            .call(variant, "POST", "/prepaid/card", Some(&seed_virtual()))
            .await;

        assert_eq!(reply.status, 201, "{variant:?}: {}", reply.json);
        let mut keys: Vec<&str> = reply
            .json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["card_key", "created_at", "status"]);
        assert_eq!(reply.json["status"], "created");
        assert!(
            chrono::DateTime::parse_from_rfc3339(reply.json["created_at"].as_str().unwrap())
                .is_ok()
        );
    }
}

#[tokio::test]
async fn a_plastic_card_request_is_accepted() {
    let qi = start(Setup::default()).await;

    let reply = qi
        .call(Variant::V2, "POST", "/prepaid/card", Some(&plastic()))
        .await;

    assert_eq!(reply.status, 201, "{}", reply.json);
}

#[tokio::test]
async fn each_documented_error_code_is_produced_by_its_trigger() {
    let qi = start(Setup::default()).await;
    let cases = prepaid_error_triggers(&seed_virtual());

    for (body, status, code) in cases {
        let reply = qi
            .call(Variant::V2, "POST", "/prepaid/card", Some(&body))
            .await;

        assert_eq!(
            (reply.status, reply.json["code"].as_str()),
            (status, Some(code)),
            "{}",
            reply.json
        );
    }
    assert_eq!(qi.sandbox.ledger().len(), 0, "no error created a card");
}

#[tokio::test]
async fn the_documented_card000008_and_card000007_texts_are_answered() {
    let qi = start(Setup::default()).await;

    let holder = with_field(
        seed_virtual(),
        "account_key",
        "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d",
    );
    let reply = qi
        .call(Variant::V1, "POST", "/prepaid/card", Some(&holder))
        .await;
    let person = with_field(
        seed_virtual(),
        "program_key",
        "bf74df61-557a-45cb-914f-41e127a6e18c",
    );
    let seed_error = qi
        .call(Variant::V2, "POST", "/prepaid/card", Some(&person))
        .await;

    assert_eq!(
        reply.json["description"],
        "The Card Holder with the status blocked is invalid for the operation."
    );
    assert_eq!(
        seed_error.json,
        json!({
            "title": "Bad Request",
            "description": "The type of person is invalid for this program, please try another.",
            "translation": "Invalid Person",
            "code": "CARD000007",
            "extra_fields": {}
        })
    );
}

#[tokio::test]
async fn an_injected_transient_fault_answers_card000009_and_creates_nothing() {
    let qi = start(Setup::default()).await;
    qi.sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            transient_error_rate: 1.0,
            ..FaultConfig::default()
        },
    );

    let reply = qi
        .call(Variant::V2, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;

    assert_eq!(
        (reply.status, reply.json["code"].as_str()),
        (400, Some("CARD000009"))
    );
    assert_eq!(qi.sandbox.ledger().len(), 0);
    assert_eq!(qi.sandbox.stats().get(PROVIDER, "faults_transient"), 1);
}

#[tokio::test]
async fn a_re_post_creates_a_second_card_and_the_ledger_shows_two_for_the_card_name() {
    let qi = start(Setup::default()).await;

    let first = qi
        .call(Variant::V2, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;
    let second = qi
        .call(Variant::V2, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;

    assert_eq!((first.status, second.status), (201, 201));
    assert_ne!(first.json["card_key"], second.json["card_key"]);
    assert_eq!(qi.ledger_count(PROVIDER, "card_name", "ecommerce"), 2);
    let snapshot = qi.sandbox.ledger().snapshot(Some(PROVIDER));
    assert!(
        snapshot
            .duplicates
            .iter()
            .any(|d| d.name == "card_name" && d.value == "ecommerce" && d.cards == 2)
    );
}

#[tokio::test]
async fn a_lost_response_closes_the_connection_but_the_card_is_in_the_ledger() {
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
        "/qitech/prepaid/card",
        Some(&seed_virtual()),
    );

    let outcome = qi.send(req).await;

    assert!(outcome.is_err(), "no answer is expected");
    assert_eq!(qi.ledger_count(PROVIDER, "card_name", "ecommerce"), 1);
}
