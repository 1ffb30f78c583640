//! cardbatch's webhook endpoints for the tests that sign webhooks themselves: a [`TestApp`] with
//! a UQPAY secret and a QI key of the test's own, requests signed independently of cardbatch
//! (HMAC-SHA512 here, the QI JWT with openssl), and orders put in the state a test needs through
//! the store's real paths.

use crate::support::{AppSetup, TestApp, TestDb, Webhooks, process_events, spawn_app};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cardbatch::domain::{NewBatch, NewOrder, OrderState, ProviderKind};
use cardbatch::providers::qitech::public_key_from_pem;
use cardbatch::reconcile::{ProcessOptions, ProcessReport};
use cardbatch::store::{Completion, Store};
use cardbatch::webhooks::WebhookKeys;
use hmac::{Hmac, Mac};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use std::time::Duration;
use uuid::Uuid;

/// The UQPAY profile's webhook secret.
pub const UQPAY_SECRET: &str = "whsec-test-secret";
/// The profile names used by the tests.
pub const UQPAY: &str = "uqpay";
pub const QI_PREPAID: &str = "qitech_prepaid";
pub const ALCHEMY: &str = "alchemypay";
/// The Alchemy Pay profile's secret key, which tags its callback URLs.
pub const ALCHEMY_SECRET: &str = "ach-test-secret";

/// A P-521 key pair made by openssl, standing in for QI's.
pub struct QiKey(EcKey<Private>);

impl QiKey {
    pub fn generate() -> QiKey {
        let group = EcGroup::from_curve_name(Nid::SECP521R1).unwrap();
        QiKey(EcKey::generate(&group).unwrap())
    }

    /// The public half as SPKI PEM, as QI hands it out.
    pub fn public_pem(&self) -> String {
        let pkey = PKey::from_ec_key(self.0.clone()).unwrap();
        String::from_utf8(pkey.public_key_to_pem().unwrap()).unwrap()
    }

    /// A compact ES512 JWS of `claims`: the signature is raw `r‖s`, 66 bytes each.
    pub fn sign_jwt(&self, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES512","typ":"JWT"}"#);
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let digest = Sha512::digest(input.as_bytes());
        let sig = EcdsaSig::sign(&digest, &self.0).unwrap();
        let mut raw = sig.r().to_vec_padded(66).unwrap();
        raw.extend(sig.s().to_vec_padded(66).unwrap());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw))
    }
}

/// cardbatch's webhook endpoints checking [`UQPAY_SECRET`] and a [`QiKey`] of the test's, the
/// event processor driven by hand unless started.
pub struct Hooks {
    pub app: TestApp,
    /// The key QI events are signed with.
    pub qi: QiKey,
    /// The client the test's requests go out with.
    pub http: reqwest::Client,
}

impl Hooks {
    /// Starts the endpoints on `db`, with no event processor running.
    pub async fn start(db: &TestDb) -> Hooks {
        Hooks::start_with(db, None).await
    }

    /// [`Hooks::start`], with the event processor running with `processor`.
    pub async fn start_with(db: &TestDb, processor: Option<ProcessOptions>) -> Hooks {
        let qi = QiKey::generate();
        let mut keys = WebhookKeys::new();
        keys.add_uqpay(UQPAY, UQPAY_SECRET.as_bytes());
        keys.add_qitech(QI_PREPAID, public_key_from_pem(&qi.public_pem()).unwrap());
        keys.add_alchemypay(ALCHEMY, ALCHEMY_SECRET);
        let setup = AppSetup {
            webhooks: Webhooks::Keys(keys),
            processor,
            ..AppSetup::new(ProviderKind::Uqpay)
        };
        Hooks {
            app: spawn_app(db, setup).await,
            qi,
            http: reqwest::Client::new(),
        }
    }

    /// Stops the server (requests in progress finish) and closes the store.
    pub async fn shutdown(self) {
        self.app.shutdown().await;
    }

