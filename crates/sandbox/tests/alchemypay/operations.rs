//! Alchemy Pay's card operations after creation: deposit, refund, cancel and the trade records,
//! with the merchant balance they move (seen through 300004 on a small balance), their orderNo
//! idempotency, the access key's ownership of its cards, and their signature.

use crate::support::alchemypay::{
    CANCEL, CREATE, DEPOSIT, Env, INFO, REFUND, SECRET, Signing, TRADES, assert_error, now_ms,
};
use cardbatch_sandbox::fixtures::DEFAULT_FIXTURES;
use cardbatch_sandbox::{ProviderSettings, SandboxConfig};
use serde_json::{Value, json};
use std::collections::HashSet;

/// A card the lifecycle made `ACTIVE`, as its `CREATE_CARD` callback shows it.
struct Issued {
    id: String,
    number: String,
    last4: String,
}

/// Creates a card with the seed's 1000-cent deposit and waits for its `CREATE_CARD` callback.
async fn active_card(env: &Env, order_no: &str) -> Issued {
    let before = env.merchant.received_on("/callback").len();
    let created = env.post(CREATE, &env.create_body(order_no)).await;
    assert_eq!(created["code"], "0", "{created}");
    let event = env
        .merchant
        .wait_for("/callback", before + 1)
        .await
        .iter()
        .map(|c| c.json())
        .find(|e| e["data"]["orderNo"] == order_no)
        .expect("the card's callback");
    assert_eq!(event["data"]["status"], "ACTIVE", "{event}");
    let data = &event["data"];
    Issued {
        id: data["cardId"].as_str().unwrap().to_string(),
        number: data["number"].as_str().unwrap().to_string(),
        last4: data["last4"].as_str().unwrap().to_string(),
    }
}

/// A sandbox whose merchant balance is `cents` (the directory must outlive the sandbox).
async fn with_merchant_balance(
    cents: i64,
    tweak: impl FnOnce(&mut ProviderSettings, &mut SandboxConfig),
) -> (Env, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("fixtures.toml");
    let small = DEFAULT_FIXTURES.replace(
        "merchant_balance_cents = 100000000000",
        &format!("merchant_balance_cents = {cents}"),
    );
    assert_ne!(small, DEFAULT_FIXTURES);
    std::fs::write(&fixtures, small).unwrap();
    let env = Env::start(|s, c| {
        c.fixtures = Some(fixtures.clone());
        tweak(s, c);
    })
    .await;
    (env, dir)
}

fn deposit(card: &Issued, amount: Value, order_no: &str) -> Value {
    json!({"cardId": card.id, "amount": amount, "payCurrency": "USD", "orderNo": order_no})
}

fn refund(card: &Issued, amount: Value, order_no: &str) -> Value {
    json!({"cardId": card.id, "amount": amount, "orderNo": order_no})
}

async fn card_info(env: &Env, card: &Issued) -> Value {
    let info = env.post(INFO, &json!({"cardId": card.id})).await;
    assert_eq!(info["code"], "0", "{info}");
    info["model"]["card"].clone()
}

#[tokio::test]
async fn a_deposit_tops_up_an_active_card_from_the_merchant_balance() {
    // Arrange: 2500 cents, 1000 of them on the new card.
    let (env, _dir) = with_merchant_balance(2_500, |_, _| {}).await;
    let card = active_card(&env, "card-1").await;

    // Act
    let answer = env
        .post(DEPOSIT, &deposit(&card, json!("1000"), "d-1"))
        .await;

    // Assert: the card has 2000, and the merchant exactly 500 left.
    assert_eq!(answer["code"], "0", "{answer}");
    assert_eq!(answer["success"], true);
    assert_eq!(answer["model"]["cardId"], card.id.as_str());
    assert_eq!(answer["model"]["orderNo"], "d-1");
    assert_eq!(answer["model"]["amount"], 1000);
    assert_eq!(answer["model"]["balance"], 2000);
    let info = card_info(&env, &card).await;
    assert_eq!(info["balance"], 2000);
    assert_eq!(info["deposit"], 2000, "everything deposited");
    assert_eq!(info["status"], "ACTIVE");
    let above = env.post(DEPOSIT, &deposit(&card, json!(501), "d-2")).await;
    assert_error(&above, "300004");
    let all_of_it = env.post(DEPOSIT, &deposit(&card, json!(500), "d-3")).await;
    assert_eq!(all_of_it["code"], "0", "{all_of_it}");
    assert_eq!(card_info(&env, &card).await["balance"], 2500);
}

