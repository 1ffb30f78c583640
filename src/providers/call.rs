//! What a provider call ended as, and the record of it for the `attempts` table.

use crate::domain::ProviderRefs;
use crate::store::{AttemptKind, AttemptOutcome, AttemptRecord};
use std::time::Duration;

/// A provider's answer, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Classified {
    /// The provider accepted the order; `refs` are its keys (card_key, card_id, ...).
    /// Confirmation (webhook or lookup) may still be pending.
    Accepted { refs: ProviderRefs },
    /// Worth retrying with the same idempotency key: any 5xx, 408, 429, a timeout or connection
    /// error before the request was sent, and the codes the provider marks transient.
    /// `rate_limited` is true for a 429 (or the provider's rate-limit code), so the lane slows.
    Transient {
        code: String,
        message: String,
        retry_after: Option<Duration>,
        rate_limited: bool,
    },
    /// Refused for good, with the provider's code.
    Permanent { code: String, message: String },
    /// The request may have reached the provider and the answer is lost (a timeout or reset
    /// after sending, a 2xx we could not read).
    Unknown { code: String, message: String },
    /// The provider says it already has this order but cardbatch cannot find its card
    /// (a reconciliation gap): an operator must look.
    NeedsReview { code: String, message: String },
}

/// The outcome of doubt resolution.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The card exists: these are its refs.
    Found { refs: ProviderRefs },
    /// The provider has no trace of the order: it is safe to send it (again).
    NotFound,
    /// Sending again with the same idempotency key is itself the safe lookup (UQPAY replays the
    /// original answer; QI postpaid / Alchemy answer "already done").
    ResendIsSafe,
    /// The lookup failed transiently; try again later.
    Transient {
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The provider offers no way to find it: needs an operator.
    Unresolvable { code: String, message: String },
}

impl Resolution {
    /// What a failed lookup means for an order in doubt: a read is always safe to repeat, so a
    /// transient failure or a lost answer means "look again later"; anything else needs an
    /// operator.
    pub fn after_failed_lookup(classified: &Classified) -> Resolution {
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
}

/// Which call a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Create,
    Lookup,
    Token,
}

/// One HTTP call: its classified answer plus what the `attempts` table records.
#[derive(Debug, Clone, PartialEq)]
pub struct CallReport {
    pub kind: CallKind,
    pub classified: Classified,
    pub started_at_ms: i64,
    pub duration_ms: i64,
    /// `None` when no HTTP answer arrived.
    pub http_status: Option<u16>,
    /// The provider's own code (error code, or business code like Alchemy's `0`).
    pub provider_code: Option<String>,
}

impl CallReport {
    /// The row for the `attempts` table (message without personal data).
    pub fn attempt_record(&self, attempt_no: u32) -> AttemptRecord {
        let (outcome, message) = match &self.classified {
            Classified::Accepted { .. } => (AttemptOutcome::Accepted, None),
            Classified::Transient { message, .. } => {
                (AttemptOutcome::Transient, Some(message.clone()))
            }
            Classified::Permanent { message, .. } => {
                (AttemptOutcome::Permanent, Some(message.clone()))
            }
            Classified::Unknown { message, .. } => (AttemptOutcome::Unknown, Some(message.clone())),
            Classified::NeedsReview { message, .. } => {
                (AttemptOutcome::Unknown, Some(message.clone()))
            }
        };
        AttemptRecord {
            kind: Some(match self.kind {
                CallKind::Create => AttemptKind::Create,
                CallKind::Lookup => AttemptKind::Lookup,
                CallKind::Token => AttemptKind::Token,
            }),
            attempt_no,
            started_at_ms: self.started_at_ms,
            duration_ms: self.duration_ms,
            http_status: self.http_status,
            provider_code: self.provider_code.clone(),
            outcome,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_timeout_is_a_transient_resolution_and_a_refusal_is_unresolvable() {
        let unknown = Classified::Unknown {
            code: "timeout".into(),
            message: "m".into(),
        };
        assert!(matches!(
            Resolution::after_failed_lookup(&unknown),
            Resolution::Transient { .. }
        ));
        let refused = Classified::Permanent {
            code: "404005".into(),
            message: "m".into(),
        };
        assert!(matches!(
            Resolution::after_failed_lookup(&refused),
            Resolution::Unresolvable { .. }
        ));
    }
}
