//! The Alchemy Pay VCC simulator driven over real HTTP with hand-signed requests: the seed's
//! create example, signature rules, reverse validation with a merchant server, orderNo
//! uniqueness, validation codes, the balance, the lifecycle callbacks and card info.

mod sandbox_support;

use cardbatch::domain::ProviderKind;
use cardbatch::sandbox::fixtures::DEFAULT_FIXTURES;
use cardbatch::sandbox::{ProviderSettings, RunningSandbox, SandboxConfig};
use sandbox_support::{CheckMode, Receiver, alchemy_sign, start};
use serde_json::{Value, json};

const KEY: &str = "ach-sandbox-app-key";
const SECRET: &str = "ach-sandbox-secret-key";
const CREATE: &str = "/alchemypay/open/api/card/create";
const INFO: &str = "/alchemypay/open/api/card/info";

struct Env {
    sandbox: RunningSandbox,
    merchant: Receiver,
    http: reqwest::Client,
}

impl Env {
    async fn start(tweak: impl FnOnce(&mut ProviderSettings, &mut SandboxConfig)) -> Env {
        let merchant = Receiver::start_with(KEY, SECRET).await;
        let mut settings = ProviderSettings {
            lifecycle_delay_ms: 1_000,
            ..ProviderSettings::default()
        };
        settings
            .options
            .insert("check_url".into(), merchant.url("/check"));
        let mut config = SandboxConfig {
            seed: 11,
            time_scale: 0.001,
            ..SandboxConfig::default()
        };
        tweak(&mut settings, &mut config);
        let config = config.with_provider(ProviderKind::AlchemypayVcc, settings);
        Env {
            sandbox: start(config).await,
            merchant,
            http: reqwest::Client::new(),
        }
    }