#[tokio::test]
async fn a_repeated_deposit_order_number_gets_300001_and_moves_money_once() {
    // Arrange
    let env = Env::start(|_, _| {}).await;
    let card = active_card(&env, "card-1").await;
    let first = env.post(DEPOSIT, &deposit(&card, json!(500), "d-1")).await;

    // Act
    let again = env.post(DEPOSIT, &deposit(&card, json!(500), "d-1")).await;

    // Assert
    assert_eq!(first["code"], "0", "{first}");
    assert_error(&again, "300001");
    assert_eq!(card_info(&env, &card).await["balance"], 1500);
    let trades = env.post(TRADES, &json!({"cardId": card.id})).await;
    assert_eq!(trades["model"]["total"], 1, "{trades}");
    // Deposits, refunds and creations each have their own orderNo namespace.
    let create_order_no = env.post(DEPOSIT, &deposit(&card, json!(1), "card-1")).await;
    assert_eq!(create_order_no["code"], "0", "{create_order_no}");
    let refund_same = env.post(REFUND, &refund(&card, json!(1), "d-1")).await;
    assert_eq!(refund_same["code"], "0", "{refund_same}");
    let refund_again = env.post(REFUND, &refund(&card, json!(1), "d-1")).await;
    assert_error(&refund_again, "300001");
    assert_eq!(card_info(&env, &card).await["balance"], 1500);
}

#[tokio::test]
async fn a_refused_deposit_does_not_consume_its_order_number() {
    let (env, _dir) = with_merchant_balance(1_500, |_, _| {}).await;
    let card = active_card(&env, "card-1").await;
    let refused = env.post(DEPOSIT, &deposit(&card, json!(600), "d-1")).await;

    let retried = env.post(DEPOSIT, &deposit(&card, json!(500), "d-1")).await;

    assert_error(&refused, "300004");
    assert_eq!(retried["code"], "0", "{retried}");
    assert_eq!(card_info(&env, &card).await["balance"], 1500);
}

