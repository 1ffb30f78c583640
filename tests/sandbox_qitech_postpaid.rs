//! QI Tech postpaid simulator over real HTTP with hand-built, openssl-signed requests: the
//! documented example, the rules table, every error code by its trigger, request_control_key
//! idempotency (409 CIN000099), injected transient faults, the card lookup and its webhook.

mod qitech_support;

use cardbatch::sandbox::FaultConfig;
use qitech_support::*;
use serde_json::{Value, json};

const PROVIDER: &str = "qitech_postpaid";
const WALLET: &str = "3f9a7c2e-1b4d-4e8f-9a6c-5d2e8b7f1a30";

fn create_path(wallet: &str) -> String {
    format!("/wallet/{wallet}/payment_instrument")
}

fn address() -> Value {
    json!({
        "street": "Rua das Flores", "number": "123", "neighborhood": "Centro",
        "postal_code": "01234567", "city": "São Paulo", "state": "SP", "complement": "Apto 1"
    })
}

/// The seed's documented example, verbatim.
fn seed_example() -> Value {
    json!({
        "request_control_key": "f7947b9d-9be3-49d8-aca2-4b3249e5fa65",
        "owner": {
            "person_type": "natural", "name": "João Silva", "document_number": "12345678901",
            "birthdate": "1990-01-01", "email": "joao.silva@email.com",
            "phone": {"number": "99999999", "area_code": "11", "country_code": "55"},
            "address": address()
        },
        "payment_instrument_type": "postpaid_card",
        "limit_amount": 2000.00,
        "postpaid_card_data": {
            "card_type": "physical", "card_name": "Cartão Principal", "printed_name": "JOAO SILVA",
            "cvv_rotation_interval_hours": 24, "contactless_enabled": true, "delivery_address": address()
        }
    })
}

/// A virtual card for an existing person, following the rules table.
fn virtual_card(request_control_key: &str) -> Value {
    json!({
        "request_control_key": request_control_key,
        "person_key": "f2cad6b4-2a68-4572-99a7-2849c8d6ecf8",
        "payment_instrument_type": "postpaid_card",
        "postpaid_card_data": {
            "card_type": "virtual", "card_name": "Cartão Virtual", "printed_name": "JOAO SILVA",
            "cvv_rotation_interval_hours": 24
        }
    })
}

fn key(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

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

#[tokio::test]
async fn the_card_becomes_active_with_a_signed_pospaid_webhook_and_get_shows_it() {
    let mut hooks = receiver(0).await;
    let qi = start(Setup {
        webhook_url: Some(hooks.url.clone()),
        ..Setup::default()
    })
    .await;
    let created = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(13))),
        )
        .await;
    let card_key = created.json["postpaid_card_key"]
        .as_str()
        .unwrap()
        .to_string();

    let hook = hooks.next().await;
    let card = qi
        .call(
            Variant::V1,
            "GET",
            &format!("/wallet/{WALLET}/card/{card_key}"),
            None,
        )
        .await;

    let claims = es512_verify(
        &qi.sandbox_key,
        hook.headers["authorization"].to_str().unwrap(),
    )
    .unwrap();
    assert_eq!(claims["payload_md5"], md5_hex(&hook.body));
    let body: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(body["webhook_type"], "baas.pospaid_card.card");
    assert_eq!(body["data"]["card_key"], card_key.as_str());
    assert_eq!(
        (
            body["data"]["old_status"].as_str(),
            body["data"]["status"].as_str()
        ),
        (Some("created"), Some("active"))
    );
    assert_eq!(card.status, 200, "{}", card.json);
    assert_eq!(card.json["status"], "active");
    assert_eq!(card.json["type"], "virtual");
    assert_eq!(card.json["card_name"], "Cartão Virtual");
    assert_eq!(
        card.json["payment_instrument_key"],
        created.json["payment_instrument_key"]
    );
}

#[tokio::test]
async fn a_card_looked_up_under_another_wallet_gets_card000011() {
    let qi = start(Setup::default()).await;
    let created = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(14))),
        )
        .await;
    let card_key = created.json["postpaid_card_key"].as_str().unwrap();

    let elsewhere = qi
        .call(
            Variant::V2,
            "GET",
            &format!("/wallet/4a0b8d3f-2c5e-4f90-8b7d-6e3f9c8a2b41/card/{card_key}"),
            None,
        )
        .await;
    let no_wallet = qi
        .call(
            Variant::V2,
            "GET",
            &format!("/wallet/abeca0d0-a09d-4b3b-a495-40b553422ced/card/{card_key}"),
            None,
        )
        .await;

    assert_eq!(
        (elsewhere.status, elsewhere.json["code"].as_str()),
        (404, Some("CARD000011"))
    );
    assert_eq!(no_wallet.json["code"], "CIN000007");
}

#[tokio::test]
async fn a_postpaid_card_can_be_blocked_and_unblocked() {
    let mut hooks = receiver(0).await;
    let qi = start(Setup {
        webhook_url: Some(hooks.url.clone()),
        ..Setup::default()
    })
    .await;
    let created = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(15))),
        )
        .await;
    let path = format!(
        "/wallet/{WALLET}/card/{}",
        created.json["postpaid_card_key"].as_str().unwrap()
    );
    hooks.next().await;

    let blocked = qi.set_status(Variant::V2, &path, "blocked").await;
    let unblocked = qi.set_status(Variant::V1, &path, "active").await;
    let embossing = qi.set_status(Variant::V2, &path, "embossing").await;
    // Two changes, two webhooks; deliveries run concurrently, so either may come first.
    let mut changes = Vec::new();
    for _ in 0..2 {
        let hook: Value = serde_json::from_slice(&hooks.next().await.body).unwrap();
        assert_eq!(hook["webhook_type"], "baas.pospaid_card.card");
        let (old, new) = (&hook["data"]["old_status"], &hook["data"]["status"]);
        changes.push(format!(
            "{}->{}",
            old.as_str().unwrap(),
            new.as_str().unwrap()
        ));
    }

    assert_eq!(blocked.json["status"], "blocked");
    assert_eq!(unblocked.json["status"], "active");
    assert_eq!(embossing.json["code"], "CARD000013");
    changes.sort();
    assert_eq!(changes, ["active->blocked", "blocked->active"]);
}
