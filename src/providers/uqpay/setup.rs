//! Building a UQPAY profile's client and its token manager from the profile and credentials.

use super::client::UqpayClient;
use super::token::{TokenManager, TokenSource};
use crate::config::Profile;
use crate::providers::{BuildError, Credentials, Provider, ProviderEnv};
use std::sync::Arc;

/// The client of a UQPAY profile, typed (tests reach its token manager through it).
/// Credentials: `client_id` and `api_key`. Options: `on_behalf_of` (an Issuing sub-account id,
/// sent as `x-on-behalf-of`).
///
/// Call it once per profile per process: the client it returns owns the profile's token
/// manager, and every worker of the profile must share it (a second manager stays correct,
/// through the database, but costs extra reads).
pub fn client(
    name: &str,
    profile: &Profile,
    credentials: &Credentials,
    env: &ProviderEnv,
) -> Result<UqpayClient, BuildError> {
    let base_url = profile.base_url.trim_end_matches('/');
    let source = TokenSource {
        profile: name.to_string(),
        url: format!("{base_url}/v1/connect/token"),
        client_id: credentials.get(name, "client_id")?.to_string(),
        api_key: credentials.get(name, "api_key")?.to_string(),
    };
    let tokens = Arc::new(TokenManager::new(
        source,
        env.http.clone(),
        env.store.clone(),
    ));
    let on_behalf_of = profile.options.get("on_behalf_of").cloned();
    Ok(UqpayClient::new(
        name,
        base_url,
        on_behalf_of,
        env.http.clone(),
        tokens,
    ))
}

/// The client of a UQPAY profile, as the issuing worker uses it (see [`client`]).
pub fn build(
    name: &str,
    profile: &Profile,
    credentials: &Credentials,
    env: &ProviderEnv,
) -> Result<Arc<dyn Provider>, BuildError> {
    Ok(Arc::new(client(name, profile, credentials, env)?))
}
