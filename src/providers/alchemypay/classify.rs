//! Alchemy Pay's error codes (spec §3), classified: one table, one line of why per code. The
//! same table, as markdown, is in the README; a test keeps them equal.
//!
//! Business errors come back as HTTP 200 with `success: false`; the HTTP status is classified
//! first (any 5xx, 408 and 429 are transient, see [`crate::providers::http::classify_status`]).

use std::time::Duration;

/// What an envelope code means for the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeClass {
    /// `0` with `success: true`: the card is being created.
    Success,
    /// The orderNo was already used: the first request created (or is creating) the card, which
    /// arrives by callback. Never a second card.
    AlreadyDone,
    /// Worth retrying with the same orderNo, after `retry_after` when given.
    Transient {
        /// A floor for the next attempt (the worker's backoff applies otherwise).
        retry_after: Option<Duration>,
    },
    /// Refused for good.
    Permanent,
    /// The provider may have created the card; resolve before re-sending.
    Unknown,
}

/// How long to wait before retrying when the merchant balance is too low: someone has to top
/// it up, so retrying within the minute only burns attempts.
pub const BALANCE_RETRY: Duration = Duration::from_secs(15 * 60);

const fn transient() -> CodeClass {
    CodeClass::Transient { retry_after: None }
}

const fn park() -> CodeClass {
    CodeClass::Transient {
        retry_after: Some(BALANCE_RETRY),
    }
}

/// Every documented code: `(code, class, why)`.
pub const TABLE: &[(i64, CodeClass, &str)] = &[
    (0, CodeClass::Success, "success (with `success: true`)"),
    (
        1,
        CodeClass::Unknown,
        "a bare \"Fail\": the card may exist; resolve before re-sending",
    ),
    (
        100000,
        transient(),
        "card issuer error; re-sending the same orderNo cannot duplicate",
    ),
    (
        200001,
        CodeClass::Permanent,
        "a required parameter is missing",
    ),
    (200002, CodeClass::Permanent, "a parameter is invalid"),
    (
        200003,
        CodeClass::Permanent,
        "not application/json: a client bug",
    ),
    (
        200004,
        CodeClass::Permanent,
        "the body is not JSON: a client bug",
    ),
    (
        200005,
        transient(),
        "timestamp outside the 1-minute window; the next attempt re-signs",
    ),
    (
        200006,
        CodeClass::Permanent,
        "signature error: wrong secret (configuration)",
    ),
    (
        200007,
        CodeClass::Permanent,
        "IP not allow-listed (configuration)",
    ),
    (
        200008,
        transient(),
        "reverse validation failed: our check endpoint may have been down",
    ),
    (
        200009,
        CodeClass::Permanent,
        "our check answer's signature was refused (configuration)",
    ),
    (
        300001,
        CodeClass::AlreadyDone,
        "duplicate orderNo: the card was already created",
    ),
    (
        300002,
        CodeClass::Permanent,
        "unknown merchant (access key)",
    ),
    (
        300003,
        CodeClass::Permanent,
        "deposit outside the single-amount limit",
    ),
    (
        300004,
        park(),
        "merchant balance too low: retry after a long pause (top-up)",
    ),
    (300005, CodeClass::Permanent, "card exception"),
    (300006, CodeClass::Permanent, "purchase conditions not met"),
    (400000, CodeClass::Permanent, "parameter abnormality"),
    (
        400004,
        CodeClass::Permanent,
        "Open API status abnormal (account, ops)",
    ),
    (400005, CodeClass::Permanent, "illegal amount"),
    (400006, CodeClass::Permanent, "address length abnormal"),
    (400007, CodeClass::Permanent, "currency error"),
    (403009, CodeClass::Permanent, "user and card mismatch"),
    (403010, CodeClass::Permanent, "card status abnormal"),
    (
        403101,
        park(),
        "account amount insufficient: retry after a long pause (top-up)",
    ),
    (404005, CodeClass::Permanent, "card does not exist"),
    (
        500000,
        transient(),
        "system abnormality; re-sending the same orderNo cannot duplicate",
    ),
    (600000, CodeClass::Permanent, "user does not exist"),
    (600001, CodeClass::Permanent, "KYC incomplete"),
    (
        600002,
        transient(),
        "create card error; re-sending the same orderNo cannot duplicate",
    ),
    (
        600003,
        CodeClass::AlreadyDone,
        "card already applied for this orderNo",
    ),
    (600004, transient(), "recharge error (not a create answer)"),
    (600005, transient(), "refund error (not a create answer)"),
    (600006, transient(), "card needs activation: retry later"),
    (
        600010,
        CodeClass::Permanent,
        "\"kyc finish\": not a create answer; an operator must look",
    ),
    (
        600011,
        CodeClass::Permanent,
        "decryption failed (configuration)",
    ),
    (
        600012,
        CodeClass::Permanent,
        "user-related refusal (description truncated in the docs)",
    ),
];

/// The class of an envelope code, and why. Codes missing from the documentation are
/// permanent: an answer we cannot interpret is not retried blindly, and the order keeps the
/// provider's code for an operator.
pub fn classify(code: i64) -> (CodeClass, &'static str) {
    TABLE
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, class, why)| (*class, *why))
        .unwrap_or((CodeClass::Permanent, "an undocumented code"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_name(class: CodeClass) -> &'static str {
        match class {
            CodeClass::Success => "success",
            CodeClass::AlreadyDone => "already done",
            CodeClass::Transient { retry_after: None } => "transient",
            CodeClass::Transient {
                retry_after: Some(_),
            } => "transient (15 min)",
            CodeClass::Permanent => "permanent",
            CodeClass::Unknown => "unknown",
        }
    }

    #[test]
    fn the_mission_critical_codes_have_their_class() {
        assert_eq!(classify(300001).0, CodeClass::AlreadyDone);
        assert_eq!(classify(600003).0, CodeClass::AlreadyDone);
        assert_eq!(classify(1).0, CodeClass::Unknown);
        for code in [100000, 500000, 600002, 200005, 200008] {
            assert_eq!(classify(code).0, transient(), "{code}");
        }
        assert_eq!(
            classify(300004).0,
            CodeClass::Transient {
                retry_after: Some(BALANCE_RETRY)
            }
        );
        assert_eq!(classify(200006).0, CodeClass::Permanent);
        assert_eq!(classify(987654).0, CodeClass::Permanent);
    }

    #[test]
    fn every_code_appears_once() {
        let mut codes: Vec<i64> = TABLE.iter().map(|(c, _, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), TABLE.len());
    }

    #[test]
    fn the_documented_table_matches_the_code() {
        let doc = crate::providers::readme_section("Alchemy Pay VCC (`alchemypay_vcc`)");
        for (code, class, _) in TABLE {
            let row = format!("| `{code}` | {} |", class_name(*class));
            assert!(doc.contains(&row), "docs lack the row starting {row}");
        }
    }
}
