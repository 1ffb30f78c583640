//! The sandbox's own configuration (`cardbatch sandbox --config FILE`), in TOML.
//!
//! ```toml
//! seed = 42                 # makes every fault roll repeatable
//! time_scale = 0.01         # multiplies lifecycle delays and webhook retry intervals
//! fixtures = "my-fixtures.toml"   # optional; replaces the built-in fixtures
//!
//! [providers.uqpay]
//! webhook_url = "http://127.0.0.1:8080/webhooks/uqpay"
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
//! provider, so they are not secrets), no faults, no rate limits and `time_scale = 1`.
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
    /// Per provider (`uqpay`, `alchemypay_vcc`, `qitech_prepaid`, `qitech_postpaid`).
    pub providers: BTreeMap<String, ProviderSettings>,
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
    /// Reads a config file; `None` gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<SandboxConfig, ConfigError> {
        let Some(path) = path else {
            return Ok(SandboxConfig::default());
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

    /// The settings of `provider`, with the development credentials filled in when none are
    /// configured.
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
mod tests {
    use super::*;

    #[test]
    fn a_config_file_with_every_key_loads_and_fills_in_dev_credentials() {
        let text = r#"
            seed = 42
            time_scale = 0.01
            fixtures = "my-fixtures.toml"
            [providers.uqpay]
            webhook_url = "http://127.0.0.1:8080/webhooks/uqpay"
            webhook_secret = "whsec"
            credentials = { "uqpay-sandbox-client" = "k" }
            lifecycle_delay_ms = 2000
            failure_rate = 0.1
            [providers.uqpay.faults]
            transient_error_rate = 0.05
            rate_limit_per_minute = 500
            [providers.alchemypay_vcc.options]
            check_url = "http://127.0.0.1:8080/alchemypay/check"
        "#;
        let config: SandboxConfig = toml::from_str(text).unwrap();
        config.validate().unwrap();
        assert_eq!(
            config
                .provider(ProviderKind::Uqpay)
                .faults
                .rate_limit_per_minute,
            Some(500)
        );
        let alchemy = config.provider(ProviderKind::AlchemypayVcc);
        assert_eq!(
            alchemy.credentials[DEV_ALCHEMYPAY_ACCESS_KEY],
            DEV_ALCHEMYPAY_SECRET_KEY
        );
        assert!(alchemy.options["check_url"].ends_with("/check"));
    }

    #[test]
    fn an_unknown_provider_or_a_bad_rate_is_refused_with_its_key() {
        let bad: SandboxConfig = toml::from_str("[providers.visa]").unwrap();
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("providers.visa")
        );
        let bad: SandboxConfig =
            toml::from_str("[providers.uqpay.faults]\nwebhook_drop_rate = 3.0").unwrap();
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("webhook_drop_rate")
        );
        assert!(
            toml::from_str::<SandboxConfig>("sed = 1").is_err(),
            "typos are refused"
        );
    }
}

#[cfg(test)]
mod example_file_tests {
    use super::*;

    #[test]
    fn the_annotated_example_sandbox_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox.toml");
        let config = SandboxConfig::load(Some(&path)).unwrap();
        assert_eq!(config.seed, 42);
        let uqpay = &config.providers["uqpay"];
        assert_eq!(uqpay.faults.rate_limit_per_minute, Some(500));
        assert!((uqpay.faults.lost_response_rate - 0.05).abs() < 1e-9);
    }
}
