//! The API's errors: the status is chosen per variant; the body is `{"error": reason}` (or the
//! line errors of a refused file); a database failure stays opaque and goes to the log.

use crate::control::ControlError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One refused row (or the whole file, with no line).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineError {
    /// Physical line in the file (the header is line 1); absent for a file-level problem.
    pub line: Option<u64>,
    /// The column of the problem, when known.
    pub column: Option<String>,
    /// What is wrong.
    pub reason: String,
}

/// The body of a refused upload: every line error at once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineErrors {
    /// The problems, in file order.
    pub errors: Vec<LineError>,
}

/// The body of every other error.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Why the request was refused.
    pub error: String,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no bearer token, or one that is unknown or revoked.
    #[error("a valid bearer token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    /// 403: the token's role may not do this, or maker-checker forbids it.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such batch (or profile).
    #[error("{0}")]
    NotFound(String),
    /// 409: the batch's state forbids the action.
    #[error("{0}")]
    Conflict(String),
    /// 409 with line errors: a reference reused for different content.
    #[error("conflicting duplicates")]
    ConflictLines(Vec<LineError>),
    /// 422 with line errors: the file is refused.
    #[error("the file is refused")]
    Unprocessable(Vec<LineError>),
    /// 400: a malformed request (bad query parameter).
    #[error("{0}")]
    BadRequest(String),
    /// 415: an upload that is not text/csv.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 500: logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::store::Error> for ApiError {
    fn from(e: crate::store::Error) -> Self {
        ControlError::from(e).into()
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::NotFound(id) => ApiError::NotFound(format!("no batch with id {id}")),
            ControlError::OrderNotFound(id) => ApiError::NotFound(format!("no order with id {id}")),
            ControlError::Conflict(m) => ApiError::Conflict(m),
            ControlError::SelfApproval(m) => ApiError::Forbidden(m),
            ControlError::Invalid(m) => ApiError::BadRequest(m),
            ControlError::Store(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::ConflictLines(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        match self {
            ApiError::Unprocessable(errors) | ApiError::ConflictLines(errors) => {
                (status, Json(LineErrors { errors })).into_response()
            }
            ApiError::Internal(reason) => {
                tracing::error!(%reason, "an API request failed");
                let body = ErrorBody {
                    error: "something went wrong; the server's log has the reason".into(),
                };
                (status, Json(body)).into_response()
            }
            other => (
                status,
                Json(ErrorBody {
                    error: other.to_string(),
                }),
            )
                .into_response(),
        }
    }
}
