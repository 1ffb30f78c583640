//! QI Tech prepaid and postpaid clients (being built).

use super::build::{BuildError, ProviderEnv};
use super::{Credentials, Provider};
use crate::config::Profile;
use std::sync::Arc;

pub fn build_prepaid(
    name: &str,
    _: &Profile,
    _: &Credentials,
    _: &ProviderEnv,
) -> Result<Arc<dyn Provider>, BuildError> {
    Err(BuildError::Invalid {
        profile: name.into(),
        problem: "the QI Tech client is not built yet".into(),
    })
}

pub fn build_postpaid(
    name: &str,
    _: &Profile,
    _: &Credentials,
    _: &ProviderEnv,
) -> Result<Arc<dyn Provider>, BuildError> {
    Err(BuildError::Invalid {
        profile: name.into(),
        problem: "the QI Tech client is not built yet".into(),
    })
}
