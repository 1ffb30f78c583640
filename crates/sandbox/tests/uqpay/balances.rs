//! The issuing balance as the SDKs read it: a SINGLE-mode card's funding shows as a debit, a
//! failed one's return as a credit; card transactions are an empty list; a ledger report is
//! the balance's movements as CSV.

use crate::support::uqpay::{Env, HOLDER, PRODUCT_SINGLE, key};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_single_mode_card_is_a_debit_of_the_issuing_balance() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let (_, before) = env
        .get(&token, "/v1/issuing/balances?page_size=10&page_number=1")
        .await;
    let card = json!({"cardholder_id": HOLDER, "card_product_id": PRODUCT_SINGLE, "card_currency": "USD", "card_limit": 25});
    assert_eq!(
        env.create_raw(&token, &key(), &card).await.0,
        StatusCode::OK
    );

    let (_, after) = env.get(&token, "/v1/issuing/balances").await;
    let (_, moves) = env.get(&token, "/v1/issuing/balances/transactions").await;
    let (status, usd) = env
        .post(
            &token,
            &key(),
            "/v1/issuing/balances",
            &json!({"currency": "USD"}),
        )
        .await;
    let (sgd_status, sgd) = env
        .post(
            &token,
            &key(),
            "/v1/issuing/balances",
            &json!({"currency": "SGD"}),
        )
        .await;

    assert_eq!(before["total_items"], 1);
    assert_eq!(before["data"][0]["currency"], "USD");
    assert_eq!(before["data"][0]["available_balance"], "100000.00");
    assert_eq!(after["data"][0]["available_balance"], "99975.00");
    assert_eq!(moves["total_items"], 1);
    assert_eq!(moves["data"][0]["transaction_type"], "CARD_RECHARGE");
    assert_eq!(moves["data"][0]["amount"], "-25.00");
    assert_eq!(moves["data"][0]["ending_balance"], "99975.00");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(usd["balance_id"], after["data"][0]["balance_id"]);
    assert_eq!(usd["available_balance"], "99975.00");
    assert_eq!(sgd_status, StatusCode::NOT_FOUND);
    assert_eq!(sgd["code"], "balance_not_found");
}

#[tokio::test]
async fn a_failed_single_mode_card_is_credited_back() {
    let env = Env::start(|s| s.failure_rate = 1.0).await;
    let token = env.token().await;
    let card = json!({"cardholder_id": HOLDER, "card_product_id": PRODUCT_SINGLE, "card_currency": "USD", "card_limit": 40});
    env.create_raw(&token, &key(), &card).await;
    env.receiver.wait_for("/webhooks/uqpay", 1).await;

    let (_, moves) = env.get(&token, "/v1/issuing/balances/transactions").await;
    let (_, balance) = env.get(&token, "/v1/issuing/balances").await;

    assert_eq!(moves["total_items"], 2);
    assert_eq!(moves["data"][0]["transaction_type"], "REFUND");
    assert_eq!(moves["data"][0]["amount"], "40.00");
    assert_eq!(moves["data"][0]["ending_balance"], "100000.00");
    assert_eq!(balance["data"][0]["available_balance"], "100000.00");
}

#[tokio::test]
async fn card_transactions_are_an_empty_list_and_an_unknown_one_is_not_found() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;

    let (status, list) = env
        .get(
            &token,
            "/v1/issuing/transactions?page_size=20&page_number=1",
        )
        .await;
    let (missing_status, missing) = env
        .get(
            &token,
            "/v1/issuing/transactions/00000000-0000-4000-8000-000000000000",
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total_items"], 0);
    assert_eq!(list["data"], json!([]));
    assert_eq!(missing_status, StatusCode::NOT_FOUND);
    assert_eq!(missing["code"], "transaction_not_found");
}

#[tokio::test]
async fn a_ledger_report_lists_the_balance_movements_of_its_window_as_csv() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let card = json!({"cardholder_id": HOLDER, "card_product_id": PRODUCT_SINGLE, "card_currency": "USD", "card_limit": 25});
    env.create_raw(&token, &key(), &card).await;
    let report = |kind: &str, start: &str, end: &str| json!({"report_type": kind, "start_time": start, "end_time": end});

    let (status, ledger) = env
        .post(
            &token,
            &key(),
            "/v1/issuing/reports",
            &report(
                "LEDGER",
                "2000-01-01T00:00:00Z",
                "2100-01-01T00:00:00+08:00",
            ),
        )
        .await;
    let (_, before) = env
        .post(
            &token,
            &key(),
            "/v1/issuing/reports",
            &report("LEDGER", "2000-01-01T00:00:00Z", "2000-01-02T00:00:00Z"),
        )
        .await;
    let (bad_status, bad) = env
        .post(
            &token,
            &key(),
            "/v1/issuing/reports",
            &report("FEES", "2000-01-01T00:00:00Z", "2000-01-02T00:00:00Z"),
        )
        .await;
    let download = |id: &Value| {
        env.http
            .get(env.url(&format!("/v1/issuing/reports/{}", id.as_str().unwrap())))
            .header("x-auth-token", format!("Bearer {token}"))
            .send()
    };
    let file = download(&ledger["report_id"]).await.unwrap();
    let file_type = file.headers()["content-type"].to_str().unwrap().to_string();
    let file = file.text().await.unwrap();
    let empty = download(&before["report_id"])
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let unknown = env
        .get(
            &token,
            "/v1/issuing/reports/00000000-0000-4000-8000-000000000000",
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{ledger}");
    assert!(file_type.starts_with("text/csv"), "{file_type}");
    let lines: Vec<&str> = file.lines().collect();
    assert_eq!(lines.len(), 2, "{file}");
    assert!(lines[0].starts_with("transaction_id,transaction_type"));
    assert!(lines[1].contains(",CARD_RECHARGE,USD,-25.00,"), "{file}");
    assert_eq!(empty.lines().count(), 1, "outside the window: {empty}");
    assert_eq!(bad_status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["code"], "invalid_request");
    assert_eq!(unknown.0, StatusCode::NOT_FOUND);
}
