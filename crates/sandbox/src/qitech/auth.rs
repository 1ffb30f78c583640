//! Verifying a request signed the QI Tech way, in either variant (spec §3):
//!
//! - v1, `Authorization: QIT <api_key>:<jwt>`: the body is `{"encoded_body": <jwt>}` whose claims
//!   are the real request (less the JWT registered claims a library adds, [`REGISTERED_CLAIMS`]);
//!   the header token's `signature` claim is `METHOD\nMD5(encoded_body)\nCONTENT_TYPE\nDATE\nPATH`
//!   and its `sub` is the API key. No `Date` header is needed; one that is sent must match.
//! - v2, `Authorization: <jwt>`: the body is plain JSON; the token's claims are `payload_md5` (of
//!   the raw body, or of `{}` when there is none), `timestamp`, `method` and `uri`.
//!
//! Both tokens are ES512, verified with the client public key from the sandbox config. The
//! checks run in QI's order: `API-CLIENT-KEY` present (GDF000003), known (GDF000018), then the
//! token (GDF000014).

use axum::http::HeaderMap;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use md5::{Digest, Md5};
use p521::ecdsa::VerifyingKey;
use serde_json::Value;

use super::error::QiError;
use super::jws;

/// Which signing variant a request used; answers are signed the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVersion {
    /// `encoded_body` + `Authorization: QIT <api_key>:<jwt>`.
    V1,
    /// Plain JSON + `Authorization: <jwt>`.
    V2,
}

/// What the handlers need from an authenticated request.
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticated {
    /// The signing variant, so the answer can be signed alike.
    pub version: AuthVersion,
    /// The caller's `API-CLIENT-KEY`.
    pub api_key: String,
    /// The request object: the `encoded_body` claims (v1) or the parsed JSON body (v2);
    /// `Value::Null` when there is no body.
    pub body: Value,
}

/// The parts of an HTTP request the signatures cover, so verification is a pure function.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// `GET`, `POST`...
    pub method: &'a str,
    /// The full path as received (sandbox prefix included) plus `?query` if any.
    pub path_and_query: &'a str,
    /// Where the sandbox mounts QI (`/qitech`); a signature may name the path relative to it.
    pub mount: &'a str,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Raw body bytes.
    pub body: &'a [u8],
}

impl RequestView<'_> {
    /// Whether a signature's `signed` path names this request: the path and query as received,
    /// or relative to the sandbox's mount. At QI there is no mount, and a client given the
    /// sandbox's base URL (`.../qitech`) signs the path it asked for (`/prepaid/card`), as the
    /// public clients do. `query_optional`: the path alone names it too.
    fn is_named_by(&self, signed: &str, query_optional: bool) -> bool {
        let received = [
            Some(self.path_and_query),
            self.path_and_query.strip_prefix(self.mount),
        ];
        received.into_iter().flatten().any(|path| {
            signed == path
                || (query_optional && signed == path.split('?').next().unwrap_or_default())
        })
    }
}

/// What a request is checked against.
#[derive(Clone, Copy)]
pub struct AuthSettings<'a> {
    /// Accepted `API-CLIENT-KEY` values.
    pub api_client_keys: &'a [String],
    /// The client's public key; `None` refuses every token.
    pub client_key: Option<&'a VerifyingKey>,
    /// The sandbox's current time.
    pub now: DateTime<Utc>,
    /// Largest accepted difference between the request's time and `now`.
    pub max_skew: TimeDelta,
}

/// The v2 timestamp layout (Python's `%Y-%m-%dT%H:%M:%S.%fZ`); chrono's `%.f` reads any
/// number of fractional digits.
const V2_TIMESTAMP_PARSE: &str = "%Y-%m-%dT%H:%M:%S%.fZ";

