//! Reverse validation ("anti-check", spec §2.3): before creating a card, Alchemy Pay calls
//! `GET /alchemypay/create-check?orderNo=<orderNo>` on cardbatch and goes on only if the answer
//! says yes, signed. cardbatch says yes only for an `orderNo` that is one of its Alchemy Pay
//! orders *in flight*, that is, one a worker is sending right now; a forged or replayed create
//! therefore fails with `200008`.
//!
//! The answers ([inferred]: the docs say only "the response result should be success"):
//! - yes: HTTP 200, `content-type: text/plain`, body `success`, with `ach-access-key` (the
//!   order's profile's key), `ach-access-timestamp` (ms) and `ach-access-sign` =
//!   Base64(HMAC-SHA256(secret, timestamp + "GET" + path and query as received + "success"));
//! - no: an unsigned JSON body `{"success":false,"msg":...}` with HTTP 400 (no `orderNo`),
//!   404 (no Alchemy Pay order has this key), 409 (the order exists but is not in flight),
//!   500 (no credentials for the order's profile) or 503 (the database could not be read).
//!   Alchemy Pay reads any non-2xx as a refusal (`200008`), so the status only helps operators.

use super::sign::{ACCESS_KEY, ACCESS_SIGN, ACCESS_TIMESTAMP, AccessKey};
use crate::config::{Config, Profile};
use crate::domain::{OrderState, ProviderKind};
use crate::providers::{CredentialError, Credentials};
use crate::store::Store;
use axum::Router;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where Alchemy Pay's create check lands (give this URL to Alchemy Pay at onboarding).
pub const CREATE_CHECK_PATH: &str = "/alchemypay/create-check";
/// The body of a yes.
pub const SUCCESS_BODY: &str = "success";

/// The access keys that sign check answers, per profile name, and the path Alchemy Pay calls
/// us under.
#[derive(Debug, Clone, Default)]
pub struct CheckKeys {
    keys: BTreeMap<String, AccessKey>,
    /// The path of `server.public_url` (empty at a host's root): a proxy that serves cardbatch
    /// under it strips it, but Alchemy Pay signs and verifies the path it called.
    public_path: String,
}

impl CheckKeys {
    /// No keys yet.
    pub fn new() -> CheckKeys {
        CheckKeys::default()
    }

    /// Adds the `access_key` / `secret_key` credentials of an Alchemy Pay profile.
    pub fn add_profile(
        &mut self,
        profile_name: &str,
        credentials: &Credentials,
    ) -> Result<(), CredentialError> {
        let key = AccessKey {
            key: credentials.get(profile_name, "access_key")?.to_string(),
            secret: credentials.get(profile_name, "secret_key")?.to_string(),
        };
        self.keys.insert(profile_name.to_string(), key);
        Ok(())
    }

    /// The keys of every Alchemy Pay profile of `config`, each read with `credentials_of`
    /// (normally [`Credentials::from_env`]).
    pub fn from_config(
        config: &Config,
        credentials_of: impl Fn(&str, &Profile) -> Result<Credentials, CredentialError>,
    ) -> Result<CheckKeys, CredentialError> {
        let mut keys = CheckKeys::new();
        for (name, profile) in &config.profiles {
            if profile.provider == ProviderKind::AlchemypayVcc {
                keys.add_profile(name, &credentials_of(name, profile)?)?;
            }
        }
        Ok(keys)
    }

    /// Adds a key directly.
    pub fn insert(&mut self, profile_name: &str, key: AccessKey) {
        self.keys.insert(profile_name.to_string(), key);
    }

    /// The path Alchemy Pay reaches us under ([`crate::config::Config::public_path`]): it
    /// prefixes the path it calls.
    pub fn with_public_path(mut self, public_path: &str) -> CheckKeys {
        self.public_path = public_path.to_string();
        self
    }

    /// No profile has a key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

struct CheckState {
    store: Store,
    keys: CheckKeys,
}

/// The reverse-validation routes (`GET /alchemypay/create-check`), ready to merge into the
/// server's router.
pub fn routes(store: Store, keys: CheckKeys) -> Router {
    Router::new()
        .route(CREATE_CHECK_PATH, get(create_check))
        .with_state(Arc::new(CheckState { store, keys }))
}

#[derive(Debug, Deserialize)]
struct CheckQuery {
    #[serde(rename = "orderNo", default)]
    order_no: Option<String>,
}

fn refuse(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({ "success": false, "msg": msg }))).into_response()
}

async fn create_check(
    State(state): State<Arc<CheckState>>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<CheckQuery>,
) -> Response {
    let Some(order_no) = query.order_no.filter(|n| !n.is_empty()) else {
        return refuse(StatusCode::BAD_REQUEST, "orderNo is required");
    };
    let order = match state
        .store
        .order_lookup_by_key(ProviderKind::AlchemypayVcc, &order_no)
        .await
    {
        Ok(order) => order,
        Err(e) => {
            tracing::error!(error = %e, "alchemypay create check: the order could not be read");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "try again");
        }
    };
    let Some(order) = order else {
        tracing::warn!(
            order_no = %crate::domain::text::log_safe(&order_no),
            "alchemypay create check for an unknown orderNo"
        );
        return refuse(StatusCode::NOT_FOUND, "unknown orderNo");
    };
    if order.state != OrderState::InFlight {
        tracing::warn!(
            order_id = order.id,
            state = %order.state,
            "alchemypay create check for an order that is not in flight"
        );
        return refuse(StatusCode::CONFLICT, "orderNo is not being sent");
    }
    let Some(key) = state.keys.keys.get(&order.profile) else {
        tracing::error!(
            profile = %order.profile,
            "alchemypay create check: no access key for the order's profile"
        );
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "not configured");
    };
    // The path and query Alchemy Pay called, which it verifies against: as received, under the
    // public URL's path when a proxy serves us there (a proxy that kept the prefix would not
    // have reached this route).
    let received = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| uri.path().to_string());
    let request_path = format!("{}{received}", state.keys.public_path);
    let signed = key.sign(
        chrono::Utc::now().timestamp_millis(),
        "GET",
        &request_path,
        SUCCESS_BODY,
    );
    let mut response = (StatusCode::OK, SUCCESS_BODY).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    for (name, value) in [
        (ACCESS_KEY, signed.key),
        (ACCESS_TIMESTAMP, signed.timestamp),
        (ACCESS_SIGN, signed.sign),
    ] {
        match HeaderValue::from_str(&value) {
            Ok(v) => {
                headers.insert(name, v);
            }
            Err(_) => {
                tracing::error!(
                    header = name,
                    "alchemypay create check: unusable header value"
                );
                return refuse(StatusCode::INTERNAL_SERVER_ERROR, "not configured");
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_taken_from_every_alchemy_profile_and_only_those() {
        let config = Config::builtin();
        let keys = CheckKeys::from_config(&config, |name, _| {
            Ok(Credentials::from_pairs([
                ("access_key", format!("key-of-{name}")),
                ("secret_key", "s".to_string()),
            ]))
        })
        .unwrap();
        assert_eq!(
            keys.keys.keys().collect::<Vec<_>>(),
            [ProviderKind::AlchemypayVcc.as_str()]
        );
        assert_eq!(keys.keys["alchemypay_vcc"].key, "key-of-alchemypay_vcc");
    }

    #[test]
    fn a_profile_without_its_secret_is_an_error_naming_it() {
        let err = CheckKeys::from_config(&Config::builtin(), |_, _| {
            Ok(Credentials::from_pairs([("access_key", "k")]))
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("secret_key"), "{err}");
    }
}
