//! The Alchemy Pay bench: a store, cardbatch's server (its reverse-validation endpoint) on
//! 127.0.0.1:0, the sandbox configured to call it, and a client built like `cardbatch run`
//! builds it.

use super::{TestDb, dev_credentials, provider_env, serve, start_sandbox};
use cardbatch::config::Profile;
use cardbatch::domain::{NewBatch, NewOrder, ProviderKind};
use cardbatch::providers::alchemypay::{self, CheckKeys};
use cardbatch::providers::{Classified, Credentials, Provider, build};
use cardbatch::sandbox::{FaultConfig, ProviderSettings, RunningSandbox, SandboxConfig};
use cardbatch::store::{ClaimedOrder, Store};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub const PROFILE: &str = "alchemy";
pub const PROVIDER: &str = "alchemypay_vcc";

/// A store, cardbatch's check endpoint, the sandbox pointed at it, and a client.
pub struct Env {
    pub _db: TestDb,
    pub store: Store,
    /// `http://127.0.0.1:port` of cardbatch's check endpoint (and its public URL).
    pub server: String,
    pub sandbox: RunningSandbox,
    pub client: Arc<dyn Provider>,
    pub profile: Profile,
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(|_, _| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut ProviderSettings, &mut SandboxConfig)) -> Env {
        let db = TestDb::sqlite().await;
        let store = db.store().await;
        let mut keys = CheckKeys::new();
        keys.add_profile(PROFILE, &credentials()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = format!("http://{}", listener.local_addr().unwrap());
        serve(listener, &store, keys, None, std::future::pending());

        let mut settings = ProviderSettings {
            // Long enough that no callback fires during a test.
            lifecycle_delay_ms: 600_000,
            ..ProviderSettings::default()
        };
        settings.options.insert(
            "check_url".into(),
            format!("{server}{}", alchemypay::CREATE_CHECK_PATH),
        );
        let mut config = SandboxConfig {
            seed: 7,
            ..SandboxConfig::default()
        };
        tweak(&mut settings, &mut config);
        let config = config.with_provider(ProviderKind::AlchemypayVcc, settings);
        let sandbox = start_sandbox(config).await;
        let profile = Profile::sandbox(ProviderKind::AlchemypayVcc, &sandbox.addr().to_string());
        let client = client(&profile, &credentials(), &store, &server);
        Env {
            _db: db,
            store,
            server,
            sandbox,
            client,
            profile,
        }
    }

    /// Writes `payloads` as one batch and claims them all: they are `in_flight`, as when a
    /// worker is about to call the provider.
    pub async fn claimed(&self, payloads: Vec<Value>) -> Vec<ClaimedOrder> {
        let batch = alchemy_batch();
        let n = payloads.len() as u32;
        let mut writer = self.store.batch_writer(&batch).await.unwrap();
        for (i, payload) in payloads.into_iter().enumerate() {
            writer
                .push(NewOrder {
                    line: i as u64 + 2,
                    order_ref: format!("ref-{}", uuid::Uuid::new_v4().simple()),
                    idempotency_key: format!("cb{}", uuid::Uuid::new_v4().simple()),
                    amount_minor: payload["deposit_cents"].as_i64(),
                    currency: Some("USD".into()),
                    payload: payload.into(),
                })
                .await
                .unwrap();
        }
        writer.commit().await.unwrap();
        let claimed = self
            .store
            .order_claim_due(PROFILE, "w1", n, Duration::from_secs(60), now_ms())
            .await
            .unwrap();
        assert_eq!(claimed.len(), n as usize);
        claimed
    }

    pub async fn one_claimed(&self) -> ClaimedOrder {
        self.claimed(vec![seed_payload()]).await.remove(0)
    }

    pub fn cards_for(&self, order: &ClaimedOrder) -> u64 {
        self.sandbox
            .ledger()
            .count_for(PROVIDER, "orderNo", &order.order.idempotency_key)
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        self.sandbox.set_faults(PROVIDER, faults);
    }
}

pub fn client(
    profile: &Profile,
    credentials: &Credentials,
    store: &Store,
    public_url: &str,
) -> Arc<dyn Provider> {
    build(
        PROFILE,
        profile,
        credentials,
        &provider_env(store, public_url),
    )
    .expect("the client builds")
}

/// The credentials the sandbox accepts.
pub fn credentials() -> Credentials {
    Credentials::from_pairs(dev_credentials(ProviderKind::AlchemypayVcc))
}

/// The seed's request example, as ingest stores it.
pub fn seed_payload() -> Value {
    json!({
        "cardHolder": {"firstName": "Milton", "lastName": "Schmitt"},
        "deposit_cents": 1000, "currency": "USD", "vid": "USD"
    })
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[track_caller]
pub fn assert_code(classified: &Classified, expected: &str) {
    let code = match classified {
        Classified::Transient { code, .. }
        | Classified::Permanent { code, .. }
        | Classified::Unknown { code, .. }
        | Classified::NeedsReview { code, .. } => code.as_str(),
        Classified::Accepted { .. } => "accepted",
    };
    assert_eq!(code, expected, "{classified:?}");
}

/// A batch of the test profile.
pub fn alchemy_batch() -> NewBatch {
    NewBatch {
        id: uuid::Uuid::new_v4(),
        profile: PROFILE.into(),
        provider: ProviderKind::AlchemypayVcc,
        source: "cards.csv".into(),
        created_at_ms: 1_000,
    }
}

/// Writes one queued order with idempotency key `key`.
pub async fn write_order(store: &Store, key: &str) {
    let mut writer = store.batch_writer(&alchemy_batch()).await.unwrap();
    writer
        .push(NewOrder {
            line: 2,
            order_ref: format!("ref-{key}"),
            idempotency_key: key.into(),
            payload: seed_payload().into(),
            amount_minor: Some(1000),
            currency: Some("USD".into()),
        })
        .await
        .unwrap();
    writer.commit().await.unwrap();
}
