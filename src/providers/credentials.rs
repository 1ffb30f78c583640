//! Provider credentials: read from the environment variables a profile names, never from the
//! config file, never logged.
//!
//! Two allowances keep a first run free of set-up:
//! - the webhook verification keys (UQPAY `webhook_secret`, QI's `qitech_public_key`) are
//!   optional: without one, that profile's webhooks are refused (401) and its orders are
//!   confirmed by lookup instead;
//! - a profile with `sandbox_credentials` (the built-in ones) aimed at a loopback address takes
//!   the built-in sandbox's development value for any variable that is not set.

use crate::config::Profile;
use std::collections::BTreeMap;
use std::fmt;

/// Resolved secrets of one profile (name -> value). `Debug` prints names only.
#[derive(Clone, Default)]
pub struct Credentials(BTreeMap<String, String>);

/// The built-in sandbox's development value of credential `name`, for a profile allowed to use
/// it (`sandbox_credentials` and a loopback `base_url`).
#[cfg(feature = "sandbox")]
fn development_value(profile: &Profile, name: &str) -> Option<&'static str> {
    if !(profile.sandbox_credentials && profile.is_loopback()) {
        return None;
    }
    cardbatch_sandbox::dev_credentials(profile.provider)
        .into_iter()
        .find_map(|(n, value)| (n == name).then_some(value))
}

/// Without the sandbox built in there are no development values.
#[cfg(not(feature = "sandbox"))]
fn development_value(_: &Profile, _: &str) -> Option<&'static str> {
    None
}

/// A credential the profile needs is not available.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("profiles.{profile}.credentials_env.{name}: environment variable {var} is not set")]
    Unset {
        profile: String,
        name: String,
        var: String,
    },
    #[error("profiles.{profile}.credentials_env: no `{name}` credential configured")]
    NotConfigured { profile: String, name: String },
}

impl Credentials {
    /// The credentials a profile may go without: they only verify webhooks (UQPAY's
    /// `webhook_secret`, QI Tech's `qitech_public_key`).
    pub const WEBHOOK_KEYS: [&'static str; 2] = ["webhook_secret", "qitech_public_key"];

    /// Reads every credential of `profile` from the environment (see the module doc for the
    /// optional ones and the development fallback).
    pub fn from_env(profile_name: &str, profile: &Profile) -> Result<Credentials, CredentialError> {
        Credentials::resolve(profile_name, profile, |var| std::env::var(var).ok())
    }

    /// [`Credentials::from_env`] with the environment given (tests).
    pub fn resolve(
        profile_name: &str,
        profile: &Profile,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials, CredentialError> {
        let mut values = BTreeMap::new();
        for (name, var) in &profile.credentials_env {
            if let Some(value) = env(var) {
                values.insert(name.clone(), value);
            } else if let Some(value) = development_value(profile, name) {
                values.insert(name.clone(), value.to_string());
            } else if Credentials::WEBHOOK_KEYS.contains(&name.as_str()) {
                tracing::warn!(
                    profile = profile_name,
                    credential = %name,
                    variable = %var,
                    "webhook key not set: this profile's webhooks are refused and its orders are confirmed by lookup"
                );
            } else {
                return Err(CredentialError::Unset {
                    profile: profile_name.to_string(),
                    name: name.clone(),
                    var: var.clone(),
                });
            }
        }
        Ok(Credentials(values))
    }

    /// Credentials given directly (tests, the demo).
    pub fn from_pairs<I, K, V>(pairs: I) -> Credentials
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Credentials(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// These credentials plus `pairs` (a name given again is replaced).
    pub fn with<I, K, V>(mut self, pairs: I) -> Credentials
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.0
            .extend(pairs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The value of credential `name`, or an error naming what is missing.
    pub fn get(&self, profile_name: &str, name: &str) -> Result<&str, CredentialError> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| CredentialError::NotConfigured {
                profile: profile_name.to_string(),
                name: name.to_string(),
            })
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_secret() {
        let c = Credentials::from_pairs([("api_key", "s3cr3t-value")]);
        let shown = format!("{c:?}");
        assert!(shown.contains("api_key"));
        assert!(!shown.contains("s3cr3t"));
    }

    #[test]
    fn a_missing_webhook_key_is_optional_and_a_missing_api_key_is_not() {
        let mut profile = Profile::sandbox(crate::domain::ProviderKind::Uqpay, "127.0.0.1:1");
        profile.sandbox_credentials = false;
        let only_api = |var: &str| (var != "UQPAY_WEBHOOK_SECRET").then(|| "v".to_string());
        let creds = Credentials::resolve("uqpay", &profile, only_api).unwrap();
        assert!(creds.get("uqpay", "webhook_secret").is_err());
        assert_eq!(creds.get("uqpay", "api_key").unwrap(), "v");
        let err = Credentials::resolve("uqpay", &profile, |_| None).unwrap_err();
        assert!(
            err.to_string().contains("UQPAY_API_KEY is not set"),
            "{err}"
        );
    }

    #[cfg(feature = "sandbox")]
    #[test]
    fn a_builtin_profile_on_loopback_takes_the_sandboxs_development_values_only_there() {
        let profile = Profile::sandbox(crate::domain::ProviderKind::Uqpay, "127.0.0.1:7070");
        let creds = Credentials::resolve("uqpay", &profile, |_| None).unwrap();
        assert_eq!(
            creds.get("uqpay", "webhook_secret").unwrap(),
            crate::sandbox::config::DEV_UQPAY_WEBHOOK_SECRET
        );
        // A variable that is set wins over the development value.
        let set = |var: &str| (var == "UQPAY_API_KEY").then(|| "mine".to_string());
        let creds = Credentials::resolve("uqpay", &profile, set).unwrap();
        assert_eq!(creds.get("uqpay", "api_key").unwrap(), "mine");
        // Aimed elsewhere, nothing is filled in.
        let mut remote = profile.clone();
        remote.base_url = "https://api.uqpay.com/api".into();
        assert!(Credentials::resolve("uqpay", &remote, |_| None).is_err());
    }

    #[test]
    fn a_missing_credential_names_the_profile_and_key() {
        let c = Credentials::default();
        let err = c.get("uqpay", "api_key").unwrap_err().to_string();
        assert!(err.contains("profiles.uqpay.credentials_env"), "{err}");
    }
}
