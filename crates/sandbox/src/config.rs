//! The sandbox's own configuration (`cardbatch sandbox --config FILE`), in TOML.
//!
//! ```toml
//! seed = 42                 # makes every fault roll repeatable
//! time_scale = 0.01         # multiplies lifecycle delays and webhook retry intervals
//! fixtures = "my-fixtures.toml"   # optional; replaces the built-in fixtures
//! cardbatch_url = "http://127.0.0.1:8080"   # the default; "" calls nobody back
//!
//! [providers.uqpay]
//! webhook_url = "http://127.0.0.1:8080/webhooks/uqpay"   # default: cardbatch_url + this path
//! webhook_secret = "whsec-sandbox"
//! credentials = { "uqpay-sandbox-client" = "uqpay-sandbox-api-key" }
//! lifecycle_delay_ms = 2000
//! failure_rate = 0.0
//! [providers.uqpay.faults]
//! transient_error_rate = 0.05
//! rate_limit_per_minute = 500
//! ```
//!
//! Every key is optional. The defaults are development credentials (the sandbox is a fake
//! provider, so they are not secrets; see [`crate::dev_credentials`]), no faults, no rate limits,
//! `time_scale = 1`, and callbacks to cardbatch's default address: UQPAY's webhooks to
//! `cardbatch_url/webhooks/uqpay`, QI Tech's to `/webhooks/qitech` (signed with the development
//! secret and key), Alchemy Pay's reverse validation to `/alchemypay/create-check`. So
//! `cardbatch sandbox` with no file works with a `cardbatch run` of default settings. A callback
//! nobody answers is retried on the provider's schedule and given up, never more.
//! Rate limits are off by default so that the demo and the benchmarks measure the sandbox rather
//! than the limiter; tests and operators switch them on per provider.

use super::core::FaultConfig;
use cardbatch_types::ProviderKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything the sandbox can be told at start; faults can also change at run time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Seed of every random roll (faults, jitter), so a run is repeatable.
    pub seed: u64,
    /// Factor applied to lifecycle delays and webhook retry intervals (0.001 makes an hourly
    /// retry schedule take 3.6 s). Fault latency is not scaled: it is set in milliseconds.
    pub time_scale: f64,
    /// A fixtures file replacing the built-in `fixtures.toml`.
    pub fixtures: Option<PathBuf>,
    /// cardbatch's address, where a provider that names no URL of its own calls back:
    /// UQPAY's webhooks go to `/webhooks/uqpay`, QI Tech's to `/webhooks/qitech`, Alchemy Pay's
    /// reverse validation to `/alchemypay/create-check` (its callbacks go to each request's
    /// `callbackUrl`). A config file, or none ([`SandboxConfig::load`]), defaults it to
    /// [`DEFAULT_CARDBATCH_URL`]; `""` turns it off. [`SandboxConfig::default`], for a sandbox
    /// started in process (tests, the demo), has none: it calls back only what it is told to.
    #[serde(default = "default_cardbatch_url")]
    pub cardbatch_url: Option<String>,
    /// Per provider (`uqpay`, `alchemypay_vcc`, `qitech_prepaid`, `qitech_postpaid`).
    pub providers: BTreeMap<String, ProviderSettings>,
}

/// cardbatch's default server address (`cardbatch serve` and `run` listen there).
pub const DEFAULT_CARDBATCH_URL: &str = "http://127.0.0.1:8080";
/// cardbatch's UQPAY webhook route.
pub const UQPAY_WEBHOOK_PATH: &str = "/webhooks/uqpay";
/// cardbatch's QI Tech webhook route.
pub const QITECH_WEBHOOK_PATH: &str = "/webhooks/qitech";
/// cardbatch's route for Alchemy Pay's reverse validation of a create.
pub const ALCHEMYPAY_CHECK_PATH: &str = "/alchemypay/create-check";

fn default_cardbatch_url() -> Option<String> {
    Some(DEFAULT_CARDBATCH_URL.to_string())
}

/// How one simulated provider behaves.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSettings {
    /// Faults injected from the start (changeable through `/_sandbox/faults`).
    pub faults: FaultConfig,
    /// Where webhooks go (UQPAY, QI Tech). Alchemy Pay calls back the request's `callbackUrl`.
    pub webhook_url: Option<String>,
    /// The webhook signing secret (UQPAY: HMAC-SHA512 key; with none, no signature is sent).
    pub webhook_secret: Option<String>,
    /// Client credential -> secret: UQPAY `x-client-id` -> `x-api-key`, Alchemy Pay
    /// `ach-access-key` -> secret key.
    pub credentials: BTreeMap<String, String>,
    /// Delay between two steps of a card's asynchronous lifecycle, before `time_scale`.
    pub lifecycle_delay_ms: u64,
    /// Probability that a created card's lifecycle ends in failure (UQPAY FAILED, Alchemy
    /// CREATE_CARD_FAILED_REFUND); rolled on the seeded RNG.
    pub failure_rate: f64,
    /// Provider-specific switches (e.g. Alchemy `check_url`, QI Tech key PEMs).
    pub options: BTreeMap<String, String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 0x5eed_cafe,
            time_scale: 1.0,
            fixtures: None,
            cardbatch_url: None,
            providers: BTreeMap::new(),
        }
    }
}

