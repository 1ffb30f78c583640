//! QI Tech's error table: every documented code of the calls cardbatch makes, with its class
//! and why (the README shows the same tables; a test keeps them equal).
//!
//! A code decides first; a code not in the table falls back on the HTTP status: 429 is
//! transient and slows the lane, 408 and 5xx are transient (unknown for the prepaid create,
//! which has no idempotency), and any other status is permanent with the provider's code.

use crate::providers::Classified;
use crate::providers::http::classify_status;
use std::time::Duration;

/// Which call an answer belongs to: the same code can mean different things on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QiCall {
    /// `POST /prepaid/card`.
    PrepaidCreate,
    /// `POST /wallet/{wallet_key}/payment_instrument`.
    PostpaidCreate,
    /// `GET /prepaid/card/{card_key}`, `GET /prepaid/card?account_key=` and
    /// `GET /wallet/{wallet_key}/card/{card_key}`.
    Lookup,
}

/// The class of a code, before it becomes a [`Classified`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Retry later with the same key (or, for prepaid, the same `card_name`).
    Transient,
    /// Refused for good: fix the order or the configuration.
    Permanent,
    /// The request may have been carried out: resolve before anything is re-sent.
    Unknown,
    /// QI says it already has the request and cardbatch cannot find its card by itself.
    NeedsReview,
}

/// The class of a QI code on `call`, with the reason; `None` for a code the table does not
/// know. One match with every documented code, so adding a code forces a decision.
pub fn rule(call: QiCall, code: &str) -> Option<(Class, &'static str)> {
    use Class::*;
    use QiCall::*;
    Some(match (call, code) {
        // Authentication (prepaid spec §3.4), on every call.
        (_, "GDF000003") => (
            Permanent,
            "no API-CLIENT-KEY was sent: a configuration error",
        ),
        (_, "GDF000018") => (
            Permanent,
            "QI knows no integration for this API key: a configuration error",
        ),
        (_, "GDF000014") => (
            Transient,
            "the token did not verify; clock skew heals on a retry with a fresh time, a wrong key ends `dead` after max_attempts; the request was refused before any processing",
        ),
        (_, "QIT000001") => (
            Permanent,
            "the body does not match QI's schema: the order must be fixed",
        ),
        // Prepaid create (prepaid spec §6.4).
        (PrepaidCreate, "CARD000005") => (Permanent, "the program_key does not exist"),
        (PrepaidCreate, "CARD000006") => (
            Permanent,
            "the account_key does not exist; cardbatch issues on accounts opened beforehand, so this is a wrong key rather than a just-opened account, and retrying would hold the batch for the whole backoff schedule",
        ),
        (PrepaidCreate, "CARD000007") => (
            Permanent,
            "the account owner's person type is not allowed by the program",
        ),
        (PrepaidCreate, "CARD000008") => (
            Permanent,
            "the card holder's status forbids issuing until an operator changes it",
        ),
        (PrepaidCreate, "CARD000009") => (
            Transient,
            "QI says the card could not be generated and to try again later: nothing was created, so the same card_name may be re-sent",
        ),
        (PrepaidCreate, "CARD000010") => (Permanent, "the account's owner person does not exist"),
        (PrepaidCreate, "CARD000032") => (Permanent, "the program does not allow virtual cards"),
        // Postpaid create (postpaid spec §6.10).
        (PostpaidCreate, "CIN000007") => (Permanent, "the wallet_key does not exist"),
        (PostpaidCreate, "CIN000062") => (Permanent, "the person_key does not exist"),
        (PostpaidCreate, "CIN000073") => (
            Permanent,
            "limit_amount exceeds the wallet's postpaid credit limit",
        ),
        (PostpaidCreate, "CIN000074") => (Permanent, "limit_amount exceeds the wallet's CCB limit"),
        (PostpaidCreate, "CIN000067") => (
            Transient,
            "QI failed to create the owner and says to try again in a few minutes; the same request_control_key is re-sent",
        ),
        (PostpaidCreate, "CIN000072") => (
            Transient,
            "QI's card service failed and says to try again in a few minutes; the same request_control_key is re-sent, and a 409 then tells if the instrument was kept",
        ),
        (PostpaidCreate, "CIN000099") => (
            NeedsReview,
            "the request_control_key was already used: accepted when extra_fields carry the keys, otherwise QI offers no lookup by key and an operator must check the wallet's instruments",
        ),
        // Lookups (prepaid spec §7, postpaid spec §7.1).
        (Lookup, "CARD000016") => (
            Transient,
            "QI says the card could not be fetched and to try again later",
        ),
        (Lookup, "CARD000011") => (Permanent, "no card has this card_key"),
        (Lookup, "CARD000006") => (Permanent, "the account_key does not exist"),
        (Lookup, "CIN000007") => (Permanent, "the wallet_key does not exist"),
        _ => return None,
    })
}

/// Every code of the table, for the docs and their test.
pub const CODES: &[(QiCall, &str)] = &[
    (QiCall::PrepaidCreate, "GDF000003"),
    (QiCall::PrepaidCreate, "GDF000018"),
    (QiCall::PrepaidCreate, "GDF000014"),
    (QiCall::PrepaidCreate, "QIT000001"),
    (QiCall::PrepaidCreate, "CARD000005"),
    (QiCall::PrepaidCreate, "CARD000006"),
    (QiCall::PrepaidCreate, "CARD000007"),
    (QiCall::PrepaidCreate, "CARD000008"),
    (QiCall::PrepaidCreate, "CARD000009"),
    (QiCall::PrepaidCreate, "CARD000010"),
    (QiCall::PrepaidCreate, "CARD000032"),
    (QiCall::PostpaidCreate, "CIN000007"),
    (QiCall::PostpaidCreate, "CIN000062"),
    (QiCall::PostpaidCreate, "CIN000073"),
    (QiCall::PostpaidCreate, "CIN000074"),
    (QiCall::PostpaidCreate, "CIN000067"),
    (QiCall::PostpaidCreate, "CIN000072"),
    (QiCall::PostpaidCreate, "CIN000099"),
    (QiCall::Lookup, "CARD000016"),
    (QiCall::Lookup, "CARD000011"),
    (QiCall::Lookup, "CARD000006"),
    (QiCall::Lookup, "CIN000007"),
];

