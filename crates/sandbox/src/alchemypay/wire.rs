//! Alchemy Pay's envelope `{code, msg, model, traceId, success, error}` and its error codes.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A business error: envelope with `success: false, error: true`, HTTP 200.
#[derive(Debug, Clone, PartialEq)]
pub struct AchError {
    pub code: u32,
    pub msg: String,
    /// HTTP status; 200 for every business error ([inferred]), 429 for the rate limit.
    pub status: StatusCode,
    pub retry_after_secs: Option<u64>,
}

impl AchError {
    /// A business error answered with HTTP 200.
    pub fn new(code: u32, msg: impl Into<String>) -> AchError {
        AchError {
            code,
            msg: msg.into(),
            status: StatusCode::OK,
            retry_after_secs: None,
        }
    }

    /// 200001 `'%s' cannot be null`.
    pub fn null(field: &str) -> AchError {
        AchError::new(
            200001,
            format!("Parameter verification: '{field}' cannot be null"),
        )
    }

    /// 200002 `'%s' parameter error%s`.
    pub fn param(field: &str, detail: &str) -> AchError {
        AchError::new(
            200002,
            format!("Parameter verification: '{field}' parameter error{detail}"),
        )
    }

    /// 404005, for a card that does not exist or belongs to another access key.
    pub fn no_card() -> AchError {
        AchError::new(404005, "Card does not exist")
    }

    /// 300001, for an order number already used.
    pub fn duplicate_order() -> AchError {
        AchError::new(300001, "Duplicate business order number")
    }

    /// 300004, for a merchant balance below the amount.
    pub fn merchant_balance() -> AchError {
        AchError::new(300004, "Insufficient balance, minimum reserve 1$")
    }

    /// 400005, for an amount that is not a positive number of cents.
    pub fn illegal_amount() -> AchError {
        AchError::new(400005, "Illegal amount")
    }

    /// [inferred] Alchemy Pay documents no rate limit: HTTP 429, envelope code 429,
    /// `Retry-After` in seconds.
    pub fn rate_limited(retry_after_secs: u64) -> AchError {
        AchError {
            code: 429,
            msg: "Too many requests".into(),
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after_secs: Some(retry_after_secs),
        }
    }
}

/// A fresh 32-hex-digit trace id.
pub fn trace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The success envelope.
pub fn ok(model: Value) -> Response {
    Json(json!({
        "code": "0", "msg": "Success", "model": model, "traceId": trace_id(),
        "success": true, "error": false,
    }))
    .into_response()
}

impl IntoResponse for AchError {
    fn into_response(self) -> Response {
        let body = json!({
            "code": self.code.to_string(), "msg": self.msg, "model": null, "traceId": trace_id(),
            "success": false, "error": true,
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
