//! Provider credentials: read from the environment variables a profile names, never from the
//! config file, never logged.

use crate::config::Profile;
use std::collections::BTreeMap;
use std::fmt;

/// Resolved secrets of one profile (name -> value). `Debug` prints names only.
#[derive(Clone, Default)]
pub struct Credentials(BTreeMap<String, String>);

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
    /// Reads every credential of `profile` from the environment.
    pub fn from_env(profile_name: &str, profile: &Profile) -> Result<Credentials, CredentialError> {
        let mut values = BTreeMap::new();
        for (name, var) in &profile.credentials_env {
            let value = std::env::var(var).map_err(|_| CredentialError::Unset {
                profile: profile_name.to_string(),
                name: name.clone(),
                var: var.clone(),
            })?;
            values.insert(name.clone(), value);
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
    fn a_missing_credential_names_the_profile_and_key() {
        let c = Credentials::default();
        let err = c.get("uqpay", "api_key").unwrap_err().to_string();
        assert!(err.contains("profiles.uqpay.credentials_env"), "{err}");
    }
}
