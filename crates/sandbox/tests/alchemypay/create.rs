//! Alchemy Pay's create: the seed example after reverse validation, orderNo uniqueness, every
//! validation code, the merchant balance, reverse validation's failures, and card info.

use crate::support::CheckMode;
use crate::support::alchemypay::{CREATE, Env, INFO, SECRET, assert_error, now_ms};
use cardbatch_sandbox::fixtures::DEFAULT_FIXTURES;
use serde_json::{Value, json};

#[tokio::test]
async fn the_seed_create_example_is_accepted_after_reverse_validation() {
    let env = Env::start(|_, _| {}).await;

    let answer = env.post(CREATE, &env.create_body("v_5bc814")).await;

    assert_eq!(answer["code"], "0", "{answer}");
    assert_eq!(answer["success"], true);
    assert_eq!(answer["error"], false);
    assert_eq!(answer["traceId"].as_str().unwrap().len(), 32);
    assert!(
        answer["model"]["activeLink"]
            .as_str()
            .unwrap()
            .contains("token=")
    );
    let checks = env.merchant.received_on("/check");
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].path_and_query, "/check?orderNo=v_5bc814");
    assert_eq!(
        env.sandbox
            .ledger()
            .count_for("alchemypay_vcc", "orderNo", "v_5bc814"),
        1
    );
}

#[tokio::test]
async fn a_reused_order_number_gets_300001_and_no_second_card() {
    let env = Env::start(|_, _| {}).await;
    let first = env.post(CREATE, &env.create_body("dup-1")).await;

    let second = env.post(CREATE, &env.create_body("dup-1")).await;

    assert_eq!(first["code"], "0");
    assert_error(&second, "300001");
    assert_eq!(
        env.sandbox
            .ledger()
            .count_for("alchemypay_vcc", "orderNo", "dup-1"),
        1
    );
}

#[tokio::test]
async fn every_validation_rule_answers_its_documented_code() {
    let env = Env::start(|_, _| {}).await;
    let with = |patch: Value| {
        let mut body = env.create_body("valid-order");
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases = [
        (
            "deposit under 10 USD",
            with(json!({"deposit": "999"})),
            "300003",
        ),
        (
            "deposit over 5000 USD",
            with(json!({"deposit": "500001"})),
            "300003",
        ),
        (
            "deposit with decimals",
            with(json!({"deposit": "10.00"})),
            "400005",
        ),
        ("missing deposit", with(json!({"deposit": null})), "200001"),
        (
            "digit in a name",
            with(json!({"cardHolder": {"firstName": "Milton1", "lastName": "Schmitt"}})),
            "200002",
        ),
        (
            "name over 32 letters",
            with(json!({"cardHolder": {"firstName": "Milton", "lastName": "S".repeat(33)}})),
            "200002",
        ),
        (
            "holder without a last name",
            with(json!({"cardHolder": {"firstName": "Milton"}})),
            "200001",
        ),
        ("unknown segment", with(json!({"vid": "EUR"})), "200002"),
        ("missing vid", with(json!({"vid": null})), "200001"),
        ("missing orderNo", with(json!({"orderNo": null})), "200001"),
        (
            "orderNo over 64",
            with(json!({"orderNo": "o".repeat(65)})),
            "200002",
        ),
        (
            "callbackUrl not a URL",
            with(json!({"callbackUrl": "not a url"})),
            "200002",
        ),
        (
            "missing callbackUrl",
            with(json!({"callbackUrl": null})),
            "200001",
        ),
        (
            "unsupported currency",
            with(json!({"currency": "BRL"})),
            "400007",
        ),
    ];
    for (name, body, code) in cases {
        let answer = env.post(CREATE, &body).await;
        assert_eq!(answer["code"], code, "{name}: {answer}");
        assert_eq!(answer["success"], false, "{name}");
    }
    let not_json = env.post_signed(CREATE, "[1,2]", SECRET, now_ms()).await;
    assert_error(&not_json, "200004");
    assert_eq!(env.sandbox.ledger().len(), 0);

    let ok = env
        .post(
            CREATE,
            &with(json!({"deposit": "500000", "currency": "EUR", "vid": "vab_069af8a792ad"})),
        )
        .await;
    assert_eq!(ok["code"], "0", "{ok}");
}

#[tokio::test]
async fn a_deposit_above_the_merchant_balance_gets_300004() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("fixtures.toml");
    let small = DEFAULT_FIXTURES.replace(
        "merchant_balance_cents = 100000000000",
        "merchant_balance_cents = 1500",
    );
    assert_ne!(small, DEFAULT_FIXTURES);
    std::fs::write(&fixtures, small).unwrap();
    let env = Env::start(|_, c| c.fixtures = Some(fixtures.clone())).await;

    let first = env.post(CREATE, &env.create_body("b-1")).await;
    let second = env.post(CREATE, &env.create_body("b-2")).await;

    assert_eq!(first["code"], "0");
    assert_error(&second, "300004");
    assert_eq!(env.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn a_merchant_that_refuses_or_is_down_gets_200008_and_a_bad_signature_200009() {
    let env = Env::start(|_, _| {}).await;
    let cases = [
        (CheckMode::Refuse, "200008"),
        (CheckMode::Down, "200008"),
        (CheckMode::BadSignature, "200009"),
    ];
    for (mode, code) in cases {
        env.merchant.set_check_mode(mode);
        let answer = env.post(CREATE, &env.create_body("rv-1")).await;
        assert_error(&answer, code);
    }
    assert_eq!(env.sandbox.ledger().len(), 0);

    // The refused orderNo was not consumed: once the merchant confirms it, it goes through.
    env.merchant.set_check_mode(CheckMode::Accept);
    let answer = env.post(CREATE, &env.create_body("rv-1")).await;
    assert_eq!(answer["code"], "0", "{answer}");
}

#[tokio::test]
async fn without_a_check_url_reverse_validation_is_skipped() {
    let env = Env::start(|s, _| {
        s.options.remove("check_url");
    })
    .await;

    let answer = env.post(CREATE, &env.create_body("no-check")).await;

    assert_eq!(answer["code"], "0");
    assert!(env.merchant.received_on("/check").is_empty());
    assert_eq!(
        env.sandbox
            .stats()
            .get("alchemypay_vcc", "reverse_validation_skipped"),
        1
    );
}

#[tokio::test]
async fn info_for_an_unknown_card_gets_404005() {
    let env = Env::start(|_, _| {}).await;

    let answer = env.post(INFO, &json!({"cardId": "c_doesnotexist"})).await;

    assert_error(&answer, "404005");
}
