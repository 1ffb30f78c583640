//! QI Tech prepaid lookups: a card by key, an account's cards page by page.

use super::ACCOUNT;
use crate::support::qitech::{Reply, Setup, seed_virtual, start, with_field};
use crate::support::qitech_sign::Variant;
use serde_json::{Value, json};

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
                Some(&with_field(seed_virtual(), "card_name", name)),
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
