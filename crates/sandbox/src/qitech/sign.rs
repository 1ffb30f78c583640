//! Signing the QI Tech way: the sandbox signs its answers and webhooks with its own key, and the
//! same functions build signed requests for the sandbox's own benchmarks and unit tests (the
//! integration tests build theirs with `openssl`, independently).

use axum::http::{HeaderName, HeaderValue};
use chrono::{DateTime, Utc};
use p521::ecdsa::SigningKey;
use serde_json::{Value, json};

use super::auth::md5_hex;
use super::jws;

/// A signed message: headers to add and the exact body bytes to send.
#[derive(Debug, Clone)]
pub struct Signed {
    /// `Authorization`, `API-CLIENT-KEY`, and for v1 `Date` and `Content-Type`.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The bytes the signature covers; empty for a bodiless message.
    pub body: Vec<u8>,
}

/// The v2 timestamp, `%Y-%m-%dT%H:%M:%S.%fZ` with microseconds as Python writes it.
pub fn v2_timestamp(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// v1: `{"encoded_body": <jwt of body>}` and `Authorization: QIT <api_key>:<jwt>` whose
/// `signature` claim is `METHOD\nMD5\nCONTENT_TYPE\nDATE\nPATH`. A bodiless message signs an
/// empty MD5 and an empty content type, as the node client does.
pub fn sign_v1(
    key: &SigningKey,
    api_key: &str,
    method: &str,
    path_and_query: &str,
    body: Option<&Value>,
    now: DateTime<Utc>,
) -> Signed {
    let date = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let (bytes, md5, content_type) = match body {
        Some(claims) => {
            let encoded = jws::sign(key, claims);
            let md5 = md5_hex(encoded.as_bytes());
            (
                json!({ "encoded_body": encoded }).to_string().into_bytes(),
                md5,
                "application/json",
            )
        }
        None => (Vec::new(), String::new(), ""),
    };
    let string_to_sign = format!("{method}\n{md5}\n{content_type}\n{date}\n{path_and_query}");
    let token = jws::sign(key, &json!({ "sub": api_key, "signature": string_to_sign }));
    let mut headers = vec![
        header("authorization", &format!("QIT {api_key}:{token}")),
        header("api-client-key", api_key),
        header("date", &date),
    ];
    if body.is_some() {
        headers.push(header("content-type", content_type));
    }
    Signed {
        headers,
        body: bytes,
    }
}

/// v2: plain JSON and `Authorization: <jwt>` with `payload_md5` (of the bytes sent, or of `{}`
/// without a body), `timestamp`, `method` and `uri`.
pub fn sign_v2(
    key: &SigningKey,
    api_key: &str,
    method: &str,
    uri: &str,
    body: Option<&Value>,
    now: DateTime<Utc>,
) -> Signed {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let mut headers = sign_v2_headers(key, api_key, method, uri, &bytes, now);
    if body.is_some() {
        headers.push(header("content-type", "application/json"));
    }
    Signed {
        headers,
        body: bytes,
    }
}

/// The v2 headers over bytes already serialised (a webhook body, an answer): `AUTHORIZATION`
/// and `API-CLIENT-KEY`.
pub fn sign_v2_headers(
    key: &SigningKey,
    api_key: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Vec<(HeaderName, HeaderValue)> {
    let md5 = if body.is_empty() {
        md5_hex(b"{}")
    } else {
        md5_hex(body)
    };
    let claims = json!({
        "payload_md5": md5,
        "timestamp": v2_timestamp(now),
        "method": method,
        "uri": uri,
    });
    vec![
        header("authorization", &jws::sign(key, &claims)),
        header("api-client-key", api_key),
    ]
}

fn header(name: &'static str, value: &str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_str(value).expect("signed header values are ASCII"),
    )
}
