//! `POST /webhooks/uqpay` (spec §9): `x-wk-signature` = lowercase hex
//! HMAC-SHA512(secret, raw body ‖ `x-wk-timestamp`), the timestamp in seconds or milliseconds
//! (≥ 10^12 means ms, as the SDKs read it) and within the tolerance of our clock. The event
//! key is the envelope's `event_id`.

use super::inbox::{ENDPOINT_UQPAY, event_key_hash, json_object, persist, stored_body, text};
use super::{Error, WebhookKeys, WebhookState, now_ms};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha512;

/// `lowercase_hex(HMAC_SHA512(secret, body ‖ timestamp))`.
pub fn sign(secret: &[u8], body: &[u8], timestamp: &str) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.update(timestamp.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a UQPAY signature against every UQPAY profile's secret and returns the profile
/// whose secret signed it.
pub fn verify(
    keys: &WebhookKeys,
    headers: &HeaderMap,
    body: &[u8],
    now_ms: i64,
) -> Result<String, Error> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let timestamp = header("x-wk-timestamp")
        .ok_or_else(|| Error::Unauthorized("no x-wk-timestamp header".into()))?;
    let signature = header("x-wk-signature")
        .ok_or_else(|| Error::Unauthorized("no x-wk-signature header".into()))?;
    let sent: i64 = timestamp.parse().map_err(|_| {
        Error::Unauthorized(format!("x-wk-timestamp `{timestamp}` is not a number"))
    })?;
    let sent_ms = if sent >= 1_000_000_000_000 {
        sent
    } else {
        sent.saturating_mul(1000)
    };
    let drift = now_ms.abs_diff(sent_ms);
    if u128::from(drift) > keys.tolerance.as_millis() {
        return Err(Error::Unauthorized(format!(
            "x-wk-timestamp is {drift} ms away from our clock"
        )));
    }
    let signature = hex::decode(signature)
        .map_err(|_| Error::Unauthorized("x-wk-signature is not hex".into()))?;
    for (profile, secret) in &keys.uqpay {
        let mut mac = Hmac::<Sha512>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(body);
        mac.update(timestamp.as_bytes());
        // `verify_slice` compares in constant time.
        if mac.verify_slice(&signature).is_ok() {
            return Ok(profile.clone());
        }
    }
    Err(Error::Unauthorized(
        "x-wk-signature matches no UQPAY profile's webhook_secret".into(),
    ))
}

pub(crate) async fn receive(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Error> {
    let profile = verify(&state.keys, &headers, &body, now_ms())?;
    let event = json_object(&body)?;
    let event_type = text(&event, "/event_type")
        .ok_or_else(|| Error::Malformed("no event_type".into()))?
        .to_string();
    // The SDKs deduplicate on `event_id`; without one the exact body is the key.
    let key = match text(&event, "/event_id") {
        Some(id) => id.to_string(),
        None => event_key_hash(&[&String::from_utf8_lossy(&body)]),
    };
    persist(
        &state,
        ENDPOINT_UQPAY,
        key,
        event_type,
        Some(profile),
        stored_body(event),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const NOW: i64 = 1_790_000_000_000;

    fn keys() -> WebhookKeys {
        let mut keys = WebhookKeys::new();
        keys.add_uqpay("first", b"one");
        keys.add_uqpay("second", b"two");
        keys
    }

    fn headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-wk-timestamp", HeaderValue::from_str(timestamp).unwrap());
        h.insert("x-wk-signature", HeaderValue::from_str(signature).unwrap());
        h
    }

    #[test]
    fn the_profile_whose_secret_signed_is_found_among_several() {
        let ts = NOW.to_string();
        let sig = sign(b"two", b"{}", &ts);
        assert_eq!(
            verify(&keys(), &headers(&ts, &sig), b"{}", NOW).unwrap(),
            "second"
        );
    }

    #[test]
    fn a_timestamp_in_seconds_is_read_as_seconds() {
        let ts = (NOW / 1000).to_string();
        let sig = sign(b"one", b"{}", &ts);
        assert_eq!(
            verify(&keys(), &headers(&ts, &sig), b"{}", NOW).unwrap(),
            "first"
        );
    }

    #[test]
    fn a_changed_body_is_refused() {
        let ts = NOW.to_string();
        let sig = sign(b"one", b"{}", &ts);
        let err = verify(&keys(), &headers(&ts, &sig), b"{ }", NOW).unwrap_err();
        assert!(matches!(err, Error::Unauthorized(_)), "{err}");
    }

    #[test]
    fn a_timestamp_older_than_five_minutes_is_refused_even_when_signed() {
        let ts = (NOW - 5 * 60 * 1000 - 1).to_string();
        let sig = sign(b"one", b"{}", &ts);
        let err = verify(&keys(), &headers(&ts, &sig), b"{}", NOW).unwrap_err();
        assert!(err.to_string().contains("away from our clock"), "{err}");
    }

    #[test]
    fn a_missing_signature_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-wk-timestamp",
            HeaderValue::from_str(&NOW.to_string()).unwrap(),
        );
        assert!(matches!(
            verify(&keys(), &h, b"{}", NOW),
            Err(Error::Unauthorized(_))
        ));
    }

    #[test]
    fn with_no_secret_configured_every_webhook_is_refused() {
        let ts = NOW.to_string();
        let sig = sign(b"one", b"{}", &ts);
        assert!(verify(&WebhookKeys::new(), &headers(&ts, &sig), b"{}", NOW).is_err());
    }
}
