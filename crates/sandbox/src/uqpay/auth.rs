//! `POST /v1/connect/token` and the `x-auth-token: Bearer ...` check.
//!
//! Tokens are HS256 JWTs as UQPAY's are, signed with [`TOKEN_SECRET`], whose claims the official
//! SDKs decode into their account context (spec §2.1, `uqpay/auth.py`): `entity_id`,
//! `short_entity_id`, `parent_entity_id`, `client_id`, `api_version`, `bus_type`, plus
//! `account_id`, `iss: "uqpay"`, `iat`, `exp` and a `jti` that keeps two tokens of the same second
//! apart. The sandbox also keeps every token it issued, so it can tell a revoked or expired token
//! (401 `token has expired`, the message the official SDKs refresh on) from one it never issued
//! (401 `invalid auth token`). Only one token per client is active: issuing a new one revokes the
//! older ones (card-issuance FAQ).
//!
//! \[inferred\] claim values: the fixtures are one account, [`ACCOUNT_ID`] (short id
//! [`SHORT_ACCOUNT_ID`]), a top-level account (empty `parent_entity_id`), `api_version`
//! `V1.6.0` as the webhooks' `version`, `bus_type` `ISSUING`.

use super::Uqpay;
use super::wire::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;

/// Token lifetime: 30 minutes.
pub const TOKEN_TTL_SECS: i64 = 30 * 60;

/// The HS256 key of the sandbox's tokens. A development value: clients never verify it (the
/// SDKs only decode the claims), and tests verify with it.
pub const TOKEN_SECRET: &str = "uqpay-sandbox-token-secret";

/// The account the fixtures describe: the tokens' `entity_id` and `account_id`.
pub const ACCOUNT_ID: &str = "8b1f3c2e-6d4a-4f7b-9e0c-5a2d7f1b3c94";

/// That account's short id, the tokens' `short_entity_id`.
pub const SHORT_ACCOUNT_ID: &str = "P20260410";

#[derive(Debug, Clone)]
struct Issued {
    client_id: String,
    expires_at: i64,
    revoked: bool,
}

/// Every token issued, and the active one per client.
#[derive(Debug)]
pub struct TokenStore {
    key: Vec<u8>,
    tokens: Mutex<HashMap<String, Issued>>,
    active: Mutex<HashMap<String, String>>,
    counter: std::sync::atomic::AtomicU64,
}

impl TokenStore {
    /// A store signing with [`TOKEN_SECRET`].
    pub fn new() -> TokenStore {
        TokenStore {
            key: TOKEN_SECRET.as_bytes().to_vec(),
            tokens: Mutex::new(HashMap::new()),
            active: Mutex::new(HashMap::new()),
            counter: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Issues a token for `client_id` at `now` (Unix seconds), revoking its previous ones.
    pub fn issue(&self, client_id: &str, now: i64) -> (String, i64) {
        let expires_at = now + TOKEN_TTL_SECS;
        let jti = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = json!({
            "entity_id": ACCOUNT_ID,
            "account_id": ACCOUNT_ID,
            "short_entity_id": SHORT_ACCOUNT_ID,
            "parent_entity_id": "",
            "client_id": client_id,
            "api_version": "V1.6.0",
            "bus_type": "ISSUING",
            "iss": "uqpay",
            "iat": now,
            "exp": expires_at,
            "jti": format!("{jti}-{}", uuid::Uuid::new_v4()),
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(format!("{header}.{claims}").as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        let token = format!("{header}.{claims}.{sig}");

        let mut tokens = self.tokens.lock().expect("tokens lock");
        let mut active = self.active.lock().expect("active lock");
        if let Some(old) = active.insert(client_id.to_string(), token.clone())
            && let Some(old) = tokens.get_mut(&old)
        {
            old.revoked = true;
        }
        tokens.insert(
            token.clone(),
            Issued {
                client_id: client_id.to_string(),
                expires_at,
                revoked: false,
            },
        );
        (token, expires_at)
    }

    /// The client a token belongs to, if it is active and unexpired at `now`.
    pub fn verify(&self, token: &str, now: i64) -> Result<String, ApiError> {
        let tokens = self.tokens.lock().expect("tokens lock");
        let issued = tokens
            .get(token)
            .ok_or(ApiError::Unauthorized("invalid auth token"))?;
        if issued.revoked || now >= issued.expires_at {
            return Err(ApiError::Unauthorized("token has expired"));
        }
        Ok(issued.client_id.clone())
    }
}

/// The client behind a request's `x-auth-token`.
pub fn authenticate(uqpay: &Uqpay, headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get("x-auth-token")
        .ok_or(ApiError::Unauthorized("missing auth token"))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("invalid auth token format"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or(ApiError::Unauthorized("invalid auth token format"))?
        .trim();
    uqpay.tokens.verify(token, uqpay.core.clock.now_secs())
}

/// `POST /v1/connect/token` with `x-client-id` and `x-api-key`.
pub async fn token(State(uqpay): State<Arc<Uqpay>>, headers: HeaderMap) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let client_id = header("x-client-id").unwrap_or_default();
    let settings = uqpay.settings();
    let known = !client_id.is_empty()
        && (settings.credentials.contains_key(client_id)
            || uqpay
                .core
                .fixtures
                .uqpay
                .client_ids
                .iter()
                .any(|c| c == client_id));
    if !known {
        return ApiError::Legacy {
            status: StatusCode::BAD_REQUEST,
            code: 400,
            message: "Invalid client id".into(),
        }
        .into_response();
    }
    // A fixture client id without a configured key uses the development key.
    let expected = settings
        .credentials
        .get(client_id)
        .map(String::as_str)
        .unwrap_or(crate::config::DEV_UQPAY_API_KEY);
    if header("x-api-key") != Some(expected) {
        return ApiError::Unauthorized("invalid api key").into_response();
    }
    if let Err(e) = uqpay.rate_limit(&format!("token:{client_id}")) {
        return e.into_response();
    }
    let (auth_token, expired_at) = uqpay.tokens.issue(client_id, uqpay.core.clock.now_secs());
    Json(json!({ "auth_token": auth_token, "expired_at": expired_at })).into_response()
}
