//! UQPAY's answers, classified: the one table of which codes are transient, permanent or
//! unknown, and why (mirrored in the README; a test keeps them equal).
//!
//! UQPAY publishes no card-issuance error-code table (spec §3.2), so the table holds the codes
//! its docs and SDKs name plus the validation codes the sandbox answers; a code not in the table
//! follows its HTTP status (any other 4xx is permanent, as the official SDKs treat it).

use super::wire::ErrorBody;
use crate::providers::Classified;
use crate::providers::http::classify_status;
use std::time::Duration;

/// What a code means for the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Retry later with the same idempotency key.
    Transient,
    /// Retry later, and slow the whole lane down.
    RateLimited,
    /// Refused for good; the order is rejected with this code.
    Permanent,
}

/// Every code UQPAY (or the sandbox standing in for it) is known to answer on the create and
/// lookup calls, with its class and the reason for it.
pub const CODES: &[(&str, Class, &str)] = &[
    // Transient.
    (
        "request_processing",
        Class::Transient,
        "400 {\"code\":200} \"Request is processing\": the first request with this key is still running; retry the same key later",
    ),
    (
        "api_error",
        Class::Transient,
        "500 gateway-internal failure; UQPAY says it is safe to retry with the same x-idempotency-key",
    ),
    (
        "unauthorized",
        Class::Transient,
        "401 even after a token refresh: the token was revoked again meanwhile; nothing was created, the next attempt gets a fresh token",
    ),
    // Rate limited.
    (
        "too_many_requests",
        Class::RateLimited,
        "429 per-minute window exceeded: retry after Retry-After (or the next minute)",
    ),
    (
        "rate_limit_error",
        Class::RateLimited,
        "429 typed rate-limit error",
    ),
    (
        "velocity_limit_exceeded",
        Class::RateLimited,
        "429 api_error variant for request velocity",
    ),
    // Permanent: idempotency.
    (
        "key_conflict",
        Class::Permanent,
        "idempotency_error: our key was used with a different body, a bug; a new key could issue a second card, so never re-send",
    ),
    (
        "invalid_idempotency_key",
        Class::Permanent,
        "idempotency_error: the key is empty or longer than 64 characters",
    ),
    // Permanent: validation of the order (spec §6.1); fixing it needs a new order.
    (
        "missing_required_fields",
        Class::Permanent,
        "cardholder_id, card_product_id or card_currency missing",
    ),
    (
        "invalid_request",
        Class::Permanent,
        "malformed body or field type",
    ),
    (
        "card_product_not_found",
        Class::Permanent,
        "card_product_id does not exist",
    ),
    (
        "product_disabled",
        Class::Permanent,
        "the card product is not ENABLED",
    ),
    (
        "card_form_not_supported",
        Class::Permanent,
        "the product does not issue virtual (VIR) cards",
    ),
    (
        "invalid_card_currency",
        Class::Permanent,
        "card_currency is not one of the product's currencies",
    ),
    (
        "cardholder_not_found",
        Class::Permanent,
        "cardholder_id does not exist",
    ),
    (
        "cardholder_status_invalid",
        Class::Permanent,
        "the cardholder is not in SUCCESS status (KYC pending or failed)",
    ),
    (
        "invalid_card_limit",
        Class::Permanent,
        "card_limit missing or below 0.01 for BINs 527735/555071/555243, or negative",
    ),
    (
        "invalid_usage_type",
        Class::Permanent,
        "usage_type is not NORMAL or ONE_TIME",
    ),
    (
        "missing_auto_cancel_trigger",
        Class::Permanent,
        "ONE_TIME cards need auto_cancel_trigger",
    ),
    (
        "invalid_auto_cancel_trigger",
        Class::Permanent,
        "auto_cancel_trigger is not ON_AUTH or ON_CAPTURE",
    ),
    (
        "metadata_too_large",
        Class::Permanent,
        "metadata is over 3200 bytes",
    ),
    (
        "invalid_metadata",
        Class::Permanent,
        "metadata is not a JSON object",
    ),
    (
        "invalid_risk_controls",
        Class::Permanent,
        "allowed_mcc and blocked_mcc together, or not an object",
    ),
    (
        "sub_account_not_found",
        Class::Permanent,
        "x-on-behalf-of names no Issuing sub-account",
    ),
    // Permanent: the account's funds. UQPAY replays a failed answer for 24 h under the same key,
    // so a retry cannot succeed even after a top-up; the order is rejected and re-submitted.
    (
        "insufficient_balance",
        Class::Permanent,
        "the issuing balance cannot pre-fund a SINGLE-mode card_limit",
    ),
    (
        "insufficient_sub_bin",
        Class::Permanent,
        "the BIN's pre-allocated card pool is exhausted; contact UQPAY",
    ),
    // Lookups.
    (
        "card_not_found",
        Class::Permanent,
        "GET card: no such card for this client",
    ),
    (
        "card_order_not_found",
        Class::Permanent,
        "GET card order: no such order for this client",
    ),
];

