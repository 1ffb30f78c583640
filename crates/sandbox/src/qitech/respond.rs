//! The steps every QI call goes through before its handler (count, latency, authenticate,
//! rate limit) and the signed answers, in the variant the request used.

use axum::body::Bytes;
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::auth::{AuthSettings, AuthVersion, RequestView, authenticate, detect_version};
use super::error::QiError;
use super::sign::{sign_v1, sign_v2_headers};
use super::state::Qi;
use crate::core::{names, retry_after_secs};
use crate::server::QITECH_MOUNT;
use cardbatch_types::ProviderKind;

/// How to sign the answer to one request: the variant, the caller's key, and what the
/// signature covers (the request's method and full path).
#[derive(Debug, Clone)]
pub struct Replier {
    /// v1 or v2, as the request.
    pub version: AuthVersion,
    /// The caller's `API-CLIENT-KEY` (empty when it sent none).
    pub api_key: String,
    /// The request's method.
    pub method: String,
    /// The request's full path and query as received.
    pub path_and_query: String,
}

/// An authenticated call: the request object and how to answer it.
#[derive(Debug, Clone)]
pub struct QiCall {
    /// The request object (`Value::Null` without a body).
    pub body: Value,
    /// Signs the answer.
    pub reply: Replier,
}

/// Counts the request, waits the configured latency, authenticates it and takes a rate-limit
/// permit. `Err` is the answer to send instead of calling the handler.
pub async fn admit(
    qi: &Qi,
    provider: ProviderKind,
    method: &Method,
    uri: &OriginalUri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<QiCall, Response> {
    let name = provider.as_str();
    qi.core.stats.incr(name, names::REQUESTS);
    qi.core.latency(name).await;

    let path_and_query = uri
        .0
        .path_and_query()
        .map_or_else(|| uri.0.path().to_string(), |p| p.as_str().to_string());
    let mut reply = Replier {
        version: detect_version(headers),
        api_key: headers
            .get("api-client-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim()
            .to_string(),
        method: method.as_str().to_string(),
        path_and_query,
    };
    let view = RequestView {
        method: method.as_str(),
        path_and_query: &reply.path_and_query,
        mount: QITECH_MOUNT,
        headers,
        body,
    };
    let settings = AuthSettings {
        api_client_keys: &qi.api_keys,
        client_key: qi.client_key.as_ref(),
        now: qi.core.clock.now(),
        max_skew: qi.max_skew,
    };
    let auth = authenticate(&view, &settings).map_err(|e| reply.error(qi, &e))?;
    reply.api_key = auth.api_key;

    if let Err(wait) = qi.core.rate_limit(name, &reply.api_key) {
        let mut response = reply.error(qi, &QiError::rate_limited());
        let secs = HeaderValue::from(retry_after_secs(wait));
        response.headers_mut().insert(header::RETRY_AFTER, secs);
        return Err(response);
    }
    Ok(QiCall {
        body: auth.body,
        reply,
    })
}

impl Replier {
    /// A signed answer with `status` and the JSON `body`.
    pub fn json(&self, qi: &Qi, status: StatusCode, body: &Value) -> Response {
        let now = qi.core.clock.now();
        let (headers, bytes) = match self.version {
            AuthVersion::V1 => {
                let signed = sign_v1(
                    &qi.sandbox_key,
                    &self.api_key,
                    &self.method,
                    &self.path_and_query,
                    Some(body),
                    now,
                );
                (signed.headers, signed.body)
            }
            AuthVersion::V2 => {
                let bytes = body.to_string().into_bytes();
                let path = self.path_and_query.split('?').next().unwrap_or_default();
                let headers = sign_v2_headers(
                    &qi.sandbox_key,
                    &self.api_key,
                    &self.method,
                    path,
                    &bytes,
                    now,
                );
                (headers, bytes)
            }
        };
        let mut response = (status, bytes).into_response();
        let response_headers = response.headers_mut();
        // `insert`, not `extend`: extending appends, and a byte body already carries
        // `application/octet-stream`, which clients read first and then decode nothing.
        for (name, value) in headers {
            response_headers.insert(name, value);
        }
        // Both variants answer JSON (v1 inside `{"encoded_body": ...}`), errors included.
        response_headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }

    /// A signed error envelope.
    pub fn error(&self, qi: &Qi, err: &QiError) -> Response {
        let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
        self.json(qi, status, &err.envelope())
    }
}
