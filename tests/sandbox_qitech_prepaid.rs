//! QI Tech prepaid simulator over real HTTP with hand-built, openssl-signed requests: the
//! documented examples, every error code by its trigger, no idempotency, lookups, lifecycle and
//! signed webhooks.

mod qitech_support;

use cardbatch::sandbox::FaultConfig;
use qitech_support::*;
use serde_json::{Value, json};

const PROVIDER: &str = "qitech_prepaid";
const ACCOUNT: &str = "5294ed8d-08fc-4397-b15f-6d9aa07b0041";

/// The seed's documented request.
fn seed_virtual() -> Value {
    json!({
        "account_key": ACCOUNT,
        "program_key": "7d405c31-ec9a-46c1-8ac8-54bab209bf41",
        "type": "virtual",
        "card_name": "ecommerce",
        "printed_name": "Aurora Catarina",
        "cvv_rotation_interval_hours": 72
    })
}

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

fn with(mut body: Value, field: &str, value: &str) -> Value {
    body[field] = json!(value);
    body
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

    let holder = with(
        seed_virtual(),
        "account_key",
        "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d",
    );
    let reply = qi
        .call(Variant::V1, "POST", "/prepaid/card", Some(&holder))
        .await;
    let person = with(
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

#[tokio::test]
async fn a_card_becomes_active_and_get_shows_its_status_events() {
    let mut hooks = receiver(0).await;
    let qi = start(Setup {
        webhook_url: Some(hooks.url.clone()),
        ..Setup::default()
    })
    .await;
    let created = qi
        .call(Variant::V2, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;
    let card_key = created.json["card_key"].as_str().unwrap().to_string();
    // The creation notice, then the change to active.
    hooks.next().await;
    hooks.next().await;

    let card = qi
        .call(
            Variant::V1,
            "GET",
            &format!("/prepaid/card/{card_key}"),
            None,
        )
        .await;

    assert_eq!(card.status, 200, "{}", card.json);
    assert_eq!(card.json["status"], "active");
    assert_eq!(card.json["card_name"], "ecommerce");
    assert_eq!(card.json["cvv_rotation_interval_hours"], 72);
    assert_eq!(card.json["brand"], "visa");
    assert_eq!(card.json["last_four_digits"].as_str().unwrap().len(), 4);
    let events: Vec<&str> = card.json["status_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["created", "active"]);
    assert_eq!(
        qi.sandbox.ledger().get(PROVIDER, &card_key).unwrap().status,
        "active"
    );
}

#[tokio::test]
async fn an_unknown_card_key_gets_card000011() {
    let qi = start(Setup::default()).await;

    let reply = qi
        .call(
            Variant::V2,
            "GET",
            "/prepaid/card/05fd3654-1f5d-479d-ade5-64239fdf214d",
            None,
        )
        .await;

    assert_eq!(
        (reply.status, reply.json["code"].as_str()),
        (404, Some("CARD000011"))
    );
}

#[tokio::test]
async fn the_list_paginates_an_accounts_cards() {
    let qi = start(Setup::default()).await;
    for name in ["one", "two", "three"] {
        let reply = qi
            .call(
                Variant::V2,
                "POST",
                "/prepaid/card",
                Some(&with(seed_virtual(), "card_name", name)),
            )
            .await;
        assert_eq!(reply.status, 201);
    }

    let first = qi
        .call(
            Variant::V2,
            "GET",
            &format!("/prepaid/card?account_key={ACCOUNT}&size=2&page=0"),
            None,
        )
        .await;
    let last = qi
        .call(
            Variant::V1,
            "GET",
            &format!("/prepaid/card?account_key={ACCOUNT}&size=2&page=1"),
            None,
        )
        .await;

    let names = |reply: &Reply| -> Vec<String> {
        reply.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["card_name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&first), ["one", "two"]);
    assert_eq!(
        first.json["pagination"],
        json!({"current_page": 0, "rows_per_page": 2, "next_page": 1})
    );
    assert_eq!(names(&last), ["three"]);
    assert_eq!(last.json["pagination"]["next_page"], Value::Null);
}

#[tokio::test]
async fn listing_an_unknown_account_gets_card000006_and_a_missing_account_key_qit000001() {
    let qi = start(Setup::default()).await;

    let unknown = qi
        .call(
            Variant::V2,
            "GET",
            "/prepaid/card?account_key=00000000-0000-4000-8000-000000000000",
            None,
        )
        .await;
    let missing = qi
        .call(Variant::V2, "GET", "/prepaid/card?size=2", None)
        .await;

    assert_eq!(unknown.json["code"], "CARD000006");
    assert_eq!(missing.json["code"], "QIT000001");
}

#[tokio::test]
async fn webhooks_are_signed_v2_style_and_verify_with_the_sandbox_public_key() {
    let mut hooks = receiver(0).await;
    let qi = start(Setup {
        webhook_url: Some(hooks.url.clone()),
        ..Setup::default()
    })
    .await;

    let created = qi
        .call(Variant::V2, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;
    let notice = hooks.next().await;
    let change = hooks.next().await;

    for hook in [&notice, &change] {
        let token = hook.headers["authorization"].to_str().unwrap();
        let claims = es512_verify(&qi.sandbox_key, token).expect("the webhook token verifies");
        assert_eq!(claims["payload_md5"], md5_hex(&hook.body));
        assert_eq!(claims["method"], "POST");
        assert_eq!(claims["uri"], HOOK_PATH);
        assert_eq!(hook.headers["api-client-key"], API_KEY);
    }
    let notice: Value = serde_json::from_slice(&notice.body).unwrap();
    let change: Value = serde_json::from_slice(&change.body).unwrap();
    assert_eq!(notice["webhook_type"], "baas.prepaid_card.card");
    assert_eq!(notice["data"]["card_key"], created.json["card_key"]);
    assert_eq!(notice["data"]["status"], "created");
    assert_eq!(notice["data"]["account_key"], ACCOUNT);
    assert_eq!(change["data"]["status"], "active");
    assert_eq!(change["data"]["old_status"], "created");
}

#[tokio::test]
async fn a_webhook_answered_500_is_retried() {
    // Arrange: the receiver fails its first two answers.
    let mut hooks = receiver(2).await;
    let qi = start(Setup {
        webhook_url: Some(hooks.url.clone()),
        ..Setup::default()
    })
    .await;

    // Act
    qi.call(Variant::V2, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;
    let mut bodies = Vec::new();
    for _ in 0..4 {
        bodies.push(serde_json::from_slice::<Value>(&hooks.next().await.body).unwrap());
    }

    // Assert: the first two arrivals were answered 500, and each came again later.
    assert!(bodies[1..].contains(&bodies[0]), "{bodies:?}");
    assert!(bodies[2..].contains(&bodies[1]), "{bodies:?}");
    assert_ne!(
        bodies[0], bodies[1],
        "the two webhooks are the creation and the change"
    );
    eventually(|| qi.sandbox.stats().get(PROVIDER, "webhooks_retried") >= 2).await;
}

#[tokio::test]
async fn with_a_failure_rate_of_one_the_card_is_canceled_instead_of_activated() {
    let mut hooks = receiver(0).await;
    let qi = start(Setup {
        webhook_url: Some(hooks.url.clone()),
        failure_rate: 1.0,
        ..Setup::default()
    })
    .await;

    qi.call(Variant::V2, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;
    hooks.next().await;
    let change: Value = serde_json::from_slice(&hooks.next().await.body).unwrap();

    assert_eq!(change["data"]["status"], "canceled");
    assert_eq!(change["data"]["old_status"], "created");
}

#[tokio::test]
async fn with_the_duplicate_fault_every_webhook_arrives_twice() {
    let mut hooks = receiver(0).await;
    let qi = start(Setup {
        webhook_url: Some(hooks.url.clone()),
        ..Setup::default()
    })
    .await;
    qi.sandbox.set_faults(
        PROVIDER,
        FaultConfig {
            webhook_duplicate_rate: 1.0,
            ..FaultConfig::default()
        },
    );

    qi.call(Variant::V2, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let body: Value = serde_json::from_slice(&hooks.next().await.body).unwrap();
        statuses.push(body["data"]["status"].as_str().unwrap().to_string());
    }

    statuses.sort();
    assert_eq!(statuses, ["active", "active", "created", "created"]);
}

#[tokio::test]
async fn a_status_change_is_answered_notified_and_terminated_cards_refuse_more() {
    // Arrange: an active card.
    let mut hooks = receiver(0).await;
    let qi = start(Setup {
        webhook_url: Some(hooks.url.clone()),
        ..Setup::default()
    })
    .await;
    let created = qi
        .call(Variant::V2, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;
    let path = format!(
        "/prepaid/card/{}",
        created.json["card_key"].as_str().unwrap()
    );
    hooks.next().await;
    hooks.next().await;

    // Act
    let blocked = qi.set_status(Variant::V1, &path, "blocked").await;
    let hook: Value = serde_json::from_slice(&hooks.next().await.body).unwrap();
    let not_allowed = qi.set_status(Variant::V2, &path, "created").await;
    let canceled = qi.set_status(Variant::V2, &path, "canceled").await;
    let after_cancel = qi.set_status(Variant::V2, &path, "active").await;
    let unknown_status = qi.set_status(Variant::V2, &path, "frozen").await;

    // Assert
    assert_eq!(blocked.status, 200, "{}", blocked.json);
    assert_eq!(blocked.json["status"], "blocked");
    assert_eq!(
        (
            hook["data"]["old_status"].as_str(),
            hook["data"]["status"].as_str()
        ),
        (Some("active"), Some("blocked"))
    );
    assert_eq!(
        (not_allowed.status, not_allowed.json["code"].as_str()),
        (406, Some("CARD000013"))
    );
    assert_eq!(canceled.json["status"], "canceled");
    assert_eq!(
        (after_cancel.status, after_cancel.json["code"].as_str()),
        (406, Some("CARD000014"))
    );
    assert_eq!(unknown_status.json["code"], "QIT000001");
    assert_eq!(
        qi.sandbox
            .ledger()
            .get(PROVIDER, created.json["card_key"].as_str().unwrap())
            .unwrap()
            .status,
        "canceled"
    );
}