/// Classifies an error answer: `status`, QI's `code` and `description` (when the body had the
/// envelope) and `Retry-After`.
pub fn classify(
    call: QiCall,
    status: u16,
    code: Option<&str>,
    description: &str,
    retry_after: Option<Duration>,
) -> Classified {
    let message = short(description, status);
    // A 429 slows the lane whatever code it carries (QI documents none; the sandbox's
    // QIT000429 is synthetic).
    if status != 429
        && let Some(code) = code
        && let Some((class, _)) = rule(call, code)
    {
        let code = code.to_string();
        return match class {
            Class::Transient => Classified::Transient {
                code,
                message,
                retry_after,
                rate_limited: false,
            },
            Class::Permanent => Classified::Permanent { code, message },
            Class::Unknown => Classified::Unknown { code, message },
            Class::NeedsReview => Classified::NeedsReview { code, message },
        };
    }
    match classify_status(status, retry_after, code) {
        // The prepaid create has no idempotency: a 5xx or 408 may come after QI created the
        // card, so the card is looked up by its card_name before anything is re-sent.
        Some(Classified::Transient {
            code,
            rate_limited: false,
            ..
        }) if call == QiCall::PrepaidCreate => Classified::Unknown {
            code,
            message: format!("{message}; the card may have been created"),
        },
        Some(classified) => classified,
        None => Classified::Permanent {
            code: code.map_or_else(|| format!("http_{status}"), str::to_string),
            message,
        },
    }
}

/// The description, bounded, or the status when there is none.
fn short(description: &str, status: u16) -> String {
    let text = description.trim();
    if text.is_empty() {
        return format!("QI answered HTTP {status}");
    }
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_transient_codes_are_transient() {
        for (call, code) in [
            (QiCall::PrepaidCreate, "CARD000009"),
            (QiCall::PostpaidCreate, "CIN000072"),
            (QiCall::PostpaidCreate, "CIN000067"),
            (QiCall::Lookup, "CARD000016"),
        ] {
            let c = classify(call, 400, Some(code), "try again later", None);
            assert!(
                matches!(&c, Classified::Transient { code: got, rate_limited: false, .. } if got == code),
                "{code}: {c:?}"
            );
        }
    }

    #[test]
    fn every_code_in_the_list_has_a_rule_and_a_reason() {
        for (call, code) in CODES {
            let (_, why) = rule(*call, code).unwrap_or_else(|| panic!("{code} has no rule"));
            assert!(why.len() > 10, "{code}");
        }
    }

    #[test]
    fn a_server_error_is_unknown_on_the_prepaid_create_and_transient_elsewhere() {
        let prepaid = classify(QiCall::PrepaidCreate, 502, None, "", None);
        let postpaid = classify(QiCall::PostpaidCreate, 502, None, "", None);

        assert!(
            matches!(prepaid, Classified::Unknown { ref code, .. } if code == "http_502"),
            "{prepaid:?}"
        );
        assert!(
            matches!(postpaid, Classified::Transient { .. }),
            "{postpaid:?}"
        );
    }

    #[test]
    fn a_429_is_rate_limited_with_its_retry_after_whatever_its_code() {
        let c = classify(
            QiCall::PrepaidCreate,
            429,
            Some("QIT000429"),
            "Rate limit exceeded",
            Some(Duration::from_secs(2)),
        );
        assert_eq!(
            c,
            Classified::Transient {
                code: "QIT000429".into(),
                message: "rate limited by the provider".into(),
                retry_after: Some(Duration::from_secs(2)),
                rate_limited: true,
            }
        );
    }

    #[test]
    fn an_unknown_code_on_a_4xx_is_permanent_with_that_code() {
        let c = classify(QiCall::PrepaidCreate, 400, Some("CARD000099"), "new", None);
        assert_eq!(
            c,
            Classified::Permanent {
                code: "CARD000099".into(),
                message: "new".into()
            }
        );
    }

    #[test]
    fn the_docs_show_every_code_of_the_table_with_its_reason() {
        let prepaid = crate::providers::readme_section("QI Tech prepaid (`qitech_prepaid`)");
        let postpaid = crate::providers::readme_section("QI Tech postpaid (`qitech_postpaid`)");
        let has_row = |doc: &str, code: &str, why: &str| {
            doc.lines()
                .any(|l| l.starts_with(&format!("| `{code}`")) && l.contains(why))
        };
        for (call, code) in CODES {
            let (_, why) = rule(*call, code).unwrap();
            let shown = match call {
                QiCall::PrepaidCreate => has_row(prepaid, code, why),
                QiCall::PostpaidCreate => has_row(postpaid, code, why),
                QiCall::Lookup => has_row(prepaid, code, why) || has_row(postpaid, code, why),
            };
            assert!(shown, "{code} ({call:?}) is not in the docs with: {why}");
        }
    }

    #[test]
    fn card000006_is_permanent_on_create() {
        assert!(matches!(
            classify(QiCall::PrepaidCreate, 404, Some("CARD000006"), "x", None),
            Classified::Permanent { .. }
        ));
    }
}