#[tokio::test]
async fn trade_list_shows_the_deposits_newest_first_paged_with_last4_and_never_the_number() {
    // Arrange: three deposits.
    let env = Env::start(|_, _| {}).await;
    let card = active_card(&env, "card-1").await;
    for (amount, order_no) in [(100, "d-1"), (200, "d-2"), (300, "d-3")] {
        let answer = env
            .post(DEPOSIT, &deposit(&card, json!(amount), order_no))
            .await;
        assert_eq!(answer["code"], "0", "{answer}");
    }

    // Act
    let first = env
        .post(TRADES, &json!({"cardId": card.id, "current": 1, "size": 2}))
        .await;
    let second = env
        .post(
            TRADES,
            &json!({"cardId": card.id, "current": "2", "size": "2"}),
        )
        .await;
    let defaults = env.post(TRADES, &json!({"cardId": card.id})).await;

    // Assert
    assert_eq!(first["code"], "0", "{first}");
    let amounts = |page: &Value| -> Vec<i64> {
        page["model"]["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["amount"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(amounts(&first), [300, 200]);
    assert_eq!(amounts(&second), [100]);
    assert_eq!(amounts(&defaults), [300, 200, 100]);
    assert_eq!(first["model"]["total"], 3);
    assert_eq!(first["model"]["current"], 1);
    assert_eq!(second["model"]["current"], 2);
    let records = defaults["model"]["records"].as_array().unwrap();
    for record in records {
        assert_eq!(record["cardId"], card.id.as_str());
        assert_eq!(record["cardLast4"], card.last4.as_str());
        assert_eq!(record["desp"], "Deposit");
        assert_eq!(record["currency"], "USD");
        assert!(record["cardSeqNo"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(record["tradeAt"].as_i64().is_some(), "{record}");
    }
    let ids: HashSet<&str> = records
        .iter()
        .map(|r| r["transactionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "transaction ids are unique");
    for page in [&first, &second, &defaults] {
        assert!(!page.to_string().contains(&card.number), "no full number");
    }
    let too_big = env
        .post(TRADES, &json!({"cardId": card.id, "size": 101}))
        .await;
    assert_error(&too_big, "200002");
    let page_zero = env
        .post(TRADES, &json!({"cardId": card.id, "current": 0}))
        .await;
    assert_error(&page_zero, "200002");
}

#[tokio::test]
async fn a_refund_above_the_card_balance_is_refused_and_one_within_it_goes_to_the_merchant() {
    // Arrange: the merchant's 1000 cents all on the card.
    let (env, _dir) = with_merchant_balance(1_000, |_, _| {}).await;
    let card = active_card(&env, "card-1").await;

    // Act
    let above = env.post(REFUND, &refund(&card, json!(1001), "r-1")).await;
    let within = env.post(REFUND, &refund(&card, json!("400"), "r-2")).await;

    // Assert
    assert_error(&above, "403101");
    assert_eq!(within["code"], "0", "{within}");
    assert_eq!(within["model"]["balance"], 600);
    let info = card_info(&env, &card).await;
    assert_eq!(info["balance"], 600);
    assert_eq!(info["deposit"], 1000, "a refund is not a negative deposit");
    // The merchant has the 400 back, no more.
    let over = env.post(DEPOSIT, &deposit(&card, json!(401), "d-1")).await;
    assert_error(&over, "300004");
    let back = env.post(DEPOSIT, &deposit(&card, json!(400), "d-2")).await;
    assert_eq!(back["code"], "0", "{back}");
    let trades = env.post(TRADES, &json!({"cardId": card.id})).await;
    let records = trades["model"]["records"].as_array().unwrap();
    let desps: Vec<&str> = records
        .iter()
        .map(|r| r["desp"].as_str().unwrap())
        .collect();
    assert_eq!(desps, ["Deposit", "Refund"], "newest first");
    assert_eq!(records[1]["amount"], 400);
}

#[tokio::test]
async fn cancel_gives_the_balance_back_and_the_card_refuses_everything_after() {
    // Arrange: the merchant's 1000 cents all on the card.
    let (env, _dir) = with_merchant_balance(1_000, |_, _| {}).await;
    let card = active_card(&env, "card-1").await;

    // Act
    let cancelled = env.post(CANCEL, &json!({"cardId": card.id})).await;

    // Assert
    assert_eq!(cancelled["code"], "0", "{cancelled}");
    assert_eq!(cancelled["model"]["status"], "CANCELED");
    assert_eq!(cancelled["model"]["refundAmount"], 1000);
    let info = card_info(&env, &card).await;
    assert_eq!(info["status"], "CANCELED");
    assert_eq!(info["statusText"], "Deleted");
    assert_eq!(info["balance"], 0);
    assert_eq!(info["deposit"], 1000);
    for (path, body) in [
        (DEPOSIT, deposit(&card, json!(100), "d-1")),
        (REFUND, refund(&card, json!(100), "r-1")),
        (CANCEL, json!({"cardId": card.id})),
    ] {
        let answer = env.post(path, &body).await;
        assert_error(&answer, "403010");
    }
    let trades = env.post(TRADES, &json!({"cardId": card.id})).await;
    assert_eq!(trades["model"]["records"][0]["desp"], "Cancel refund");
    assert_eq!(trades["model"]["records"][0]["amount"], 1000);
    assert_eq!(
        trades["model"]["records"][0]["cardLast4"],
        card.last4.as_str()
    );
    assert_eq!(
        info["last4"],
        card.last4.as_str(),
        "a cancelled card keeps its data"
    );
    // The 1000 cents are the merchant's again: a second card can be made with them.
    let second = env.post(CREATE, &env.create_body("card-2")).await;
    assert_eq!(second["code"], "0", "{second}");
}

#[tokio::test]
async fn a_card_still_being_created_cannot_be_topped_up_refunded_or_cancelled() {
    // Real-time lifecycle: the card stays in INIT for the whole test.
    let env = Env::start(|_, c| c.time_scale = 1.0).await;
    env.post(CREATE, &env.create_body("card-1")).await;
    let card_id = env.sandbox.ledger().entries()[0].card_id.clone();

    for (path, body) in [
        (
            DEPOSIT,
            json!({"cardId": card_id, "amount": 100, "orderNo": "d-1"}),
        ),
        (
            REFUND,
            json!({"cardId": card_id, "amount": 100, "orderNo": "r-1"}),
        ),
        (CANCEL, json!({"cardId": card_id})),
    ] {
        let answer = env.post(path, &body).await;
        assert_error(&answer, "600006");
    }

    let info = env.post(INFO, &json!({"cardId": card_id})).await;
    assert_eq!(info["model"]["card"]["balance"], 1000);
    let trades = env.post(TRADES, &json!({"cardId": card_id})).await;
    assert_eq!(trades["model"]["total"], 0, "{trades}");
    assert_eq!(trades["model"]["records"], json!([]));
}

#[tokio::test]
async fn the_cards_of_another_access_key_do_not_exist_for_it() {
    // Arrange: a second merchant key beside the development one.
    let env = Env::start(|s, _| {
        s.credentials
            .insert("other-key".into(), "other-secret".into());
    })
    .await;
    let card = active_card(&env, "card-1").await;

    // Act + Assert
    for (path, body) in [
        (DEPOSIT, deposit(&card, json!(100), "d-1")),
        (REFUND, refund(&card, json!(100), "r-1")),
        (CANCEL, json!({"cardId": card.id})),
        (TRADES, json!({"cardId": card.id})),
        (INFO, json!({"cardId": card.id})),
    ] {
        let body = body.to_string();
        let signing = Signing {
            key: Some("other-key"),
            secret: "other-secret",
            ..Signing::of(&body)
        };
        let answer: Value = env.send(path, &body, &signing).await.json().await.unwrap();
        assert_error(&answer, "404005");
        assert_eq!(answer["msg"], "Card does not exist", "{path}");
    }
    let unknown = env
        .post(
            DEPOSIT,
            &json!({"cardId": "c_nope", "amount": 1, "orderNo": "d-1"}),
        )
        .await;
    assert_error(&unknown, "404005");
    // The owner still sees the card untouched.
    let info = card_info(&env, &card).await;
    assert_eq!(info["status"], "ACTIVE");
    assert_eq!(info["balance"], 1000);
    let mine = env.post(DEPOSIT, &deposit(&card, json!(100), "d-1")).await;
    assert_eq!(
        mine["code"], "0",
        "the other key's orderNo is not this key's: {mine}"
    );
}

#[tokio::test]
async fn badly_signed_or_malformed_operations_are_refused_and_move_nothing() {
    // Arrange
    let env = Env::start(|_, _| {}).await;
    let card = active_card(&env, "card-1").await;

    // Act + Assert: a wrong secret on each operation.
    for (path, body) in [
        (DEPOSIT, deposit(&card, json!(100), "d-1")),
        (REFUND, refund(&card, json!(100), "r-1")),
        (CANCEL, json!({"cardId": card.id})),
        (TRADES, json!({"cardId": card.id})),
    ] {
        let answer = env
            .post_signed(path, &body.to_string(), "wrong", now_ms())
            .await;
        assert_error(&answer, "200006");
    }
    let cases = [
        (
            "no cardId",
            json!({"amount": 100, "orderNo": "d-1"}),
            "200001",
        ),
        (
            "no amount",
            json!({"cardId": card.id, "orderNo": "d-1"}),
            "200001",
        ),
        (
            "no orderNo",
            json!({"cardId": card.id, "amount": 100}),
            "200001",
        ),
        ("decimals", deposit(&card, json!("1.50"), "d-1"), "400005"),
        ("zero", deposit(&card, json!(0), "d-1"), "400005"),
        ("negative", deposit(&card, json!(-100), "d-1"), "400005"),
        (
            "another currency",
            json!({"cardId": card.id, "amount": 100, "payCurrency": "EUR", "orderNo": "d-1"}),
            "400007",
        ),
        (
            "orderNo over 64",
            deposit(&card, json!(100), &"o".repeat(65)),
            "200002",
        ),
    ];
    for (name, body, code) in cases {
        let answer = env.post(DEPOSIT, &body).await;
        assert_eq!(answer["code"], code, "{name}: {answer}");
    }
    let not_object = env.post_signed(REFUND, "[1]", SECRET, now_ms()).await;
    assert_error(&not_object, "200004");
    let info = card_info(&env, &card).await;
    assert_eq!(info["status"], "ACTIVE");
    assert_eq!(info["balance"], 1000);
    let trades = env.post(TRADES, &json!({"cardId": card.id})).await;
    assert_eq!(trades["model"]["total"], 0, "{trades}");
}

#[tokio::test]
async fn the_operations_answer_at_the_root_too_signed_over_the_relative_path() {
    let env = Env::start(|_, _| {}).await;
    let card = active_card(&env, "card-1").await;
    let body = deposit(&card, json!(250), "d-root").to_string();

    let answer: Value = env
        .send_signed_for(
            "/open/api/card/deposit",
            "/open/api/card/deposit",
            &body,
            &Signing::of(&body),
        )
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(answer["code"], "0", "{answer}");
    assert_eq!(card_info(&env, &card).await["balance"], 1250);
}
