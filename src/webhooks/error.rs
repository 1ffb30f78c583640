//! Why a webhook was refused, and the status each reason answers with.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A refused webhook. Nothing is persisted for any of these.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Missing or wrong signature, or a stale timestamp: 401.
    #[error("unauthenticated webhook: {0}")]
    Unauthorized(String),
    /// The body is not the JSON the provider sends: 400.
    #[error("malformed webhook: {0}")]
    Malformed(String),
    /// An unsigned callback about an order we never issued: 404.
    #[error("unknown order: {0}")]
    UnknownOrder(String),
    /// The database could not be read (Alchemy Pay's order check): 503.
    #[error("the webhook could not be checked: {0}")]
    Store(#[from] crate::store::Error),
    /// The inbox could not persist the event: 503, so the provider delivers it again later.
    #[error("the webhook could not be stored: {0}")]
    Unavailable(String),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = match &self {
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Malformed(_) => StatusCode::BAD_REQUEST,
            Error::UnknownOrder(_) => StatusCode::NOT_FOUND,
            Error::Store(_) | Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        // The reason is logged, not told: a forger learns nothing from the answer.
        // The reason may quote the request (an orderNo): control characters are shown escaped,
        // so a request cannot forge a log line.
        let reason = self.to_string();
        tracing::warn!(
            status = status.as_u16(),
            error = %crate::domain::text::log_safe(&reason),
            "webhook refused"
        );
        let body = match &self {
            Error::Store(_) | Error::Unavailable(_) => "try again later",
            _ => "refused",
        };
        (status, body).into_response()
    }
}