    /// POSTs `body` signed with `secret` at `ts` (milliseconds).
    async fn post_signed(&self, path: &str, body: &str, secret: &str, ts: i64) -> Value {
        let ts = ts.to_string();
        let r = self
            .http
            .post(format!("{}{path}", self.sandbox.base_url()))
            .header("content-type", "application/json")
            .header("ach-access-key", KEY)
            .header("ach-access-timestamp", &ts)
            .header(
                "ach-access-sign",
                alchemy_sign(secret, &ts, "POST", path, body),
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        r.json().await.unwrap()
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        self.post_signed(path, &body.to_string(), SECRET, now_ms())
            .await
    }

    fn create_body(&self, order_no: &str) -> Value {
        json!({
            "cardHolder": {"firstName": "Milton", "lastName": "Schmitt"},
            "deposit": "1000", "vid": "USD", "orderNo": order_no,
            "callbackUrl": self.merchant.url("/callback"),
        })
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn assert_error(answer: &Value, code: &str) {
    assert_eq!(answer["code"], code, "{answer}");
    assert_eq!(answer["success"], false, "{answer}");
    assert_eq!(answer["error"], true, "{answer}");
    assert!(
        answer["msg"].as_str().is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
}

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
async fn the_card_goes_through_its_lifecycle_to_active_with_an_unsigned_callback() {
    let env = Env::start(|_, _| {}).await;
    env.post(CREATE, &env.create_body("order-1")).await;

    let callbacks = env.merchant.wait_for("/callback", 1).await;

    let event = callbacks[0].json();
    assert_eq!(event["eventType"], "CREATE_CARD");
    assert!(event["eventId"].as_str().unwrap().starts_with("ev_"));
    assert!(
        event["webhookSubscribeId"]
            .as_str()
            .unwrap()
            .starts_with("wsb_")
    );
    assert_eq!(event["data"]["orderNo"], "order-1");
    assert_eq!(event["data"]["status"], "ACTIVE");
    assert_eq!(event["data"]["deposit"], 1000);
    assert_eq!(event["data"]["holderName"], "Milton Schmitt");
    assert!(
        callbacks[0].header("ach-access-sign").is_none(),
        "v1 callbacks are unsigned"
    );
    let card_id = event["data"]["cardId"].as_str().unwrap();
    let info = env.post(INFO, &json!({"cardId": card_id})).await;
    assert_eq!(info["code"], "0");
    assert_eq!(info["model"]["card"]["status"], "ACTIVE");
    assert_eq!(info["model"]["card"]["cardId"], card_id);
    assert_eq!(info["model"]["cardHolder"]["firstName"], "Milton");
    assert_eq!(
        env.sandbox
            .ledger()
            .get("alchemypay_vcc", card_id)
            .unwrap()
            .status,
        "ACTIVE"
    );
}

#[tokio::test]
async fn a_card_is_in_init_right_after_its_creation() {
    let env = Env::start(|_, c| c.time_scale = 1.0).await;
    env.post(CREATE, &env.create_body("order-init")).await;

    let card_id = env.sandbox.ledger().entries()[0].card_id.clone();
    let info = env.post(INFO, &json!({"cardId": card_id})).await;

    assert_eq!(info["model"]["card"]["status"], "INIT");
}

#[tokio::test]
async fn a_failed_creation_is_refunded_and_reported_with_create_card_fail() {
    let env = Env::start(|s, _| s.failure_rate = 1.0).await;
    env.post(CREATE, &env.create_body("order-fail")).await;

    let callbacks = env.merchant.wait_for("/callback", 1).await;

    let event = callbacks[0].json();
    assert_eq!(event["eventType"], "CREATE_CARD_FAIL");
    assert_eq!(event["data"]["orderNo"], "order-fail");
    let card_id = event["data"]["cardId"].as_str().unwrap();
    let info = env.post(INFO, &json!({"cardId": card_id})).await;
    assert_eq!(info["model"]["card"]["status"], "CREATE_CARD_FAILED_REFUND");
    assert_eq!(info["model"]["card"]["balance"], 0);
}

#[tokio::test]
async fn a_callback_answered_500_is_retried_until_acknowledged() {
    let env = Env::start(|_, _| {}).await;
    env.merchant.fail_next(2);
    env.post(CREATE, &env.create_body("order-retry")).await;

    let callbacks = env.merchant.wait_for("/callback", 3).await;

    assert_eq!(
        callbacks.iter().map(|c| c.answered).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    assert!(callbacks.iter().all(|c| c.body == callbacks[0].body));
}

#[tokio::test]
async fn a_wrong_signature_gets_200006_and_creates_nothing() {
    let env = Env::start(|_, _| {}).await;

    let answer = env
        .post_signed(
            CREATE,
            &env.create_body("o").to_string(),
            "wrong-secret",
            now_ms(),
        )
        .await;

    assert_error(&answer, "200006");
    assert_eq!(env.sandbox.ledger().len(), 0);
}

#[tokio::test]
async fn a_body_changed_after_signing_gets_200006() {
    let env = Env::start(|_, _| {}).await;
    let signed = env.create_body("o").to_string();
    let ts = now_ms().to_string();
    let sign = alchemy_sign(SECRET, &ts, "POST", CREATE, &signed);
    let tampered = signed.replace("\"1000\"", "\"2000\"");

    let answer: Value = env
        .http
        .post(format!("{}{CREATE}", env.sandbox.base_url()))
        .header("content-type", "application/json")
        .header("ach-access-key", KEY)
        .header("ach-access-timestamp", &ts)
        .header("ach-access-sign", sign)
        .body(tampered)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_error(&answer, "200006");
}

#[tokio::test]
async fn a_timestamp_older_than_a_minute_gets_200005() {
    let env = Env::start(|_, _| {}).await;

    let answer = env
        .post_signed(
            CREATE,
            &env.create_body("o").to_string(),
            SECRET,
            now_ms() - 61_000,
        )
        .await;

    assert_error(&answer, "200005");
}

#[tokio::test]
async fn an_unknown_access_key_or_missing_headers_are_refused() {
    let env = Env::start(|_, _| {}).await;
    let body = env.create_body("o").to_string();
    let ts = now_ms().to_string();
    let send = |key: Option<&'static str>| {
        let mut request = env
            .http
            .post(format!("{}{CREATE}", env.sandbox.base_url()))
            .header("content-type", "application/json")
            .header("ach-access-timestamp", &ts)
            .header(
                "ach-access-sign",
                alchemy_sign(SECRET, &ts, "POST", CREATE, &body),
            )
            .body(body.clone());
        if let Some(key) = key {
            request = request.header("ach-access-key", key);
        }
        request.send()
    };

    let unknown: Value = send(Some("someone-else"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let missing: Value = send(None).await.unwrap().json().await.unwrap();

    assert_error(&unknown, "300002");
    assert_error(&missing, "200001");
}

#[tokio::test]
async fn the_signature_covers_the_canonical_body_not_its_spelling() {
    let env = Env::start(|_, _| {}).await;
    // Keys out of order, spaces, and fields the canonical form drops (null, "", {}).
    let body = format!(
        r#"{{ "vid" : "USD", "orderNo": "o-canon", "deposit": "1000", "customerId": "",
             "callbackUrl": "{}", "extra": null, "meta": {{}},
             "cardHolder": {{ "lastName": "Schmitt", "firstName": "Milton" }} }}"#,
        env.merchant.url("/callback")
    );

    let answer = env.post_signed(CREATE, &body, SECRET, now_ms()).await;

    assert_eq!(answer["code"], "0", "{answer}");
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
async fn a_body_that_is_not_json_content_gets_200003() {
    let env = Env::start(|_, _| {}).await;
    let body = env.create_body("o").to_string();
    let ts = now_ms().to_string();

    let answer: Value = env
        .http
        .post(format!("{}{CREATE}", env.sandbox.base_url()))
        .header("content-type", "text/plain")
        .header("ach-access-key", KEY)
        .header("ach-access-timestamp", &ts)
        .header(
            "ach-access-sign",
            alchemy_sign(SECRET, &ts, "POST", CREATE, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_error(&answer, "200003");
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

#[tokio::test]
async fn over_the_rate_limit_an_access_key_gets_429_with_retry_after() {
    let env = Env::start(|s, _| {
        s.faults.rate_limit_per_sec = Some(0.01);
        s.faults.rate_limit_burst = Some(1);
    })
    .await;
    env.post(CREATE, &env.create_body("rl-1")).await;
    let body = env.create_body("rl-2").to_string();
    let ts = now_ms().to_string();

    let r = env
        .http
        .post(format!("{}{CREATE}", env.sandbox.base_url()))
        .header("content-type", "application/json")
        .header("ach-access-key", KEY)
        .header("ach-access-timestamp", &ts)
        .header(
            "ach-access-sign",
            alchemy_sign(SECRET, &ts, "POST", CREATE, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_error(&r.json().await.unwrap(), "429");
}
