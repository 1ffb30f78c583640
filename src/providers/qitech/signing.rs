//! QI Tech's two request-signing variants (spec `qitech-prepaid.md` §3) and the reading of
//! signed answers.
//!
//! - v1: the body is `{"encoded_body": JWS(claims = request JSON)}`; the header token's claims
//!   are `sub` (the API key) and `signature` = `METHOD\nMD5\nCONTENT_TYPE\nDATE\nPATH`, where MD5
//!   is of the `encoded_body` string (empty without a body) and DATE is the RFC 1123 `Date`
//!   header; `Authorization: QIT <api_key>:<token>`. Answers come back the same way.
//! - v2: the body is plain JSON; the token's claims are `payload_md5` (of the exact bytes sent,
//!   or of `{}` without a body), `timestamp` (`%Y-%m-%dT%H:%M:%S.%fZ`), `method` and `uri` (the
//!   path, as QI's sample signs it); `Authorization: <token>`.
//!
//! The path signed is the full path as sent, base-URL prefix included, so a gateway or the
//! sandbox's `/qitech` prefix does not break the signature. Bodies are serialised once by the
//! caller and these exact bytes are hashed and sent.

use super::jws::{self, JwsError};
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use p521::ecdsa::{SigningKey, VerifyingKey};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Which signing variant a profile uses (profile option `signing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `encoded_body` + `Authorization: QIT <api_key>:<jwt>`.
    V1,
    /// Plain JSON + `Authorization: <jwt>` (the default).
    V2,
}

impl Variant {
    /// Reads the profile option: `v1`, `v2`, or absent (v2).
    pub fn parse(option: Option<&str>) -> Result<Variant, String> {
        match option.map(str::trim) {
            None | Some("v2") => Ok(Variant::V2),
            Some("v1") => Ok(Variant::V1),
            Some(other) => Err(format!("signing must be \"v1\" or \"v2\", got {other:?}")),
        }
    }
}

/// A request ready to send: the headers to add and the exact body bytes the signature covers.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedRequest {
    /// `Authorization`, `API-CLIENT-KEY`, and `Date` (v1) / `Content-Type` (with a body).
    pub headers: Vec<(&'static str, String)>,
    /// `None` for a bodiless request.
    pub body: Option<Vec<u8>>,
}

/// Signs requests with the client's key; the key is parsed once, since a P-521 signature alone
/// costs over a millisecond.
pub struct RequestSigner {
    api_key: String,
    key: SigningKey,
    variant: Variant,
}

/// An answer that cannot be trusted or read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnswerError {
    /// A QI public key is configured and the answer carries no signature.
    #[error("the answer is not signed")]
    Unsigned,
    /// The answer's signature is invalid or does not cover this answer.
    #[error("the answer's signature does not hold: {0}")]
    BadSignature(String),
    /// `encoded_body` is not a readable token.
    #[error("the answer's encoded_body cannot be read: {0}")]
    Malformed(JwsError),
}

impl RequestSigner {
    /// A signer for `api_key` with the client's private key.
    pub fn new(api_key: String, key: SigningKey, variant: Variant) -> RequestSigner {
        RequestSigner {
            api_key,
            key,
            variant,
        }
    }

    /// The variant this signer uses.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The API key sent in `API-CLIENT-KEY`.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Signs one request. `body` is the serialised request JSON, `path_and_query` the full
    /// path as sent.
    pub fn sign(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> SignedRequest {
        match self.variant {
            Variant::V1 => self.sign_v1(method, path_and_query, body, now),
            Variant::V2 => self.sign_v2(method, path_and_query, body, now),
        }
    }

    fn sign_v1(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> SignedRequest {
        let date = rfc1123(now);
        let (wire, md5, content_type) = match body {
            Some(json) => {
                let encoded = jws::sign(&self.key, json);
                let md5 = md5_hex(encoded.as_bytes());
                // A compact JWS is base64url and dots only, so it needs no JSON escaping.
                let wire = format!(r#"{{"encoded_body":"{encoded}"}}"#).into_bytes();
                (Some(wire), md5, "application/json")
            }
            None => (None, String::new(), ""),
        };
        let string_to_sign = format!("{method}\n{md5}\n{content_type}\n{date}\n{path_and_query}");
        let claims = serde_json::json!({ "sub": self.api_key, "signature": string_to_sign });
        let token = jws::sign(&self.key, claims.to_string().as_bytes());
        let mut headers = vec![
            ("authorization", format!("QIT {}:{token}", self.api_key)),
            ("api-client-key", self.api_key.clone()),
            ("date", date),
        ];
        if wire.is_some() {
            headers.push(("content-type", content_type.to_string()));
        }
        SignedRequest {
            headers,
            body: wire,
        }
    }

    fn sign_v2(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> SignedRequest {
        // "The GET and DELETE methods hash md5 must be generated with an empty payload": QI's
        // sample hashes `json.dumps({})`.
        let payload_md5 = md5_hex(body.unwrap_or(b"{}"));
        let uri = path_and_query.split('?').next().unwrap_or_default();
        let claims = serde_json::json!({
            "payload_md5": payload_md5,
            "timestamp": v2_timestamp(now),
            "method": method,
            "uri": uri,
        });
        let token = jws::sign(&self.key, claims.to_string().as_bytes());
        let mut headers = vec![
            ("authorization", token),
            ("api-client-key", self.api_key.clone()),
        ];
        if body.is_some() {
            headers.push(("content-type", "application/json".to_string()));
        }
        SignedRequest {
            headers,
            body: body.map(<[u8]>::to_vec),
        }
    }
}

/// Reads an answer signed in `variant`: the JSON it carries (v1: the claims of
/// `encoded_body`). `our_api_key` is our `API-CLIENT-KEY`, which a v1 answer's `Authorization:
/// QIT <api_key>:<jwt>` must name. With `qi_key`, what QI documents of its answers is checked, no more (a
/// check of what QI does not document could refuse every real answer):
/// - v1: `encoded_body` is a token QI signed; the `Authorization: QIT <api_key>:<jwt>` names
///   our key, its token is QI's, and its `signature` claim's second line is the MD5 of this
///   `encoded_body` (what the public clients check: Captalys/qitech-auth `unsign`). The other
///   lines are QI's and not compared.
/// - v2: QI documents no signature on answers; one that carries an `Authorization` token must
///   be QI's and its `payload_md5` must be this body's MD5; one without is read as delivered
///   (the TLS channel is what authenticates it).
///
/// Without `qi_key` the answer is read as delivered. An empty or non-JSON body (a gateway's
/// error page) reads as `Value::Null`, to be classified by its HTTP status.
pub fn read_answer(
    variant: Variant,
    qi_key: Option<&VerifyingKey>,
    our_api_key: &str,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<Value, AnswerError> {
    let Ok(json) = serde_json::from_slice::<Value>(bytes) else {
        return Ok(Value::Null);
    };
    let authorization = headers
        .get(reqwest::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let encoded = json.get("encoded_body").and_then(Value::as_str);
    let not_covered =
        || AnswerError::BadSignature("the signature does not cover this answer".into());
    match (variant, encoded) {
        (Variant::V1, Some(encoded)) => {
            let Some(key) = qi_key else {
                return jws::claims(encoded).map_err(AnswerError::Malformed);
            };
            let (api_key, token) = authorization
                .and_then(|a| a.strip_prefix("QIT "))
                .and_then(|a| a.split_once(':'))
                .ok_or(AnswerError::Unsigned)?;
            let claims = jws::verify(key, token).map_err(bad)?;
            let signature = claims.get("signature").and_then(Value::as_str);
            let md5 = md5_hex(encoded.as_bytes());
            let covers = api_key == our_api_key
                && signature.and_then(|s| s.split('\n').nth(1)) == Some(md5.as_str());
            if !covers {
                return Err(not_covered());
            }
            jws::verify(key, encoded).map_err(bad)
        }
        (Variant::V1, None) => Ok(json),
        (Variant::V2, _) => {
            let (Some(key), Some(token)) = (qi_key, authorization) else {
                return Ok(json);
            };
            let claims = jws::verify(key, token).map_err(bad)?;
            if claims.get("payload_md5").and_then(Value::as_str) != Some(md5_hex(bytes).as_str()) {
                return Err(not_covered());
            }
            Ok(json)
        }
    }
}

fn bad(e: JwsError) -> AnswerError {
    AnswerError::BadSignature(e.to_string())
}

/// Lowercase hex MD5, the body hash of both variants.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// The v1 `Date`: RFC 1123 in GMT, e.g. `Mon, 20 Feb 2023 19:28:16 GMT`.
pub fn rfc1123(now: DateTime<Utc>) -> String {
    now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The v2 `timestamp`: Python's `%Y-%m-%dT%H:%M:%S.%fZ`, microseconds, e.g.
/// `2023-06-26T19:48:32.759844Z`.
pub fn v2_timestamp(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
#[path = "signing_tests.rs"]
mod tests;
