//! QI Tech prepaid lifecycle: `created` to `active` (or `canceled`), signed webhooks and their
//! retries and duplicates, and status changes.

use super::{ACCOUNT, PROVIDER};
use crate::support::Receiver;
use crate::support::eventually;
use crate::support::qitech::{HOOK_PATH, Setup, seed_virtual, start, start_with_hooks};
use crate::support::qitech_sign::{API_KEY, Variant, es512_verify, md5_hex};
use cardbatch_sandbox::FaultConfig;
use serde_json::Value;

#[tokio::test]
async fn a_card_becomes_active_and_get_shows_its_status_events() {
    let (hooks, qi) = start_with_hooks().await;
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
async fn webhooks_are_signed_v2_style_and_verify_with_the_sandbox_public_key() {
    let (hooks, qi) = start_with_hooks().await;

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
    let hooks = Receiver::start().await;
    hooks.fail_next(2);
    let qi = start(Setup {
        webhook_url: Some(hooks.url(HOOK_PATH)),
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
    eventually("the retries", || {
        qi.sandbox.stats().get(PROVIDER, "webhooks_retried") >= 2
    })
    .await;
}

#[tokio::test]
async fn with_a_failure_rate_of_one_the_card_is_canceled_instead_of_activated() {
    let hooks = Receiver::start().await;
    let qi = start(Setup {
        webhook_url: Some(hooks.url(HOOK_PATH)),
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
    let (hooks, qi) = start_with_hooks().await;
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
    let (hooks, qi) = start_with_hooks().await;
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

#[tokio::test]
async fn an_active_cards_pci_data_ends_with_its_last_four_and_a_blocked_one_has_none() {
    let (hooks, qi) = start_with_hooks().await;
    let created = qi
        .call(Variant::V2, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;
    let card_key = created.json["card_key"].as_str().unwrap().to_string();
    let pci = format!("/prepaid/card/{card_key}/pci");
    let path = format!("/prepaid/card/{card_key}");
    // The creation notice, then the change to active.
    hooks.next().await;
    hooks.next().await;

    let data = qi.call(Variant::V1, "GET", &pci, None).await;
    let card = qi.call(Variant::V2, "GET", &path, None).await;
    let blocked = qi.set_status(Variant::V2, &path, "blocked").await;
    let blocked_pci = qi.call(Variant::V2, "GET", &pci, None).await;
    let unknown = qi
        .call(
            Variant::V2,
            "GET",
            "/prepaid/card/05fd3654-1f5d-479d-ade5-64239fdf214d/pci",
            None,
        )
        .await;

    assert_eq!(blocked.status, 200, "{}", blocked.json);
    assert_eq!(
        (blocked_pci.status, blocked_pci.json["code"].as_str()),
        (400, Some("CARD000012")),
        "{}",
        blocked_pci.json
    );
    assert_eq!(data.status, 200, "{}", data.json);
    let number = data.json["card_number"].as_str().unwrap();
    let last4 = card.json["last_four_digits"].as_str().unwrap();
    assert_eq!(number.len(), 16);
    assert!(number.ends_with(last4), "{number} / {last4}");
    assert_eq!(data.json["cvv"].as_str().unwrap().len(), 3);
    assert_eq!(data.json["printed_name"], "Aurora Catarina");
    let expiry = data.json["expiration_date"].as_str().unwrap();
    assert!(
        expiry.len() == 5 && expiry.as_bytes()[2] == b'/',
        "{expiry}"
    );
    assert_eq!(
        (unknown.status, unknown.json["code"].as_str()),
        (404, Some("CARD000011"))
    );
}
