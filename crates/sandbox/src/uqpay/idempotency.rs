//! `x-idempotency-key`: the first answer to a (client, key) is replayed for 24 hours; a repeat
//! while the original is still being processed gets 400 `{"code":200,"message":"Request is
//! processing..."}`; the same key with a different body is an `idempotency_error`.
//!
//! [inferred] Bodies are compared as parsed JSON (so whitespace and key order do not matter).
//! Every final answer is cached, errors included (the FAQ's truncated sentence about failed
//! originals), except the injected 5xx: UQPAY documents those as "safe to retry with the same
//! key", so they release the key.

use super::auth::authenticate;
use super::wire::{ApiError, PROCESSING_MESSAGE};
use super::{PROVIDER, Uqpay};
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// How long an answer is replayed.
pub const REPLAY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Longest key accepted (the SDKs' gateway contract).
pub const MAX_KEY_LEN: usize = 64;

#[derive(Debug, Clone)]
enum State {
    InFlight,
    Done { status: StatusCode, body: Value },
}

#[derive(Debug, Clone)]
struct Entry {
    fingerprint: [u8; 32],
    at_ms: i64,
    state: State,
}

/// What to do with a request carrying a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Begin {
    /// First time (or the old answer expired): process it; the key is now in flight.
    Proceed,
    /// Answer this again.
    Replay(StatusCode, Value),
    /// The original is still being processed.
    Processing,
    /// The key was used with a different body.
    Conflict,
}

/// The cached answers per (client, key).
#[derive(Debug, Default)]
pub struct IdempotencyStore {
    entries: Mutex<HashMap<(String, String), Entry>>,
}

/// A body's fingerprint: SHA-256 of its canonical JSON, or of the raw bytes if it is not JSON.
pub fn fingerprint(body: &[u8]) -> [u8; 32] {
    // serde_json's map is ordered by key, so re-serialising canonicalises key order.
    let canonical = serde_json::from_slice::<Value>(body)
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_else(|_| body.to_vec());
    Sha256::digest(&canonical).into()
}

/// The request's `x-idempotency-key`: required on every UQPAY write, at most [`MAX_KEY_LEN`].
pub fn required_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    let key = headers
        .get("x-idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(ApiError::idempotency(
            "invalid_idempotency_key",
            format!("x-idempotency-key is required and at most {MAX_KEY_LEN} characters"),
        ));
    }
    Ok(key)
}

/// Takes `key` for a request of `client` with this `fingerprint`: `None` when the request is
/// to be processed (the key is now in flight; `finish` or `abandon` it), the replayed answer
/// when the key already has one, an error while it is in flight or used with another request.
pub fn take_key(
    uqpay: &Uqpay,
    client: &str,
    key: &str,
    fingerprint: [u8; 32],
) -> Result<Option<Response>, ApiError> {
    let core = &uqpay.core;
    match uqpay
        .idempotency
        .begin(client, key, fingerprint, core.clock.now_ms())
    {
        Begin::Proceed => Ok(None),
        Begin::Replay(status, body) => {
            core.stats.incr(PROVIDER, "idempotent_replays");
            Ok(Some((status, Json(body)).into_response()))
        }
        Begin::Processing => Err(ApiError::Legacy {
            status: StatusCode::BAD_REQUEST,
            code: 200,
            message: PROCESSING_MESSAGE.into(),
        }),
        Begin::Conflict => Err(ApiError::idempotency(
            "key_conflict",
            "x-idempotency-key was already used with a different request",
        )),
    }
}

/// The fingerprint of a request on the resource `id` (a path parameter): the same key used for
/// another resource is another request.
pub fn fingerprint_for(id: &str, body: &[u8]) -> [u8; 32] {
    let mut keyed = id.as_bytes().to_vec();
    keyed.extend_from_slice(&fingerprint(body));
    fingerprint(&keyed)
}

/// A write under `x-idempotency-key` whose answer is made at once: authenticates, counts it
/// against the client's rate limit, takes the key (or replays its answer), serves the latency,
/// then caches and answers what `write` makes for the client (its error included).
pub async fn keyed_write(
    uqpay: &Uqpay,
    headers: &HeaderMap,
    fingerprint: [u8; 32],
    write: impl FnOnce(&str) -> Result<Value, ApiError>,
) -> Result<Response, ApiError> {
    let client = authenticate(uqpay, headers)?;
    uqpay.rate_limit(&client)?;
    let key = required_key(headers)?;
    if let Some(replay) = take_key(uqpay, &client, key, fingerprint)? {
        return Ok(replay);
    }
    let core = &uqpay.core;
    core.latency(PROVIDER).await;
    let (status, answer) = match write(&client) {
        Ok(answer) => (StatusCode::OK, answer),
        Err(e) => e.parts(),
    };
    uqpay
        .idempotency
        .finish(&client, key, status, answer.clone(), core.clock.now_ms());
    Ok((status, Json(answer)).into_response())
}

impl IdempotencyStore {
    /// Looks the key up and, when the request should be processed, marks it in flight.
    pub fn begin(&self, client: &str, key: &str, fingerprint: [u8; 32], now_ms: i64) -> Begin {
        let mut entries = self.entries.lock().expect("idempotency lock");
        let id = (client.to_string(), key.to_string());
        if let Some(entry) = entries.get(&id) {
            let expired = now_ms - entry.at_ms >= REPLAY_WINDOW_MS;
            if !expired || matches!(entry.state, State::InFlight) {
                if entry.fingerprint != fingerprint {
                    return Begin::Conflict;
                }
                return match &entry.state {
                    State::InFlight => Begin::Processing,
                    State::Done { status, body } => Begin::Replay(*status, body.clone()),
                };
            }
        }
        entries.insert(
            id,
            Entry {
                fingerprint,
                at_ms: now_ms,
                state: State::InFlight,
            },
        );
        Begin::Proceed
    }

    /// Stores the final answer of an in-flight key.
    pub fn finish(&self, client: &str, key: &str, status: StatusCode, body: Value, now_ms: i64) {
        let mut entries = self.entries.lock().expect("idempotency lock");
        if let Some(entry) = entries.get_mut(&(client.to_string(), key.to_string())) {
            entry.state = State::Done { status, body };
            entry.at_ms = now_ms;
        }
    }

    /// Releases an in-flight key without an answer to replay.
    pub fn abandon(&self, client: &str, key: &str) {
        self.entries
            .lock()
            .expect("idempotency lock")
            .remove(&(client.to_string(), key.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_is_processing_then_replayed_then_forgotten_after_a_day() {
        let store = IdempotencyStore::default();
        let fp = fingerprint(br#"{"a":1,"b":2}"#);
        assert_eq!(store.begin("c", "k", fp, 0), Begin::Proceed);
        assert_eq!(store.begin("c", "k", fp, 1), Begin::Processing);
        store.finish("c", "k", StatusCode::OK, json!({"card_id": "x"}), 2);
        let same_body_reordered = fingerprint(br#"{ "b": 2, "a": 1 }"#);
        assert_eq!(
            store.begin("c", "k", same_body_reordered, 3),
            Begin::Replay(StatusCode::OK, json!({"card_id": "x"}))
        );
        assert_eq!(
            store.begin("c", "k", fingerprint(b"{}"), 4),
            Begin::Conflict
        );
        assert_eq!(
            store.begin("other", "k", fp, 5),
            Begin::Proceed,
            "per client"
        );
        assert_eq!(
            store.begin("c", "k", fp, 2 + REPLAY_WINDOW_MS),
            Begin::Proceed
        );
    }
}
