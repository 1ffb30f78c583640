//! Alchemy Pay virtual cards (VCC v1, seed 001; spec `alchemypay-vcc.md`).
//!
//! - `sign.rs`: the `ach-access-*` HMAC-SHA256 signature and the canonical JSON body.
//! - `wire.rs`: the create body and the response envelope (`activeLink` is never kept).
//! - `classify.rs`: the error-code table.
//! - `client.rs`: `POST /open/api/card/create` (the order's key is the `orderNo`) and
//!   `POST /open/api/card/info`; "already done" (`300001`/`600003`) reads as accepted.
//! - `reverse.rs`: the reverse-validation endpoint Alchemy Pay calls before creating a card.
//!
//! The card id arrives by callback (`{public_url}/webhooks/alchemypay`); until then the refs
//! are `{"order_no"}`. Resolving doubt without a card id is a re-send of the same orderNo.

mod callback_mac;
mod classify;
mod client;
mod reverse;
mod sign;
mod status;
mod wire;

pub use callback_mac::{callback_tag, callback_tag_matches};
pub use classify::{BALANCE_RETRY, CodeClass, TABLE as ERROR_TABLE, classify};
pub use client::{AlchemyPayClient, CREATE_PATH, INFO_PATH};
pub use reverse::{CREATE_CHECK_PATH, CheckKeys, SUCCESS_BODY, routes};
pub use sign::{AccessKey, SignedHeaders, canonical_json, signature};

use super::build::{BuildError, ProviderEnv};
use super::{Credentials, Provider};
use crate::config::Profile;
use std::sync::Arc;

/// Where Alchemy Pay sends creation callbacks, under the server's public URL.
pub const CALLBACK_PATH: &str = "/webhooks/alchemypay";

/// The client of an Alchemy Pay profile: credentials `access_key` and `secret_key`; the
/// callback URL is `{public_url}/webhooks/alchemypay` unless `options.callback_url` says
/// otherwise.
pub fn build(
    name: &str,
    profile: &Profile,
    credentials: &Credentials,
    env: &ProviderEnv,
) -> Result<Arc<dyn Provider>, BuildError> {
    let key = AccessKey {
        key: credentials.get(name, "access_key")?.to_string(),
        secret: credentials.get(name, "secret_key")?.to_string(),
    };
    let callback_url = profile
        .options
        .get("callback_url")
        .cloned()
        .unwrap_or_else(|| format!("{}{CALLBACK_PATH}", env.public_url.trim_end_matches('/')));
    let client =
        AlchemyPayClient::new(name, &profile.base_url, key, callback_url, env.http.clone())
            .map_err(|problem| BuildError::Invalid {
                profile: name.to_string(),
                problem,
            })?;
    Ok(Arc::new(client))
}
