//! What QI answers mean for an order, shared by the prepaid and postpaid clients: error answers
//! through the table, failed lookups as resolutions, and orders refused before any call.

use super::classify::{QiCall, classify};
use super::transport::Answer;
use crate::providers::{CallKind, CallReport, Classified, Resolution};

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

/// What a failed lookup means for the order: try again later when the failure is transient
/// or the answer was lost, an operator otherwise.
pub fn lookup_failed(classified: &Classified) -> Resolution {
    match classified.clone() {
        Classified::Transient {
            code,
            message,
            retry_after,
            ..
        } => Resolution::Transient {
            code,
            message,
            retry_after,
        },
        Classified::Unknown { code, message } => Resolution::Transient {
            code,
            message,
            retry_after: None,
        },
        Classified::Permanent { code, message } | Classified::NeedsReview { code, message } => {
            Resolution::Unresolvable { code, message }
        }
        Classified::Accepted { .. } => Resolution::Unresolvable {
            code: "unexpected".into(),
            message: "a failed lookup was classified as accepted".into(),
        },
    }
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
