//! `POST /webhooks/qitech` (prepaid spec §9.3, the same for postpaid): `AUTHORIZATION` is an
//! ES512 JWT signed by QI whose claims are `payload_md5` (MD5 hex of the exact body),
//! `method`, `uri` (our endpoint's path) and `timestamp` (within the tolerance of our clock).
//! The card webhook has no event id, so its key is the documented composite
//! `(webhook_type, data.card_key, data.status, event_datetime)`, hashed.

use super::inbox::{ENDPOINT_QITECH, event_key_hash, json_object, persist, text};
use super::{Error, WebhookKeys, WebhookState, now_ms};
use crate::providers::qitech::verify_jws;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use md5::{Digest, Md5};
use serde_json::Value;

/// Checks a QI v2 webhook signature against every QI profile's public key; returns the
/// profile whose key verified it. `path` is the path the request arrived at.
pub fn verify(
    keys: &WebhookKeys,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
    now_ms: i64,
) -> Result<String, Error> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::Unauthorized("no AUTHORIZATION header".into()))?;
    let (profile, claims) = keys
        .qitech
        .iter()
        .find_map(|(profile, key)| verify_jws(key, token).ok().map(|c| (profile, c)))
        .ok_or_else(|| {
            Error::Unauthorized("the JWT verifies with no QI profile's public key".into())
        })?;
    let claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let md5 = hex::encode(Md5::digest(body));
    if !claim("payload_md5").eq_ignore_ascii_case(&md5) {
        return Err(Error::Unauthorized(
            "payload_md5 is not the body's MD5".into(),
        ));
    }
    if !claim("method").eq_ignore_ascii_case(method) {
        return Err(Error::Unauthorized(format!(
            "signed for method `{}`, received {method}",
            claim("method")
        )));
    }
    if claim("uri") != path {
        return Err(Error::Unauthorized(format!(
            "signed for uri `{}`, received at {path}",
            claim("uri")
        )));
    }
    let signed_at = chrono::DateTime::parse_from_rfc3339(claim("timestamp"))
        .map_err(|_| Error::Unauthorized("the timestamp claim is not RFC 3339".into()))?
        .timestamp_millis();
    let drift = now_ms.abs_diff(signed_at);
    if u128::from(drift) > keys.tolerance.as_millis() {
        return Err(Error::Unauthorized(format!(
            "the timestamp claim is {drift} ms away from our clock"
        )));
    }
    Ok(profile.clone())
}

pub(crate) async fn receive(
    State(state): State<WebhookState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Error> {
    let profile = verify(&state.keys, &headers, "POST", uri.path(), &body, now_ms())?;
    let event = json_object(&body)?;
    let webhook_type = text(&event, "/webhook_type")
        .ok_or_else(|| Error::Malformed("no webhook_type".into()))?
        .to_string();
    let key = match (
        text(&event, "/data/card_key"),
        text(&event, "/event_datetime"),
    ) {
        (Some(card_key), Some(at)) => event_key_hash(&[
            &webhook_type,
            card_key,
            text(&event, "/data/status").unwrap_or_default(),
            at,
        ]),
        // Other QI webhooks (balance transactions, invoices) have a `key` of their own, or
        // else the exact body identifies them.
        _ => match text(&event, "/key") {
            Some(k) => event_key_hash(&[&webhook_type, k]),
            None => event_key_hash(&[&String::from_utf8_lossy(&body)]),
        },
    };
    persist(
        &state,
        ENDPOINT_QITECH,
        key,
        webhook_type,
        Some(profile),
        &body,
    )
    .await
}