impl Default for ProviderSettings {
    fn default() -> Self {
        ProviderSettings {
            faults: FaultConfig::default(),
            webhook_url: None,
            webhook_secret: None,
            credentials: BTreeMap::new(),
            lifecycle_delay_ms: 1_000,
            failure_rate: 0.0,
            options: BTreeMap::new(),
        }
    }
}

/// The development credentials each provider accepts when the config names none.
///
/// QI Tech's `API-CLIENT-KEY`: the first of the built-in fixtures' `api_client_keys`.
pub const DEV_QITECH_API_KEY: &str = "20d6a816-9d21-4e29-bbe5-2ffb3baacfe9";
/// UQPAY's `x-client-id`.
pub const DEV_UQPAY_CLIENT_ID: &str = "uqpay-sandbox-client";
/// The API key paired with [`DEV_UQPAY_CLIENT_ID`].
pub const DEV_UQPAY_API_KEY: &str = "uqpay-sandbox-api-key";
/// The UQPAY webhook secret used when the config names none.
pub const DEV_UQPAY_WEBHOOK_SECRET: &str = "uqpay-sandbox-webhook-secret";
/// The Alchemy Pay `ach-access-key` accepted when the config names none.
pub const DEV_ALCHEMYPAY_ACCESS_KEY: &str = "ach-sandbox-app-key";
/// The secret key paired with [`DEV_ALCHEMYPAY_ACCESS_KEY`].
pub const DEV_ALCHEMYPAY_SECRET_KEY: &str = "ach-sandbox-secret-key";

/// A sandbox config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read sandbox config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid sandbox config {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("sandbox config: {0}")]
    Invalid(String),
}

impl SandboxConfig {
    /// A sandbox run on its own with no file: the defaults, calling back cardbatch at
    /// [`DEFAULT_CARDBATCH_URL`] (what an empty config file gives too).
    pub fn standalone() -> SandboxConfig {
        SandboxConfig {
            cardbatch_url: default_cardbatch_url(),
            ..SandboxConfig::default()
        }
    }

    /// Reads a config file; `None` gives [`SandboxConfig::standalone`].
    pub fn load(path: Option<&Path>) -> Result<SandboxConfig, ConfigError> {
        let Some(path) = path else {
            return Ok(SandboxConfig::standalone());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config: SandboxConfig = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses unknown provider names and nonsensical numbers.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.time_scale.is_finite() && self.time_scale >= 0.0) {
            return Err(ConfigError::Invalid(format!(
                "time_scale must be a non-negative number, got {}",
                self.time_scale
            )));
        }
        if let Some(url) = self.callback_base() {
            let parsed = reqwest::Url::parse(url);
            if !parsed.is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                return Err(ConfigError::Invalid(format!(
                    "cardbatch_url must be an http(s) URL or \"\", got {url:?}"
                )));
            }
        }
        for (name, settings) in &self.providers {
            name.parse::<ProviderKind>()
                .map_err(|e| ConfigError::Invalid(format!("providers.{name}: {e}")))?;
            settings
                .faults
                .validate()
                .map_err(|e| ConfigError::Invalid(format!("providers.{name}.faults: {e}")))?;
            if !(0.0..=1.0).contains(&settings.failure_rate) {
                return Err(ConfigError::Invalid(format!(
                    "providers.{name}.failure_rate must be within 0..=1"
                )));
            }
        }
        Ok(())
    }

    /// cardbatch's address without a trailing `/`, unless callbacks are off.
    pub fn callback_base(&self) -> Option<&str> {
        self.cardbatch_url
            .as_deref()
            .map(|url| url.trim().trim_end_matches('/'))
            .filter(|url| !url.is_empty())
    }

    /// The settings of `provider`, with the development credentials filled in when none are
    /// configured, and the callbacks aimed at cardbatch's routes when none are named.
    pub fn provider(&self, provider: ProviderKind) -> ProviderSettings {
        let mut settings = self
            .providers
            .get(provider.as_str())
            .cloned()
            .unwrap_or_default();
        if settings.credentials.is_empty() {
            match provider {
                ProviderKind::Uqpay => {
                    settings
                        .credentials
                        .insert(DEV_UQPAY_CLIENT_ID.into(), DEV_UQPAY_API_KEY.into());
                }
                ProviderKind::AlchemypayVcc => {
                    settings.credentials.insert(
                        DEV_ALCHEMYPAY_ACCESS_KEY.into(),
                        DEV_ALCHEMYPAY_SECRET_KEY.into(),
                    );
                }
                ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid => {}
            }
        }
        if provider == ProviderKind::Uqpay && settings.webhook_secret.is_none() {
            settings.webhook_secret = Some(DEV_UQPAY_WEBHOOK_SECRET.into());
        }
        if let Some(base) = self.callback_base() {
            match provider {
                ProviderKind::Uqpay => {
                    let url = format!("{base}{UQPAY_WEBHOOK_PATH}");
                    settings.webhook_url.get_or_insert(url);
                }
                ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid => {
                    let url = format!("{base}{QITECH_WEBHOOK_PATH}");
                    settings.webhook_url.get_or_insert(url);
                }
                ProviderKind::AlchemypayVcc => {
                    let url = format!("{base}{ALCHEMYPAY_CHECK_PATH}");
                    settings.options.entry("check_url".into()).or_insert(url);
                }
            }
        }
        settings
    }

    /// Sets (or replaces) the settings of one provider; a builder for tests and the demo.
    pub fn with_provider(mut self, provider: ProviderKind, settings: ProviderSettings) -> Self {
        self.providers
            .insert(provider.as_str().to_string(), settings);
        self
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
