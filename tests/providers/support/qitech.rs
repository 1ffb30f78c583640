//! The QI Tech bench: a sandbox on 127.0.0.1:0 with a fresh client key pair configured (made by
//! `openssl`, independently of the sandbox's RustCrypto code), and cardbatch's client of either
//! product aimed at it. Taken from the sandbox tests' `qitech_support`, keeping what the client
//! tests use.

use super::{QI_API_KEY, provider_env, start_sandbox};
use cardbatch::config::Profile;
use cardbatch::domain::ProviderKind;
use cardbatch::domain::ProviderOrder;
use cardbatch::providers::{self, Classified, Credentials, Provider};
use cardbatch::sandbox::{ProviderSettings, RunningSandbox, SandboxConfig};
use cardbatch::store::Store;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{Private, Public};
use serde_json::{Value, json};
use std::sync::Arc;

/// A fresh P-521 key pair.
pub fn new_key() -> EcKey<Private> {
    EcKey::generate(&EcGroup::from_curve_name(Nid::SECP521R1).unwrap()).unwrap()
}

/// A sandbox with a client key pair.
pub struct QiHarness {
    pub sandbox: RunningSandbox,
    pub client_key: EcKey<Private>,
    pub sandbox_key: EcKey<Public>,
}

/// Options of [`start`].
#[derive(Default)]
pub struct Setup {
    pub options: Vec<(&'static str, &'static str)>,
    pub rate_limit_per_sec: Option<f64>,
}

/// Starts a sandbox on 127.0.0.1:0 configured with a new client key pair; lifecycles are scaled
/// down 1000x.
pub async fn start(setup: Setup) -> QiHarness {
    let client_key = new_key();
    let public_pem = String::from_utf8(client_key.public_key_to_pem().unwrap()).unwrap();
    let mut settings = ProviderSettings::default();
    settings
        .options
        .insert("client_public_key_pem".into(), public_pem);
    for (k, v) in &setup.options {
        settings.options.insert(k.to_string(), v.to_string());
    }
    settings.faults.rate_limit_per_sec = setup.rate_limit_per_sec;
    settings.faults.rate_limit_burst = setup.rate_limit_per_sec.map(|_| 1);
    let mut postpaid = settings.clone();
    postpaid.options.clear();
    let config = SandboxConfig {
        time_scale: 0.001,
        ..SandboxConfig::default()
    }
    .with_provider(ProviderKind::QitechPrepaid, settings)
    .with_provider(ProviderKind::QitechPostpaid, postpaid);
    let sandbox = start_sandbox(config).await;
    let pem = reqwest::get(format!("{}/qitech/_sandbox/public_key", sandbox.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sandbox_key = EcKey::public_key_from_pem(pem.as_bytes()).unwrap();
    QiHarness {
        sandbox,
        client_key,
        sandbox_key,
    }
}

impl QiHarness {
    /// The client of a `kind` profile (named after it) aimed at this sandbox, signing the
    /// `signing` way (`v1` or `v2`) with the harness's client key and verifying answers with the
    /// sandbox's public key.
    pub async fn client(&self, kind: ProviderKind, signing: &str) -> Arc<dyn Provider> {
        let pem = String::from_utf8(self.sandbox_key.public_key_to_pem().unwrap()).unwrap();
        self.client_verifying_with(kind, signing, &pem).await
    }

    /// [`QiHarness::client`], verifying answers with `qi_pem` instead.
    pub async fn client_verifying_with(
        &self,
        kind: ProviderKind,
        signing: &str,
        qi_pem: &str,
    ) -> Arc<dyn Provider> {
        let mut profile = Profile::sandbox(kind, &self.sandbox.addr().to_string());
        profile.options.insert("signing".into(), signing.into());
        let private_pem = String::from_utf8(self.client_key.private_key_to_pem().unwrap()).unwrap();
        let credentials = Credentials::from_pairs([
            ("api_key", QI_API_KEY),
            ("private_key", private_pem.as_str()),
            ("qitech_public_key", qi_pem),
        ]);
        let store = Store::connect("sqlite::memory:").await.unwrap();
        providers::build(
            kind.as_str(),
            &profile,
            &credentials,
            &provider_env(&store, "http://127.0.0.1:9"),
        )
        .unwrap()
    }

    /// Cards the ledger holds for this provider and reference.
    pub fn ledger_count(&self, provider: &str, name: &str, value: &str) -> u64 {
        self.sandbox.ledger().count_for(provider, name, value)
    }
}

/// Each documented prepaid create error, with the change to a `valid` body that triggers it in
/// the sandbox's fixtures: (body, HTTP status, QI's code).
pub fn prepaid_error_triggers(valid: &Value) -> Vec<(Value, u16, &'static str)> {
    let with = |field: &str, value: &str| {
        let mut body = valid.clone();
        body[field] = json!(value);
        body
    };
    const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";
    vec![
        (with("type", "VIRTUAL"), 400, "QIT000001"),
        (with("program_key", UNKNOWN), 404, "CARD000005"),
        (with("account_key", UNKNOWN), 404, "CARD000006"),
        (
            with("program_key", "bf74df61-557a-45cb-914f-41e127a6e18c"),
            400,
            "CARD000007",
        ),
        (
            with("account_key", "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"),
            400,
            "CARD000008",
        ),
        (
            with("account_key", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"),
            404,
            "CARD000010",
        ),
        (
            with("program_key", "6b6ebaac-043b-4390-8d62-e8098ec901e9"),
            403,
            "CARD000032",
        ),
    ]
}

/// QI's two ways of signing a request.
pub const VARIANTS: [&str; 2] = ["v1", "v2"];

/// The classification table at work: in both signing variants, each of `cases` (body, HTTP
/// status, QI's code) sent as `order(body)` is refused for good with QI's code, and no refused
/// order makes a card.
pub async fn assert_each_error_is_permanent(
    qi: &QiHarness,
    kind: ProviderKind,
    cases: &[(Value, u16, &'static str)],
    order: impl Fn(Value) -> ProviderOrder,
) {
    for signing in VARIANTS {
        let client = qi.client(kind, signing).await;
        for (payload, status, code) in cases.iter().cloned() {
            let report = client.create(&order(payload)).await;

            assert_eq!(report.http_status, Some(status), "{signing} {code}");
            assert_eq!(report.provider_code.as_deref(), Some(code));
            assert!(
                matches!(&report.classified, Classified::Permanent { code: c, .. } if c == code),
                "{signing} {code}: {:?}",
                report.classified
            );
        }
    }
    assert_eq!(qi.sandbox.ledger().len(), 0, "no refused order made a card");
}
