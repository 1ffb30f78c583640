//! QI Tech postpaid card: active with a signed webhook, looked up under its wallet only, and
//! blocked and unblocked.

use super::{WALLET, create_path, key, virtual_card};
use crate::support::qitech::{Setup, start, start_with_hooks};
use crate::support::qitech_sign::{Variant, es512_verify, md5_hex};
use serde_json::Value;

#[tokio::test]
async fn the_card_becomes_active_with_a_signed_pospaid_webhook_and_get_shows_it() {
    let (hooks, qi) = start_with_hooks().await;
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
    let (hooks, qi) = start_with_hooks().await;
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

#[tokio::test]
async fn an_active_postpaid_cards_pci_data_is_read_under_its_wallet() {
    let (hooks, qi) = start_with_hooks().await;
    let created = qi
        .call(
            Variant::V2,
            "POST",
            &create_path(WALLET),
            Some(&virtual_card(&key(14))),
        )
        .await;
    let card_key = created.json["postpaid_card_key"]
        .as_str()
        .unwrap()
        .to_string();
    // Active once its webhook came.
    hooks.next().await;

    let data = qi
        .call(
            Variant::V2,
            "GET",
            &format!("/wallet/{WALLET}/card/{card_key}/pci"),
            None,
        )
        .await;
    let card = qi
        .call(
            Variant::V2,
            "GET",
            &format!("/wallet/{WALLET}/card/{card_key}"),
            None,
        )
        .await;

    assert_eq!(data.status, 200, "{}", data.json);
    let number = data.json["card_number"].as_str().unwrap();
    assert!(number.ends_with(card.json["last_four_digits"].as_str().unwrap()));
    assert_eq!(data.json["printed_name"], card.json["printed_name"]);
}
