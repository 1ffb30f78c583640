//! QI Tech postpaid create: the seed example (lenient) and the rules table, every error code by
//! its trigger, and the documented texts.

use super::{PROVIDER, WALLET, create_path, key, seed_example, virtual_card};
use crate::support::qitech::{Setup, start};
use crate::support::qitech_sign::Variant;
use serde_json::json;

#[tokio::test]
async fn the_seed_example_is_accepted_in_lenient_mode_with_the_documented_answer() {
    let qi = start(Setup {
        options: vec![("lenient", "true")],
        ..Setup::default()
    })
    .await;

    for variant in [Variant::V1, Variant::V2] {
        let mut body = seed_example();
        body["request_control_key"] = json!(key(variant as u32 + 1));

        let reply = qi
            .call(variant, "POST", &create_path(WALLET), Some(&body))
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
        assert_eq!(
            keys,
            [
                "owner_person_key",
                "payment_instrument_key",
                "postpaid_card_key",
                "request_control_key"
            ]
        );
        assert_eq!(
            reply.json["request_control_key"],
            json!(key(variant as u32 + 1))
        );
    }
}

#[tokio::test]
async fn by_default_the_rules_table_refuses_the_seed_example_and_accepts_its_plastic_form() {
    let qi = start(Setup::default()).await;
    let mut plastic = seed_example();
    plastic["postpaid_card_data"]["card_type"] = json!("plastic");
    plastic["postpaid_card_data"]
        .as_object_mut()
        .unwrap()
        .remove("cvv_rotation_interval_hours");

    let verbatim = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&seed_example()),
        )
        .await;
    let ruled = qi
        .call(Variant::V2, "POST", &create_path(WALLET), Some(&plastic))
        .await;

    assert_eq!(
        (verbatim.status, verbatim.json["code"].as_str()),
        (400, Some("QIT000001"))
    );
    assert_eq!(ruled.status, 201, "{}", ruled.json);
}

#[tokio::test]
async fn a_virtual_card_for_an_existing_person_keeps_that_person_as_owner() {
    let qi = start(Setup::default()).await;

    let reply = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(1))),
        )
        .await;

    assert_eq!(reply.status, 201, "{}", reply.json);
    assert_eq!(
        reply.json["owner_person_key"],
        "f2cad6b4-2a68-4572-99a7-2849c8d6ecf8"
    );
    assert_eq!(qi.ledger_count(PROVIDER, "request_control_key", &key(1)), 1);
}

#[tokio::test]
async fn each_documented_error_code_is_produced_by_its_trigger() {
    let qi = start(Setup::default()).await;
    let with_limit = |n: u32, amount: f64| {
        let mut b = virtual_card(&key(n));
        b["limit_amount"] = json!(amount);
        b
    };
    let mut both = virtual_card(&key(2));
    both["owner"] = seed_example()["owner"].clone();
    let mut unknown_person = virtual_card(&key(3));
    unknown_person["person_key"] = json!("e51070e4-7494-468d-a20e-bf14789fa8ff");
    let cases = [
        (WALLET, both, 400, "QIT000001"),
        (WALLET, unknown_person, 404, "CIN000062"),
        (
            "abeca0d0-a09d-4b3b-a495-40b553422ced",
            virtual_card(&key(4)),
            404,
            "CIN000007",
        ),
        (
            "4a0b8d3f-2c5e-4f90-8b7d-6e3f9c8a2b41",
            with_limit(5, 1000.01),
            400,
            "CIN000073",
        ),
        (
            "5b1c9e40-3d6f-4a01-9c8e-7f4a0d9b3c52",
            with_limit(6, 500.01),
            400,
            "CIN000074",
        ),
    ];

    for (wallet, body, status, code) in cases {
        let reply = qi
            .call(Variant::V2, "POST", &create_path(wallet), Some(&body))
            .await;

        assert_eq!(
            (reply.status, reply.json["code"].as_str()),
            (status, Some(code)),
            "{}",
            reply.json
        );
    }
    assert_eq!(qi.sandbox.ledger().len(), 0);
}

#[tokio::test]
async fn the_documented_wallet_and_person_texts_are_answered() {
    let qi = start(Setup::default()).await;
    let mut unknown_person = virtual_card(&key(1));
    unknown_person["person_key"] = json!("e51070e4-7494-468d-a20e-bf14789fa8ff");

    let person = qi
        .call(
            Variant::V1,
            "POST",
            &create_path(WALLET),
            Some(&unknown_person),
        )
        .await;
    let wallet = qi
        .call(
            Variant::V1,
            "POST",
            &create_path("abeca0d0-a09d-4b3b-a495-40b553422ced"),
            Some(&virtual_card(&key(2))),
        )
        .await;

    assert_eq!(
        person.json["description"],
        "Person not found by person key: e51070e4-7494-468d-a20e-bf14789fa8ff"
    );
    assert_eq!(wallet.json["title"], "Wallet not Found");
    assert_eq!(
        wallet.json["translation"],
        "Carteira com a chave: abeca0d0-a09d-4b3b-a495-40b553422ced não foi encontrado"
    );
}
