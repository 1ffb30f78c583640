//! What QI answers mean for an order, shared by the prepaid and postpaid clients: error answers
//! through the table, and orders refused before any call. (A failed lookup becomes a resolution
//! through [`crate::providers::Resolution::after_failed_lookup`].)

use super::classify::{QiCall, classify};
use super::transport::Answer;
use crate::providers::{CallKind, CallReport, Classified};

/// An error answer, classified by the table.
pub fn failure(call: QiCall, answer: &Answer) -> Classified {
    classify(
        call,
        answer.status,
        answer.code(),
        answer.description(),
        answer.retry_after,
    )
}

/// The report of an order refused before any call (its payload cannot make a request).
pub fn local_refusal(problem: String) -> CallReport {
    CallReport {
        kind: CallKind::Create,
        classified: Classified::Permanent {
            code: "invalid_payload".into(),
            message: problem,
        },
        started_at_ms: chrono::Utc::now().timestamp_millis(),
        duration_ms: 0,
        http_status: None,
        provider_code: None,
    }
}