/// The table entry of `code`.
pub fn lookup(code: &str) -> Option<(Class, &'static str)> {
    CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|&(_, class, why)| (class, why))
}

/// Classifies a non-2xx answer. A 401 reaches this only after the one token refresh the
/// client makes, so it is transient here.
pub fn classify(status: u16, body: &ErrorBody, retry_after: Option<Duration>) -> Classified {
    let message = body.text();
    let raw_code = body.code_text();
    let processing = raw_code.as_deref() == Some("200")
        || message
            .to_ascii_lowercase()
            .contains("request is processing");
    let code = if status == 400 && processing {
        "request_processing".to_string()
    } else if status == 401 {
        "unauthorized".to_string()
    } else {
        raw_code.unwrap_or_else(|| format!("http_{status}"))
    };
    let message = if message.is_empty() {
        format!("UQPAY answered HTTP {status}")
    } else {
        message
    };
    match lookup(&code) {
        Some((Class::Transient, _)) => Classified::Transient {
            code,
            message,
            retry_after,
            rate_limited: false,
        },
        Some((Class::RateLimited, _)) => Classified::Transient {
            code,
            message,
            retry_after,
            rate_limited: true,
        },
        // Any 5xx, 408 and 429 are transient whatever their body says; other statuses with a
        // code in the table are permanent, and so is any other 4xx (the SDKs do not retry them).
        Some((Class::Permanent, _)) | None => {
            match classify_status(status, retry_after, Some(&code)) {
                Some(Classified::Transient {
                    code,
                    retry_after,
                    rate_limited,
                    ..
                }) => Classified::Transient {
                    code,
                    message,
                    retry_after,
                    rate_limited,
                },
                _ => Classified::Permanent { code, message },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> ErrorBody {
        ErrorBody::parse(json.as_bytes())
    }

    #[test]
    fn the_in_flight_idempotency_answer_is_transient() {
        let c = classify(
            400,
            &body(r#"{"code":200,"message":"Request is processing, please try again later"}"#),
            None,
        );
        assert!(
            matches!(c, Classified::Transient { ref code, rate_limited: false, .. } if code == "request_processing"),
            "{c:?}"
        );
    }

    #[test]
    fn a_key_conflict_is_permanent_so_the_key_is_never_replaced() {
        let c = classify(
            400,
            &body(r#"{"type":"idempotency_error","code":"key_conflict","message":"m"}"#),
            None,
        );
        assert_eq!(
            c,
            Classified::Permanent {
                code: "key_conflict".into(),
                message: "m".into()
            }
        );
    }

    #[test]
    fn a_429_is_rate_limited_with_its_retry_after() {
        let c = classify(
            429,
            &body(r#"{"code":"too_many_requests","message":"Too many requests"}"#),
            Some(Duration::from_secs(3)),
        );
        assert_eq!(
            c,
            Classified::Transient {
                code: "too_many_requests".into(),
                message: "Too many requests".into(),
                retry_after: Some(Duration::from_secs(3)),
                rate_limited: true
            }
        );
    }

    #[test]
    fn a_server_error_is_transient_even_with_an_unknown_code() {
        let c = classify(503, &body("<html>bad gateway</html>"), None);
        assert!(
            matches!(c, Classified::Transient { ref code, .. } if code == "http_503"),
            "{c:?}"
        );
    }

    #[test]
    fn an_unknown_4xx_code_is_permanent_with_that_code() {
        let c = classify(
            403,
            &body(r#"{"type":"forbidden","code":"nope","message":"no"}"#),
            None,
        );
        assert!(
            matches!(c, Classified::Permanent { ref code, .. } if code == "nope"),
            "{c:?}"
        );
    }

    #[test]
    fn every_code_in_the_table_is_documented_in_the_markdown_table() {
        let doc = crate::providers::readme_section("UQPAY (`uqpay`)");
        for (code, _, _) in CODES {
            assert!(
                doc.contains(&format!("`{code}`")),
                "{code} missing from the README"
            );
        }
    }
}
