//! Building the client of a profile.

use super::{CredentialError, Credentials, Provider};
use crate::config::Profile;
use crate::domain::ProviderKind;
use crate::store::Store;
use std::sync::Arc;

/// What every client needs besides its profile and credentials.
#[derive(Clone)]
pub struct ProviderEnv {
    /// One shared HTTP client ([`super::http::client`]).
    pub http: reqwest::Client,
    /// The store, for state shared across processes (the UQPAY token).
    pub store: Store,
    /// How providers reach cardbatch's server (Alchemy `callbackUrl`, webhooks).
    pub public_url: String,
}

/// A profile whose client cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error("profiles.{profile}: {problem}")]
    Invalid { profile: String, problem: String },
}

/// The client for `profile`.
pub fn build(
    name: &str,
    profile: &Profile,
    credentials: &Credentials,
    env: &ProviderEnv,
) -> Result<Arc<dyn Provider>, BuildError> {
    match profile.provider {
        ProviderKind::QitechPrepaid => {
            super::qitech::build_prepaid(name, profile, credentials, env)
        }
        ProviderKind::QitechPostpaid => {
            super::qitech::build_postpaid(name, profile, credentials, env)
        }
        ProviderKind::AlchemypayVcc => super::alchemypay::build(name, profile, credentials, env),
        ProviderKind::Uqpay => super::uqpay::build(name, profile, credentials, env),
    }
}