/// Lowercase hex MD5, the body hash both variants use.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// v1 is recognised by the `QIT ` prefix of the `Authorization` header; anything else is v2.
pub fn detect_version(headers: &HeaderMap) -> AuthVersion {
    match header(headers, "authorization") {
        Some(value) if value.starts_with("QIT ") => AuthVersion::V1,
        _ => AuthVersion::V2,
    }
}

/// Checks the API key and the signature of a request, in QI's order.
pub fn authenticate(
    req: &RequestView<'_>,
    settings: &AuthSettings<'_>,
) -> Result<Authenticated, QiError> {
    let api_key = header(req.headers, "api-client-key").ok_or_else(QiError::no_api_client_key)?;
    if !settings.api_client_keys.iter().any(|k| k == api_key) {
        return Err(QiError::unknown_api_client_key(api_key));
    }
    let client_key = settings
        .client_key
        .ok_or_else(|| QiError::unauthenticated("no client public key is configured"))?;
    let authorization = header(req.headers, "authorization")
        .ok_or_else(|| QiError::unauthenticated("no Authorization header"))?;
    let body = match detect_version(req.headers) {
        AuthVersion::V1 => verify_v1(req, settings, client_key, api_key, authorization)?,
        AuthVersion::V2 => verify_v2(req, settings, client_key, authorization)?,
    };
    Ok(Authenticated {
        version: detect_version(req.headers),
        api_key: api_key.to_string(),
        body,
    })
}

fn verify_v1(
    req: &RequestView<'_>,
    settings: &AuthSettings<'_>,
    client_key: &VerifyingKey,
    api_key: &str,
    authorization: &str,
) -> Result<Value, QiError> {
    let unauth = QiError::unauthenticated;
    let (header_key, token) = authorization["QIT ".len()..]
        .split_once(':')
        .ok_or_else(|| unauth("Authorization is not `QIT <api_key>:<token>`"))?;
    if header_key != api_key {
        return Err(unauth(
            "the Authorization api key differs from API-CLIENT-KEY",
        ));
    }
    let claims = jws::verify(client_key, token).map_err(|e| unauth(&e.to_string()))?;
    if claims.get("sub").and_then(Value::as_str) != Some(api_key) {
        return Err(unauth("the token `sub` is not the api key"));
    }
    let signed = claims
        .get("signature")
        .and_then(Value::as_str)
        .ok_or_else(|| unauth("the token has no `signature` claim"))?;

    // The body, when there is one, is `{"encoded_body": <jwt>}`; its claims are the request.
    let (encoded_body, body) = if req.body.iter().all(u8::is_ascii_whitespace) {
        (String::new(), Value::Null)
    } else {
        let wrapper: Value =
            serde_json::from_slice(req.body).map_err(|_| unauth("the body is not JSON"))?;
        let encoded = wrapper
            .get("encoded_body")
            .and_then(Value::as_str)
            .ok_or_else(|| unauth("the body has no `encoded_body`"))?;
        let claims =
            jws::verify(client_key, encoded).map_err(|e| unauth(&format!("encoded_body: {e}")))?;
        (encoded.to_string(), without_registered_claims(claims))
    };

    let lines: Vec<&str> = signed.split('\n').collect();
    let [method, md5, content_type, date, path] = lines[..] else {
        return Err(unauth("the signature claim does not have five lines"));
    };
    if method != req.method {
        return Err(unauth("signed method differs"));
    }
    let expected_md5 = if encoded_body.is_empty() {
        String::new()
    } else {
        md5_hex(encoded_body.as_bytes())
    };
    if md5 != expected_md5 {
        return Err(unauth("signed body MD5 differs"));
    }
    // The media type sent, without parameters: HTTP libraries add `; charset=utf-8` (OkHttp,
    // which QI's Java samples use) to the `application/json` a client signs.
    let sent_type =
        header(req.headers, "content-type").map(|t| t.split(';').next().unwrap_or_default().trim());
    // A bodiless request may sign "" or the configured type (client libraries differ), and so
    // may one that sends no `Content-Type` at all: the Clojure client signs `application/json`
    // and its HTTP library sends none, against QI's own sandbox.
    let type_ok = sent_type == Some(content_type)
        || ((encoded_body.is_empty() || sent_type.is_none())
            && matches!(content_type, "" | "application/json"));
    if !type_ok {
        return Err(unauth("signed content type differs"));
    }
    // QI puts the date in the signed string only: its documented headers are AUTHORIZATION and
    // API-CLIENT-KEY, and public clients send no `Date`. The signed date's freshness is what
    // counts; a `Date` header, when one is sent, must repeat it.
    if let Some(sent) = header(req.headers, "date")
        && sent != date
    {
        return Err(unauth("signed date differs from the Date header"));
    }
    let signed_at = signed_date(date).ok_or_else(|| unauth("the signed date is not RFC 1123"))?;
    check_skew(signed_at, settings)?;
    if !req.is_named_by(path, false) {
        return Err(unauth("signed path differs"));
    }
    Ok(body)
}

