//! From a verified body to an inbox row: the event's de-duplication key, then the insert.

use super::{Error, WebhookState};
use crate::domain::card_data::scrub_card_data;
use crate::store::NewWebhookEvent;
use axum::http::StatusCode;
use sha2::{Digest, Sha256};

/// `webhook_events.endpoint` of UQPAY events.
pub const ENDPOINT_UQPAY: &str = "uqpay";
/// `webhook_events.endpoint` of QI Tech events.
pub const ENDPOINT_QITECH: &str = "qitech";
/// `webhook_events.endpoint` of Alchemy Pay callbacks.
pub const ENDPOINT_ALCHEMYPAY: &str = "alchemypay";

/// A composite key as stored: SHA-256 hex of the parts, each ended by a newline, so no two
/// different part lists share a key.
pub fn event_key_hash(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update(b"\n");
    }
    hex::encode(hash.finalize())
}

/// The text stored for an event: the parsed body scrubbed of card data. Card secrets (Alchemy
/// Pay's CREATE_CARD carries the number, CVC and expiry) never reach the database: only the
/// last four digits are kept.
pub(crate) fn stored_body(mut event: serde_json::Value) -> String {
    scrub_card_data(&mut event);
    event.to_string()
}

/// Persists the event (its [`stored_body`]) through the group-commit writer (a duplicate is
/// recognised by its key and not written again); only once it is committed may the endpoint
/// answer 200.
pub(crate) async fn persist(
    state: &WebhookState,
    endpoint: &str,
    event_key: String,
    event_type: String,
    profile: Option<String>,
    body: String,
) -> Result<StatusCode, Error> {
    let event = NewWebhookEvent {
        endpoint: endpoint.to_string(),
        event_key,
        event_type,
        profile,
        body,
    };
    let key = event.event_key.clone();
    let new = state
        .writer
        .write(event)
        .await
        .map_err(Error::Unavailable)?;
    if !new {
        tracing::debug!(endpoint, %key, "duplicate webhook acknowledged");
    }
    Ok(StatusCode::OK)
}

/// The body as a JSON object.
pub(crate) fn json_object(body: &[u8]) -> Result<serde_json::Value, Error> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| Error::Malformed(format!("not JSON: {e}")))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(Error::Malformed("not a JSON object".into()))
    }
}

/// A string field at `pointer`, if present and non-empty.
pub(crate) fn text<'a>(value: &'a serde_json::Value, pointer: &str) -> Option<&'a str> {
    value
        .pointer(pointer)
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
}
