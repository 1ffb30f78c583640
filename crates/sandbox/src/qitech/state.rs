//! The QI Tech simulator's state: keys, accepted API keys, switches read from the sandbox config,
//! and the in-memory cards of both products.

use std::sync::{Arc, Mutex};

use p521::ecdsa::{SigningKey, VerifyingKey};

use super::dev_keys::{DEV_CLIENT_PUBLIC_KEY_PEM, DEV_SERVER_PRIVATE_KEY_PEM};
use super::jws;
use super::postpaid_store::PostpaidStore;
use super::prepaid_request::CardType;
use super::prepaid_store::PrepaidStore;
use crate::config::ProviderSettings;
use crate::core::Core;
use cardbatch_types::ProviderKind;

/// Option keys QI reads from `[providers.qitech_prepaid.options]` (or `qitech_postpaid`; the
/// prepaid section wins when both set one).
pub mod options {
    /// The client's public key (SPKI PEM) that verifies requests. Default: the dev key.
    pub const CLIENT_PUBLIC_KEY_PEM: &str = "client_public_key_pem";
    /// The sandbox's own private key (SEC1 or PKCS#8 PEM). Default: the development server key,
    /// [`DEV_SERVER_PRIVATE_KEY_PEM`](super::DEV_SERVER_PRIVATE_KEY_PEM).
    pub const SANDBOX_PRIVATE_KEY_PEM: &str = "sandbox_private_key_pem";
    /// `"true"`: accept `card_type: "physical"` and a CVV interval on plastic postpaid cards, as
    /// the seed's own example sends them.
    pub const LENIENT: &str = "lenient";
    /// `"true"`: a 409 CIN000099 carries the original keys in `extra_fields`.
    pub const CONFLICT_REVEALS_KEYS: &str = "conflict_reveals_keys";
    /// `"true"`: an injected CIN000072 persists the instrument without a card (the key is then
    /// used up), as the spec warns the real service may.
    pub const PARTIAL_CIN000072: &str = "partial_cin000072";
    /// Largest accepted distance between a request's signed time and the sandbox clock, in
    /// seconds. Default 300.
    pub const MAX_SKEW_SECS: &str = "max_skew_secs";
}

/// Shared by every QI handler.
pub(crate) struct Qi {
    /// The sandbox core (ledger, stats, faults, webhooks, clock).
    pub core: Arc<Core>,
    /// The sandbox's key: signs answers and webhooks.
    pub sandbox_key: SigningKey,
    /// The client's key: verifies requests (`None` if the configured PEM is unreadable, which
    /// refuses every request with GDF000014).
    pub client_key: Option<VerifyingKey>,
    /// Accepted `API-CLIENT-KEY` values: the fixtures' plus any configured credentials.
    pub api_keys: Vec<String>,
    /// See [`options::LENIENT`].
    pub lenient: bool,
    /// See [`options::CONFLICT_REVEALS_KEYS`].
    pub conflict_reveals_keys: bool,
    /// See [`options::PARTIAL_CIN000072`].
    pub partial_cin000072: bool,
    /// See [`options::MAX_SKEW_SECS`].
    pub max_skew: chrono::TimeDelta,
    /// Prepaid cards.
    pub prepaid: Mutex<PrepaidStore>,
    /// Postpaid instruments and cards.
    pub postpaid: Mutex<PostpaidStore>,
}

impl Qi {
    /// Reads the QI settings from the core's config. Panics on an unreadable sandbox private
    /// key: a sandbox that cannot sign would answer nothing verifiable.
    pub fn new(core: Arc<Core>) -> Qi {
        let prepaid = core.settings(ProviderKind::QitechPrepaid).clone();
        let postpaid = core.settings(ProviderKind::QitechPostpaid).clone();
        let option = |key: &str| {
            prepaid
                .options
                .get(key)
                .or_else(|| postpaid.options.get(key))
                .cloned()
        };
        let flag = |key: &str| option(key).is_some_and(|v| v == "true");

        // A fixed default, so a client can hold QI's public key before the sandbox runs.
        let sandbox_pem = option(options::SANDBOX_PRIVATE_KEY_PEM)
            .unwrap_or_else(|| DEV_SERVER_PRIVATE_KEY_PEM.into());
        let sandbox_key = jws::signing_key_from_pem(&sandbox_pem)
            .expect("sandbox_private_key_pem is a P-521 private key");
        let client_pem = option(options::CLIENT_PUBLIC_KEY_PEM)
            .unwrap_or_else(|| DEV_CLIENT_PUBLIC_KEY_PEM.into());
        let client_key = match jws::verifying_key_from_pem(&client_pem) {
            Ok(key) => Some(key),
            Err(e) => {
                tracing::error!(error = %e, "qitech: client_public_key_pem is unreadable; every request will get GDF000014");
                None
            }
        };
        let mut api_keys = core.fixtures.qitech.api_client_keys.clone();
        api_keys.extend(credential_keys(&prepaid).chain(credential_keys(&postpaid)));
        let max_skew_secs = option(options::MAX_SKEW_SECS)
            .and_then(|s| s.parse().ok())
            .unwrap_or(300);

        Qi {
            core,
            sandbox_key,
            client_key,
            api_keys,
            lenient: flag(options::LENIENT),
            conflict_reveals_keys: flag(options::CONFLICT_REVEALS_KEYS),
            partial_cin000072: flag(options::PARTIAL_CIN000072),
            max_skew: chrono::TimeDelta::seconds(max_skew_secs),
            prepaid: Mutex::new(PrepaidStore::default()),
            postpaid: Mutex::new(PostpaidStore::default()),
        }
    }

    /// The status a new card moves to after the lifecycle delay: `active` (virtual) or
    /// `embossing` (plastic), or `canceled` on a roll of the provider's `failure_rate` (QI
    /// documents no failure state; canceled is the spec's guess).
    pub fn next_status(&self, provider: ProviderKind, card_type: CardType) -> &'static str {
        let failure_rate = self.core.settings(provider).failure_rate;
        if self.core.roll(provider.as_str(), failure_rate) {
            return "canceled";
        }
        match card_type {
            CardType::Virtual => "active",
            CardType::Plastic => "embossing",
        }
    }

    /// The sandbox's public key as SPKI PEM.
    pub fn public_key_pem(&self) -> String {
        jws::public_key_pem(&VerifyingKey::from(&self.sandbox_key))
    }
}

fn credential_keys(settings: &ProviderSettings) -> impl Iterator<Item = String> + '_ {
    settings.credentials.keys().cloned()
}