fn verify_v2(
    req: &RequestView<'_>,
    settings: &AuthSettings<'_>,
    client_key: &VerifyingKey,
    token: &str,
) -> Result<Value, QiError> {
    let unauth = QiError::unauthenticated;
    let claims = jws::verify(client_key, token).map_err(|e| unauth(&e.to_string()))?;
    let claim = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| unauth(&format!("no `{name}` claim")))
    };

    let bodiless = req.body.iter().all(u8::is_ascii_whitespace);
    let expected_md5 = if bodiless {
        md5_hex(b"{}")
    } else {
        md5_hex(req.body)
    };
    if claim("payload_md5")? != expected_md5 {
        return Err(unauth("payload_md5 differs from the body's MD5"));
    }
    if !claim("method")?.eq_ignore_ascii_case(req.method) {
        return Err(unauth("signed method differs"));
    }
    // The documented sample signs the path only; a query string is accepted too.
    if !req.is_named_by(claim("uri")?, true) {
        return Err(unauth("signed uri differs"));
    }
    let timestamp = NaiveDateTime::parse_from_str(claim("timestamp")?, V2_TIMESTAMP_PARSE)
        .map_err(|_| unauth("timestamp is not %Y-%m-%dT%H:%M:%S.%fZ"))?;
    check_skew(timestamp.and_utc(), settings)?;

    if bodiless {
        return Ok(Value::Null);
    }
    // A body that is not JSON is a schema error, not an authentication one: the signature held.
    serde_json::from_slice(req.body).map_err(|e| QiError::schema(&format!("body is not JSON: {e}")))
}

/// The v1 signed date: RFC 1123 (`Tue, 01 Dec 2026 05:03:07 GMT`), or the same with unpadded
/// numbers as the Clojure client writes it with Joda's `E, d MMM y H:m:s` (`Tue, 1 Dec 2026
/// 5:3:7 GMT`).
fn signed_date(date: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(date)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            let naive = date.strip_suffix(" GMT")?;
            NaiveDateTime::parse_from_str(naive, "%a, %d %b %Y %H:%M:%S")
                .ok()
                .map(|d| d.and_utc())
        })
}

/// The JWT registered claims (RFC 7519 §4.1). JWT libraries add some to every token they sign
/// (`iat` always; `exp`, `nbf`, `jti` on request), the `encoded_body` token included, so they
/// are not fields of the request.
const REGISTERED_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// The request object of an `encoded_body`: its claims less the registered ones.
fn without_registered_claims(mut claims: Value) -> Value {
    if let Value::Object(map) = &mut claims {
        for name in REGISTERED_CLAIMS {
            map.remove(name);
        }
    }
    claims
}

fn check_skew(at: DateTime<Utc>, settings: &AuthSettings<'_>) -> Result<(), QiError> {
    if (settings.now - at).abs() > settings.max_skew {
        return Err(QiError::unauthenticated(
            "the request time is too far from the server's clock",
        ));
    }
    Ok(())
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