    /// POSTs a UQPAY event signed with `secret` at `timestamp_ms`; returns the HTTP status.
    pub async fn post_uqpay_signed(&self, body: &str, secret: &str, timestamp_ms: i64) -> u16 {
        let ts = timestamp_ms.to_string();
        let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        mac.update(ts.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        self.http
            .post(format!("{}/webhooks/uqpay", self.app.url))
            .header("content-type", "application/json")
            .header("x-wk-timestamp", ts)
            .header("x-wk-signature", signature)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// POSTs a UQPAY event signed now with the profile's secret.
    pub async fn post_uqpay(&self, body: &str) -> u16 {
        self.post_uqpay_signed(body, UQPAY_SECRET, now_ms()).await
    }

    /// POSTs a QI event signed v2-style by `key` for `uri`.
    pub async fn post_qitech_signed(&self, body: &str, key: &QiKey, uri: &str) -> u16 {
        let claims = json!({
            "payload_md5": hex::encode(md5::Md5::digest(body.as_bytes())),
            "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "method": "POST",
            "uri": uri,
        });
        self.http
            .post(format!("{}/webhooks/qitech", self.app.url))
            .header("content-type", "application/json")
            .header("authorization", key.sign_jwt(&claims))
            .header("api-client-key", "test-api-key")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// POSTs a QI event signed with the configured key.
    pub async fn post_qitech(&self, body: &str) -> u16 {
        self.post_qitech_signed(body, &self.qi, "/webhooks/qitech")
            .await
    }

    /// POSTs an (unsigned) Alchemy Pay callback to the callback URL ending in `tag` (none: the
    /// bare endpoint).
    pub async fn post_alchemypay(&self, body: &str, tag: Option<&str>) -> u16 {
        let path = match tag {
            Some(tag) => format!("/webhooks/alchemypay/{tag}"),
            None => "/webhooks/alchemypay".to_string(),
        };
        self.http
            .post(format!("{}{path}", self.app.url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// One processor pass at `now_ms`, with no provider clients.
    pub async fn process_at(&self, now_ms: i64) -> ProcessReport {
        process_events(&self.app.store, &ProcessOptions::default(), now_ms).await
    }

    /// One processor pass now.
    pub async fn process(&self) -> ProcessReport {
        self.process_at(now_ms()).await
    }

    /// The order's state.
    pub async fn state(&self, order_id: i64) -> OrderState {
        self.app
            .store
            .order_get(order_id)
            .await
            .unwrap()
            .unwrap()
            .state
    }
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One order of `provider` through profile `profile`, queued.
pub async fn queued_order(store: &Store, profile: &str, provider: ProviderKind) -> i64 {
    let batch = NewBatch {
        id: Uuid::new_v4(),
        profile: profile.to_string(),
        provider,
        source: "orders.csv".into(),
        created_at_ms: now_ms(),
    };
    let key = Uuid::new_v4().simple().to_string();
    let mut writer = store.batch_writer(&batch).await.unwrap();
    writer
        .push(NewOrder {
            line: 2,
            order_ref: format!("ref-{key}"),
            idempotency_key: key,
            payload: json!({}).into(),
            amount_minor: Some(1_000),
            currency: Some("USD".into()),
        })
        .await
        .unwrap();
    writer.commit().await.unwrap();
    let orders = store.order_list(batch.id, None).await.unwrap();
    orders[0].id
}

/// Claims the only queued order of `profile` (it is then in flight under worker `w`).
pub async fn claim(store: &Store, profile: &str) -> i64 {
    let claimed = store
        .order_claim_due(profile, "w", 1, Duration::from_secs(60), now_ms())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "one order to claim");
    claimed[0].id
}

/// Records the create answer of an in-flight order: `submitted` with `refs`.
pub async fn record_refs(store: &Store, order_id: i64, refs: Value) {
    let applied = store
        .order_complete_many(
            "w",
            &[Completion {
                order_id,
                state: OrderState::Submitted,
                next_attempt_at: None,
                provider_refs: Some(serde_json::from_value(refs).expect("refs are an object")),
                error: None,
                attempts: Vec::new(),
                nothing_sent: false,
            }],
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(applied, vec![true]);
}

/// A `submitted` order holding `refs`.
pub async fn submitted_order(
    store: &Store,
    profile: &str,
    provider: ProviderKind,
    refs: Value,
) -> i64 {
    queued_order(store, profile, provider).await;
    let id = claim(store, profile).await;
    record_refs(store, id, refs).await;
    id
}

/// A UQPAY card event as the sandbox sends it.
pub fn uqpay_event(event_type: &str, event_id: &str, card_id: &str, card_order_id: &str) -> String {
    let status = if event_type == "card.create.failed" {
        "FAILED"
    } else {
        "ACTIVE"
    };
    json!({
        "version": "V1.6.0",
        "event_name": "ISSUING",
        "event_type": event_type,
        "event_id": event_id,
        "source_id": card_order_id,
        "data": { "card_id": card_id, "card_status": status, "card_number": "40963608****1764" },
    })
    .to_string()
}

/// A QI prepaid card webhook.
pub fn qi_event(card_key: &str, status: &str, at: &str) -> String {
    json!({
        "webhook_type": "baas.prepaid_card.card",
        "event_datetime": at,
        "data": { "card_key": card_key, "type": "virtual", "status": status },
    })
    .to_string()
}

/// A fresh id.
pub fn id() -> String {
    Uuid::new_v4().to_string()
}
