//! The secrets that verify webhooks, per profile: UQPAY's `webhook_secret` credential (the
//! HMAC-SHA512 key) and QI Tech's public key (option `qitech_public_key_file` or credential
//! `qitech_public_key`, the names the QI client uses). One endpoint serves every profile of a
//! provider, so a signature is tried against each profile's secret in turn.

use crate::config::Profile;
use crate::domain::ProviderKind;
use crate::providers::Credentials;
use crate::providers::qitech::{OPTION_QITECH_PUBLIC_KEY_FILE, public_key_from_pem};
use p521::ecdsa::VerifyingKey;
use std::fmt;
use std::time::Duration;

/// How far a signed timestamp may be from our clock (both providers: 5 minutes).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The UQPAY credential holding the webhook signing secret.
pub const UQPAY_WEBHOOK_SECRET: &str = Credentials::WEBHOOK_KEYS[0];
/// The QI Tech credential holding QI's public key (PEM).
pub const QITECH_PUBLIC_KEY: &str = Credentials::WEBHOOK_KEYS[1];

/// Verification keys of every profile, and the timestamp tolerance.
#[derive(Clone)]
pub struct WebhookKeys {
    pub(crate) uqpay: Vec<(String, Vec<u8>)>,
    pub(crate) qitech: Vec<(String, VerifyingKey)>,
    /// Alchemy Pay's secret key per profile: it tags each order's callback URL.
    pub(crate) alchemypay: Vec<(String, String)>,
    pub(crate) tolerance: Duration,
    /// The path of `server.public_url` (`/cardbatch` behind a proxy that serves cardbatch under
    /// it; empty at a host's root): QI signs the URI it calls, which is this plus our route.
    pub(crate) public_path: String,
}

/// A profile whose webhook key cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("profiles.{profile}: {problem}")]
pub struct KeyError {
    /// The profile.
    pub profile: String,
    /// What is wrong.
    pub problem: String,
}

impl Default for WebhookKeys {
    fn default() -> Self {
        WebhookKeys::new()
    }
}

impl WebhookKeys {
    /// No keys: every signed webhook is refused until a profile's key is added.
    pub fn new() -> WebhookKeys {
        WebhookKeys {
            uqpay: Vec::new(),
            qitech: Vec::new(),
            alchemypay: Vec::new(),
            tolerance: DEFAULT_TOLERANCE,
            public_path: String::new(),
        }
    }

    /// The path providers reach us under ([`crate::config::Config::public_path`]): it
    /// prefixes the URI QI signs.
    pub fn with_public_path(mut self, public_path: &str) -> WebhookKeys {
        self.public_path = public_path.to_string();
        self
    }

    /// Accepts UQPAY webhooks signed with `secret` as `profile`'s.
    pub fn add_uqpay(&mut self, profile: &str, secret: &[u8]) {
        self.uqpay.push((profile.to_string(), secret.to_vec()));
    }

    /// Accepts QI Tech webhooks signed by the private half of `key` as `profile`'s.
    pub fn add_qitech(&mut self, profile: &str, key: VerifyingKey) {
        self.qitech.push((profile.to_string(), key));
    }

    /// Accepts Alchemy Pay callbacks on the URLs tagged with `secret` as `profile`'s.
    pub fn add_alchemypay(&mut self, profile: &str, secret: &str) {
        self.alchemypay
            .push((profile.to_string(), secret.to_string()));
    }

    /// Changes how far a signed timestamp may drift from our clock.
    pub fn with_tolerance(mut self, tolerance: Duration) -> WebhookKeys {
        self.tolerance = tolerance;
        self
    }

    /// Adds the webhook key of `profile` if it has one: UQPAY `webhook_secret`, QI's public key.
    /// A profile without one is skipped (its webhooks are then refused); a key that is present
    /// but unreadable is an error.
    pub fn add_profile(
        &mut self,
        name: &str,
        profile: &Profile,
        credentials: &Credentials,
    ) -> Result<(), KeyError> {
        let error = |problem: String| KeyError {
            profile: name.to_string(),
            problem,
        };
        match profile.provider {
            ProviderKind::Uqpay => {
                if let Ok(secret) = credentials.get(name, UQPAY_WEBHOOK_SECRET) {
                    self.add_uqpay(name, secret.as_bytes());
                }
            }
            ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid => {
                let pem = match profile.options.get(OPTION_QITECH_PUBLIC_KEY_FILE) {
                    Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                        error(format!(
                            "options.{OPTION_QITECH_PUBLIC_KEY_FILE}: cannot read {path}: {e}"
                        ))
                    })?),
                    None => credentials
                        .get(name, QITECH_PUBLIC_KEY)
                        .ok()
                        .map(str::to_string),
                };
                if let Some(pem) = pem {
                    let key = public_key_from_pem(&pem)
                        .map_err(|e| error(format!("QI Tech's public key: {e}")))?;
                    self.add_qitech(name, key);
                }
            }
            // Alchemy Pay's creation callbacks are unsigned (spec §5.1): the secret key tags
            // each order's callback URL instead.
            ProviderKind::AlchemypayVcc => {
                if let Ok(secret) = credentials.get(name, "secret_key") {
                    self.alchemypay.push((name.to_string(), secret.to_string()));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for WebhookKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Profile names only: the secrets never reach a log.
        f.debug_struct("WebhookKeys")
            .field(
                "uqpay",
                &self.uqpay.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field(
                "qitech",
                &self.qitech.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field(
                "alchemypay",
                &self.alchemypay.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field("tolerance", &self.tolerance)
            .finish()
    }
}
