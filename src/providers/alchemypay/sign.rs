//! The `ach-access-*` signature, written from the spec (§2.1), not shared with the sandbox:
//! `ach-access-sign = Base64(HMAC_SHA256(secret, timestamp + METHOD + requestPath + body))`,
//! with the timestamp in Unix milliseconds (13 digits) and the body in canonical form.
//!
//! The canonical body: object keys sorted, `null`, `""`, `[]` and `{}` removed (recursively,
//! after their own cleaning), compact JSON. cardbatch sends exactly the canonical text it
//! signed, so the provider's canonicalisation of the received body cannot differ from ours.
//! Arrays keep their order: no VCC request carries one, and the spec's "sorted by type" rule
//! for lists is not pinned by any example.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use std::fmt;

/// Header carrying the access key (the merchant's app key).
pub const ACCESS_KEY: &str = "ach-access-key";
/// Header carrying the signing time in Unix milliseconds.
pub const ACCESS_TIMESTAMP: &str = "ach-access-timestamp";
/// Header carrying the Base64 HMAC-SHA256 signature.
pub const ACCESS_SIGN: &str = "ach-access-sign";

/// An access key and its secret. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The `ach-access-key` value.
    pub key: String,
    /// The HMAC key.
    pub secret: String,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The three headers of one signed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `ach-access-key`.
    pub key: String,
    /// `ach-access-timestamp`.
    pub timestamp: String,
    /// `ach-access-sign`.
    pub sign: String,
}

impl AccessKey {
    /// Signs `METHOD requestPath body` at `timestamp_ms`. `body` must already be canonical
    /// (see [`canonical_json`]); `request_path` is the path as sent, with its query string.
    pub fn sign(
        &self,
        timestamp_ms: i64,
        method: &str,
        request_path: &str,
        body: &str,
    ) -> SignedHeaders {
        let timestamp = timestamp_ms.to_string();
        SignedHeaders {
            key: self.key.clone(),
            sign: signature(&self.secret, &timestamp, method, request_path, body),
            timestamp,
        }
    }
}

/// `Base64(HMAC_SHA256(secret, timestamp + method + request_path + body))`.
pub fn signature(
    secret: &str,
    timestamp: &str,
    method: &str,
    request_path: &str,
    body: &str,
) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts a key of any length");
    mac.update(signing_message(timestamp, method, request_path, body).as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The string that is signed.
pub fn signing_message(timestamp: &str, method: &str, request_path: &str, body: &str) -> String {
    format!(
        "{timestamp}{}{request_path}{body}",
        method.to_ascii_uppercase()
    )
}

/// The canonical text of a JSON value: empty when nothing is left after cleaning.
pub fn canonical_json(value: &Value) -> String {
    clean(value).map(|v| v.to_string()).unwrap_or_default()
}

/// Removes empty values and sorts object keys. The sorted entries are inserted in order, so
/// the result is sorted whether or not serde_json preserves insertion order.
fn clean(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Array(items) => {
            let items: Vec<Value> = items.iter().filter_map(clean).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let cleaned: Map<String, Value> = entries
                .into_iter()
                .filter_map(|(k, v)| clean(v).map(|v| (k.clone(), v)))
                .collect();
            (!cleaned.is_empty()).then_some(Value::Object(cleaned))
        }
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seed_request_example_has_this_canonical_form() {
        let seed = json!({
            "cardHolder": {"firstName": "Milton", "lastName": "Schmitt"},
            "deposit": "1000", "vid": "USD", "orderNo": "v_5bc814",
            "callbackUrl": "https://www.baidu.com"
        });
        assert_eq!(
            canonical_json(&seed),
            r#"{"callbackUrl":"https://www.baidu.com","cardHolder":{"firstName":"Milton","lastName":"Schmitt"},"deposit":"1000","orderNo":"v_5bc814","vid":"USD"}"#
        );
    }

    #[test]
    fn null_empty_strings_lists_and_objects_are_removed_recursively() {
        let v = json!({"b": 1, "a": {"z": "", "y": null, "x": [], "w": {}, "v": "k"}, "c": [{}], "e": {"f": {"g": null}}});
        assert_eq!(canonical_json(&v), r#"{"a":{"v":"k"},"b":1}"#);
        assert_eq!(canonical_json(&json!({"only": null})), "");
    }

    #[test]
    fn the_documented_example_message_is_timestamp_method_path_and_body() {
        // Spec §2.1: ts 1538054050234, GET, the order query, empty body.
        assert_eq!(
            signing_message(
                "1538054050234",
                "get",
                "/api/v1/crypto/order?token=ETH&order_no=sdf23",
                ""
            ),
            "1538054050234GET/api/v1/crypto/order?token=ETH&order_no=sdf23"
        );
    }

    #[test]
    fn the_signature_is_base64_of_hmac_sha256_over_the_concatenation() {
        // The well-known HMAC-SHA256 vector (key "key", "The quick brown fox jumps over the
        // lazy dog"), split across timestamp, path and body.
        assert_eq!(
            signature(
                "key",
                "The quick ",
                "",
                "brown fox jumps",
                " over the lazy dog"
            ),
            "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
        );
    }

    #[test]
    fn the_method_is_signed_in_upper_case() {
        assert_eq!(
            signature("k", "1", "post", "/p", "{}"),
            signature("k", "1", "POST", "/p", "{}")
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let k = AccessKey {
            key: "app".into(),
            secret: "s3cr3t".into(),
        };
        assert!(!format!("{k:?}").contains("s3cr3t"));
    }
}
