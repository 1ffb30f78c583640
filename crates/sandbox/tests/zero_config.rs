//! A sandbox nobody configured: it accepts the development credentials `dev_credentials`
//! lists, signs QI Tech answers with the fixed development key, and calls cardbatch back at its
//! default routes, signed with the development secrets; a callback nobody answers is retried,
//! then given up, while the sandbox goes on answering.

use crate::support::alchemypay::{CREATE, alchemy_sign, now_ms};
use crate::support::qitech::seed_virtual;
use crate::support::qitech_sign::{Variant, es512_verify, md5_hex, new_key, request};
use crate::support::uqpay::{BODY, hmac512_hex, key};
use crate::support::{Receiver, eventually, start};
use cardbatch_sandbox::{
    ProviderSettings, RunningSandbox, SandboxConfig, UQPAY_SIMULATOR_MOUNT, dev_credentials,
};
use cardbatch_types::ProviderKind;
use openssl::ec::EcKey;
use openssl::pkey::{Private, Public};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The credentials of `kind`, by name.
fn creds(kind: ProviderKind) -> BTreeMap<&'static str, &'static str> {
    dev_credentials(kind).into_iter().collect()
}

fn qi_private_key() -> EcKey<Private> {
    EcKey::private_key_from_pem(creds(ProviderKind::QitechPrepaid)["private_key"].as_bytes())
        .unwrap()
}

fn qi_public_key() -> EcKey<Public> {
    EcKey::public_key_from_pem(creds(ProviderKind::QitechPrepaid)["qitech_public_key"].as_bytes())
        .unwrap()
}

/// Where the built-in profiles find each provider: its mount in the sandbox.
const MOUNTS: Paths = Paths {
    uqpay_api: "/uqpay/api",
    alchemy_create: CREATE,
    qi_create: "/qitech/prepaid/card",
};

/// Where each provider is on its own host, which the sandbox also serves from its root.
const OWN_PATHS: Paths = Paths {
    uqpay_api: "/api",
    alchemy_create: "/open/api/card/create",
    qi_create: "/prepaid/card",
};

struct Paths {
    uqpay_api: &'static str,
    alchemy_create: &'static str,
    qi_create: &'static str,
}

/// A UQPAY card made with the development credentials; the create's status.
async fn uqpay_card(http: &reqwest::Client, base: &str) -> reqwest::StatusCode {
    uqpay_card_at(http, base, &MOUNTS).await
}

