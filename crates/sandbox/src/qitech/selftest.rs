//! `GET|POST /test/{api_key}`: QI's authentication self-test, so a client can check its
//! signing before issuing cards. The answer's shape is not documented \[inferred\]: 200 with
//! `{"message", "api_key", "request_body"}`, signed like any answer; a path key that differs from
//! `API-CLIENT-KEY` is a 401 GDF000014. Counted under `qitech_prepaid` in the stats.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::error::QiError;
use super::respond::admit;
use super::state::Qi;
use cardbatch_types::ProviderKind;

/// `GET|POST /test/{api_key}`.
pub async fn self_test(
    State(qi): State<Arc<Qi>>,
    Path(api_key): Path<String>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match admit(
        &qi,
        ProviderKind::QitechPrepaid,
        &method,
        &uri,
        &headers,
        &body,
    )
    .await
    {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    if api_key != call.reply.api_key {
        let err = QiError::unauthenticated("the path api key differs from API-CLIENT-KEY");
        return call.reply.error(&qi, &err);
    }
    let answer = json!({
        "message": "Authentication OK",
        "api_key": api_key,
        "request_body": call.body,
    });
    call.reply.json(&qi, StatusCode::OK, &answer)
}
