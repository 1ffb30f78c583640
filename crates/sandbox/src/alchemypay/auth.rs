//! `ach-access-key` / `ach-access-timestamp` / `ach-access-sign`:
//! `Base64(HMAC_SHA256(secret, timestamp + METHOD + requestPath + canonical body))`.
//!
//! The canonical body: object keys sorted, `null`, `""`, `[]` and `{}` removed (recursively,
//! after their own cleaning), compact JSON. The request path is the full path as received (the
//! `/alchemypay` prefix included) or the path relative to that mount (as at Alchemy Pay, where
//! `requestPath` is `/open/api/card/create`), with its query string; a signature over the query parameters
//! sorted by name is accepted too, since the docs disagree on their order. [inferred] Array
//! elements keep their order (no VCC request carries an array). Unknown access key: 300002
//! "Merchant information does not exist".

use super::wire::AchError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::BTreeMap;

/// The signing window: 60 s either way.
pub const TIMESTAMP_WINDOW_MS: i64 = 60_000;

/// Alchemy Pay's canonical form of a JSON value (`None` when the value is removed entirely).
pub fn canonical_value(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(canonical_value).collect();
            (!parts.is_empty()).then(|| format!("[{}]", parts.join(",")))
        }
        Value::Object(map) => {
            // Sorted explicitly, whatever serde_json's map order is.
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            let parts: Vec<String> = sorted
                .into_iter()
                .filter_map(|(k, v)| {
                    canonical_value(v).map(|v| format!("{}:{v}", Value::String(k.clone())))
                })
                .collect();
            (!parts.is_empty()).then(|| format!("{{{}}}", parts.join(",")))
        }
        other => Some(other.to_string()),
    }
}

/// The canonical body string of raw request bytes (empty for an empty body; the raw text when
/// it is not JSON).
pub fn canonical_body(body: &[u8]) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        return String::new();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => canonical_value(&v).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

/// The signature of a message.
pub fn sign(
    secret: &str,
    timestamp: &str,
    method: &str,
    path: &str,
    canonical_body: &str,
) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(method.as_bytes());
    mac.update(path.as_bytes());
    mac.update(canonical_body.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `path?b=2&a=1` -> `path?a=1&b=2`.
fn with_sorted_query(path_and_query: &str) -> Option<String> {
    let (path, query) = path_and_query.split_once('?')?;
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    params.sort_unstable();
    Some(format!("{path}?{}", params.join("&")))
}

/// Whether `given` signs the message, with the path as given or its query sorted.
pub fn signature_matches(
    secret: &str,
    timestamp: &str,
    method: &str,
    path_and_query: &str,
    canonical_body: &str,
    given: &str,
) -> bool {
    let candidates =
        std::iter::once(path_and_query.to_string()).chain(with_sorted_query(path_and_query));
    candidates.into_iter().any(|path| {
        // Comparing the MACs' Base64 forms: both are public-length strings; timing leaks
        // nothing worth protecting in a sandbox.
        sign(secret, timestamp, method, &path, canonical_body) == given
    })
}

/// The headers of one signed message.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub key: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub sign: Option<&'a str>,
}

/// Checks a signed message; `secret_of` gives the secret of an access key. Returns the access
/// key. Errors: 200001 (missing header), 300002 (unknown key), 200002 (timestamp not 13 digits),
/// 200005 (outside the window), 200006 (wrong signature). `paths`: the request's path and
/// query as received and relative to the sandbox's mount; a signature over either is accepted.
pub fn verify(
    signed: Signed<'_>,
    secret_of: impl Fn(&str) -> Option<String>,
    now_ms: i64,
    method: &str,
    paths: &[&str],
    body: &[u8],
) -> Result<String, AchError> {
    let key = signed
        .key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| AchError::null("ach-access-key"))?;
    let timestamp = signed
        .timestamp
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AchError::null("ach-access-timestamp"))?;
    let given = signed
        .sign
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AchError::null("ach-access-sign"))?;
    let secret = secret_of(key)
        .ok_or_else(|| AchError::new(300002, "Merchant information does not exist"))?;
    let ts: i64 = timestamp
        .parse()
        .ok()
        .filter(|_| timestamp.len() == 13 && timestamp.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            AchError::param("ach-access-timestamp", ", expected 13-digit milliseconds")
        })?;
    if (now_ms - ts).abs() > TIMESTAMP_WINDOW_MS {
        return Err(AchError::new(
            200005,
            "Ach access timestamp is not within the validity period (1 minute)",
        ));
    }
    let canonical = canonical_body(body);
    if !paths
        .iter()
        .any(|path| signature_matches(&secret, timestamp, method, path, &canonical, given))
    {
        return Err(AchError::new(200006, "signature error"));
    }
    Ok(key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_canonical_body_sorts_keys_and_drops_empty_values() {
        let v = json!({"b": 1, "a": {"z": "", "y": null, "x": [], "w": {}, "v": "k"}, "c": [{}], "d": "é"});
        assert_eq!(
            canonical_value(&v).unwrap(),
            r#"{"a":{"v":"k"},"b":1,"d":"é"}"#
        );
        assert_eq!(canonical_body(b"  "), "");
    }

    #[test]
    fn a_signature_over_sorted_query_parameters_is_accepted() {
        let s = sign("k", "1538054050234", "GET", "/x?a=1&b=2", "");
        assert!(signature_matches(
            "k",
            "1538054050234",
            "GET",
            "/x?b=2&a=1",
            "",
            &s
        ));
        assert!(!signature_matches(
            "other",
            "1538054050234",
            "GET",
            "/x?b=2&a=1",
            "",
            &s
        ));
    }
}
