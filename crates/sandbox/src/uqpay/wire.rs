//! UQPAY's wire shapes as the sandbox speaks them: the create request, the card and order
//! objects, and the three error envelopes (typed, auth gateway, legacy numeric).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use serde_json::{Value, json};

/// BINs for which `card_limit` is required and at least 0.01 (seed 003).
pub const BINS_REQUIRING_CARD_LIMIT: [&str; 3] = ["527735", "555071", "555243"];

/// Largest `metadata` accepted, in bytes of compact JSON.
pub const METADATA_MAX_BYTES: usize = 3200;

/// The documented 429 body.
pub const TOO_MANY_REQUESTS_MESSAGE: &str = "Too many requests have been made to the api. Please refer to the Developer Center for more information";

/// The in-flight idempotency answer (HTTP 400 with `code: 200`).
pub const PROCESSING_MESSAGE: &str = "Request is processing, please try again later";

/// A request body as JSON, or the 400 answered for one that is not.
pub fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(
            "invalid_request",
            format!("request body is not valid JSON: {e}"),
        )
    })
}

/// A string field of a request body; `None` when it is absent, not a string or empty.
pub fn text<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The names among `names` whose string field `body` lacks (see [`text`]).
pub fn missing_text(body: &Value, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter(|name| text(body, name).is_none())
        .map(|name| name.to_string())
        .collect()
}

/// A UQPAY error answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// Typed envelope `{type, code, message, missing_fields?}`.
    Typed {
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: String,
        missing_fields: Vec<String>,
    },
    /// Auth gateway `{"error": "..."}` with 401.
    Unauthorized(&'static str),
    /// Legacy numeric envelope `{"code": n, "message": "..."}`.
    Legacy {
        status: StatusCode,
        code: u16,
        message: String,
    },
    /// 429 with the documented body and `Retry-After`.
    RateLimited { retry_after_secs: u64 },
}

impl ApiError {
    /// 400 `invalid_request_error`.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Typed {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code,
            message: message.into(),
            missing_fields: Vec::new(),
        }
    }

    /// 400 `invalid_request_error` listing missing fields.
    pub fn missing(fields: Vec<String>) -> ApiError {
        ApiError::Typed {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code: "missing_required_fields",
            message: format!("Missing required fields: {}", fields.join(", ")),
            missing_fields: fields,
        }
    }

    /// `not_found` with the given status (400 for ids in a body, 404 for ids in a path).
    pub fn not_found(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError::Typed {
            status,
            kind: "not_found",
            code,
            message: message.into(),
            missing_fields: Vec::new(),
        }
    }

    /// 400 `idempotency_error`.
    pub fn idempotency(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Typed {
            status: StatusCode::BAD_REQUEST,
            kind: "idempotency_error",
            code,
            message: message.into(),
            missing_fields: Vec::new(),
        }
    }

    /// 500 `api_error`: the injected transient failure.
    pub fn internal() -> ApiError {
        ApiError::Typed {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "api_error",
            code: "api_error",
            message: "Internal server error, please retry with the same x-idempotency-key".into(),
            missing_fields: Vec::new(),
        }
    }

    /// The status and JSON body.
    pub fn parts(&self) -> (StatusCode, Value) {
        match self {
            ApiError::Typed {
                status,
                kind,
                code,
                message,
                missing_fields,
            } => {
                let mut body = json!({ "type": kind, "code": code, "message": message });
                if !missing_fields.is_empty() {
                    body["missing_fields"] = json!(missing_fields);
                }
                (*status, body)
            }
            ApiError::Unauthorized(message) => {
                (StatusCode::UNAUTHORIZED, json!({ "error": message }))
            }
            ApiError::Legacy {
                status,
                code,
                message,
            } => (*status, json!({ "code": code, "message": message })),
            ApiError::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({ "code": "too_many_requests", "message": TOO_MANY_REQUESTS_MESSAGE }),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.parts();
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=UTF-8"),
            );
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

/// UQPAY timestamps are ISO-8601 at +08:00 (`2026-04-10T18:04:44+08:00`).
pub fn uqpay_time(t: DateTime<Utc>) -> String {
    let offset = FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset");
    t.with_timezone(&offset)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The synchronous create answer (seed 003).
#[derive(Debug, Clone, Serialize)]
pub struct CreateCardResponse {
    pub card_id: String,
    pub card_order_id: String,
    pub card_status: String,
    pub order_status: String,
    pub create_time: String,
}