/// A UQPAY `x-auth-token` for the development credentials, from the API at `api`.
async fn uqpay_token(http: &reqwest::Client, api: &str) -> String {
    let c = creds(ProviderKind::Uqpay);
    let token: Value = http
        .post(format!("{api}/v1/connect/token"))
        .header("x-client-id", c["client_id"])
        .header("x-api-key", c["api_key"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    format!("Bearer {}", token["auth_token"].as_str().unwrap())
}

async fn uqpay_card_at(http: &reqwest::Client, base: &str, paths: &Paths) -> reqwest::StatusCode {
    let api = format!("{base}{}", paths.uqpay_api);
    http.post(format!("{api}/v1/issuing/cards"))
        .header("x-auth-token", uqpay_token(http, &api).await)
        .header("x-idempotency-key", key())
        .header("content-type", "application/json")
        .body(BODY)
        .send()
        .await
        .unwrap()
        .status()
}

/// An Alchemy Pay card made with the development credentials; the answer.
async fn alchemy_card(http: &reqwest::Client, base: &str) -> Value {
    alchemy_card_at(http, base, &MOUNTS).await
}

/// Signed over the path it is sent to, as a client given that base URL signs it.
async fn alchemy_card_at(http: &reqwest::Client, base: &str, paths: &Paths) -> Value {
    let create = paths.alchemy_create;
    let c = creds(ProviderKind::AlchemypayVcc);
    let body = json!({"deposit": "1000", "vid": "USD", "orderNo": key(), "callbackUrl": "http://127.0.0.1:9/cb"}).to_string();
    let ts = now_ms().to_string();
    http.post(format!("{base}{create}"))
        .header("content-type", "application/json")
        .header("ach-access-key", c["access_key"])
        .header("ach-access-timestamp", &ts)
        .header(
            "ach-access-sign",
            alchemy_sign(c["secret_key"], &ts, "POST", create, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A QI Tech prepaid card signed with the development client key; the answer's status.
async fn qi_card(http: &reqwest::Client, sandbox: &RunningSandbox) -> u16 {
    qi_card_at(http, sandbox, &MOUNTS).await
}

async fn qi_card_at(http: &reqwest::Client, sandbox: &RunningSandbox, paths: &Paths) -> u16 {
    let req = request(
        Variant::V2,
        &qi_private_key(),
        "POST",
        paths.qi_create,
        Some(&seed_virtual()),
    );
    let answer = req.send(http, &sandbox.base_url()).await.unwrap();
    let status = answer.status().as_u16();
    // Verified with the public key dev_credentials gives, not one fetched from the sandbox.
    let token = answer.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_string();
    let body = answer.bytes().await.unwrap();
    let claims = es512_verify(&qi_public_key(), &token).expect("signed with the dev server key");
    assert_eq!(claims["payload_md5"], md5_hex(&body));
    status
}

#[tokio::test]
async fn the_development_credentials_are_accepted_by_a_sandbox_configured_with_nothing() {
    // Arrange
    let sandbox = start(SandboxConfig::default()).await;
    let http = reqwest::Client::new();
    let base = sandbox.base_url();

    // Act
    let uqpay = uqpay_card(&http, &base).await;
    let alchemy = alchemy_card(&http, &base).await;
    let qi = qi_card(&http, &sandbox).await;

    // Assert
    assert_eq!(uqpay, reqwest::StatusCode::OK);
    assert_eq!(alchemy["code"], "0", "{alchemy}");
    assert_eq!(qi, 201);
    let names: Vec<Vec<&str>> = ProviderKind::ALL
        .into_iter()
        .map(|k| dev_credentials(k).into_iter().map(|(n, _)| n).collect())
        .collect();
    assert_eq!(
        names,
        [
            vec!["api_key", "private_key", "qitech_public_key"],
            vec!["api_key", "private_key", "qitech_public_key"],
            vec!["access_key", "secret_key"],
            vec!["client_id", "api_key", "webhook_secret"],
        ]
    );
}

#[tokio::test]
async fn each_provider_also_answers_at_its_own_paths_from_the_root_over_the_same_state() {
    // Arrange: a client given only the sandbox's address, as it would be given the provider's
    // host.
    let sandbox = start(SandboxConfig::default()).await;
    let http = reqwest::Client::new();
    let base = sandbox.base_url();

    // Act
    let uqpay = uqpay_card_at(&http, &base, &OWN_PATHS).await;
    let alchemy = alchemy_card_at(&http, &base, &OWN_PATHS).await;
    let qi = qi_card_at(&http, &sandbox, &OWN_PATHS).await;
    let listed: Value = {
        // The card made at `/api` is listed under the mount: one UQPAY, not two.
        let mounted = format!("{base}{}", MOUNTS.uqpay_api);
        http.get(format!("{mounted}/v1/issuing/cards"))
            .header("x-auth-token", uqpay_token(&http, &mounted).await)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    // And under a path with `sandbox` in it, for the SDKs' simulator.
    let simulator_api = format!("{base}{UQPAY_SIMULATOR_MOUNT}");
    let products = http
        .get(format!("{simulator_api}/v1/issuing/products"))
        .header("x-auth-token", uqpay_token(&http, &simulator_api).await)
        .send()
        .await
        .unwrap()
        .status();
    let unknown = http
        .get(format!("{base}/prepaid/nothing"))
        .send()
        .await
        .unwrap()
        .status();

    // Assert
    assert_eq!(uqpay, reqwest::StatusCode::OK);
    assert_eq!(alchemy["code"], "0", "{alchemy}");
    assert_eq!(qi, 201);
    assert_eq!(listed["total_items"], 1, "{listed}");
    let providers: Vec<String> = sandbox
        .ledger()
        .entries()
        .into_iter()
        .map(|e| e.provider)
        .collect();
    assert_eq!(providers, ["uqpay", "alchemypay_vcc", "qitech_prepaid"]);
    assert_eq!(products, reqwest::StatusCode::OK);
    assert_eq!(unknown, reqwest::StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_qi_server_key_is_the_fixed_development_pair_unless_one_is_configured() {
    // Arrange
    let own = new_key();
    let own_pem = String::from_utf8(own.private_key_to_pem().unwrap()).unwrap();
    let mut settings = ProviderSettings::default();
    settings
        .options
        .insert("sandbox_private_key_pem".into(), own_pem);
    let default = start(SandboxConfig::default()).await;
    let configured =
        start(SandboxConfig::default().with_provider(ProviderKind::QitechPrepaid, settings)).await;
    let http = reqwest::Client::new();
    let served = |sandbox: &RunningSandbox| {
        let url = format!("{}/qitech/_sandbox/public_key", sandbox.base_url());
        let http = http.clone();
        async move {
            let pem = http.get(url).send().await.unwrap().text().await.unwrap();
            EcKey::public_key_from_pem(pem.as_bytes()).unwrap()
        }
    };
    let point = |key: &EcKey<Public>| {
        let mut ctx = openssl::bn::BigNumContext::new().unwrap();
        key.public_key()
            .to_bytes(
                key.group(),
                openssl::ec::PointConversionForm::UNCOMPRESSED,
                &mut ctx,
            )
            .unwrap()
    };

    // Act
    let default_key = served(&default).await;
    let configured_key = served(&configured).await;

    // Assert
    assert_eq!(point(&default_key), point(&qi_public_key()));
    let own_public = EcKey::from_public_key(own.group(), own.public_key()).unwrap();
    assert_eq!(point(&configured_key), point(&own_public));
}

#[tokio::test]
async fn with_only_cardbatchs_address_each_callback_reaches_its_route_signed_with_dev_secrets() {
    // Arrange: cardbatch stands at the receiver's address; no provider names a URL.
    let cardbatch = Receiver::start().await;
    let sandbox = start(SandboxConfig {
        cardbatch_url: Some(cardbatch.base.clone()),
        time_scale: 0.001,
        ..SandboxConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    let base = sandbox.base_url();

    // Act
    uqpay_card(&http, &base).await;
    qi_card(&http, &sandbox).await;
    let alchemy = alchemy_card(&http, &base).await;
    let uqpay_hooks = cardbatch.wait_for("/webhooks/uqpay", 1).await;
    let qi_hooks = cardbatch.wait_for("/webhooks/qitech", 1).await;

    // Assert
    let hook = &uqpay_hooks[0];
    let ts = hook.header("x-wk-timestamp").unwrap();
    let secret = creds(ProviderKind::Uqpay)["webhook_secret"];
    assert_eq!(
        hook.header("x-wk-signature").unwrap(),
        hmac512_hex(secret, &hook.body, ts)
    );
    let hook = &qi_hooks[0];
    let claims = es512_verify(&qi_public_key(), hook.header("authorization").unwrap())
        .expect("signed with the dev server key");
    assert_eq!(claims["uri"], "/webhooks/qitech");
    assert_eq!(claims["payload_md5"], md5_hex(&hook.body));
    assert_eq!(alchemy["code"], "0", "{alchemy}");
    let checks = cardbatch.received_on("/alchemypay/create-check?orderNo=");
    assert_eq!(checks.len(), 1, "reverse validation asked cardbatch");
}

#[tokio::test]
async fn a_callback_nobody_answers_is_retried_then_given_up_and_the_sandbox_goes_on_answering() {
    // Arrange: cardbatch's address with nothing listening (a port bound, then released);
    // retry schedules shrunk 100,000 times.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let absent = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let sandbox = start(SandboxConfig {
        cardbatch_url: Some(absent),
        time_scale: 0.000_01,
        ..SandboxConfig::default()
    })
    .await;
    let http = reqwest::Client::new();
    let base = sandbox.base_url();

    // Act
    let first = uqpay_card(&http, &base).await;
    let qi = qi_card(&http, &sandbox).await;
    let alchemy = alchemy_card(&http, &base).await;
    let stats = sandbox.stats();
    eventually("UQPAY's webhook to be given up", || {
        stats.get("uqpay", "webhooks_failed") == 1
    })
    .await;
    eventually("QI's two webhooks to be given up", || {
        stats.get("qitech_prepaid", "webhooks_failed") == 2
    })
    .await;
    let (uqpay_retries, qi_retries) = (
        stats.get("uqpay", "webhooks_retried"),
        stats.get("qitech_prepaid", "webhooks_retried"),
    );
    let later = uqpay_card(&http, &base).await;

    // Assert
    assert_eq!(first, reqwest::StatusCode::OK);
    assert_eq!(qi, 201);
    assert_eq!(
        alchemy["code"], "200008",
        "an absent merchant fails reverse validation: {alchemy}"
    );
    assert_eq!(uqpay_retries, 5, "UQPAY's schedule");
    assert_eq!(qi_retries, 6, "3 per webhook");
    assert_eq!(later, reqwest::StatusCode::OK);
}
