//! alchemypay client (being built).

use super::build::{BuildError, ProviderEnv};
use super::{Credentials, Provider};
use crate::config::Profile;
use std::sync::Arc;

pub fn build(
    name: &str,
    _: &Profile,
    _: &Credentials,
    _: &ProviderEnv,
) -> Result<Arc<dyn Provider>, BuildError> {
    Err(BuildError::Invalid {
        profile: name.into(),
        problem: "the alchemypay client is not built yet".into(),
    })
}
