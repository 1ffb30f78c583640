//! Reverse validation ("anti-check"): before processing a create, the sandbox calls the
//! merchant's check URL `GET <check_url>?orderNo=<orderNo>` and verifies the answer.
//!
//! [inferred] choices (the exact success body is not documented):
//! - the check URL is `options.check_url` of the `alchemypay_vcc` provider settings; with none
//!   configured, reverse validation is skipped (counted as `reverse_validation_skipped`), since
//!   real Alchemy Pay refuses to onboard a merchant without one and a sandbox without a merchant
//!   server should still issue cards;
//! - success = HTTP 2xx and a body that is `success` (any case), or JSON with `success: true` or
//!   `code` 0 / "0";
//! - the answer must carry `ach-access-key` (the merchant's own key, as on the request),
//!   `ach-access-timestamp` (13 digits, within 60 s) and `ach-access-sign` =
//!   Base64(HMAC-SHA256(secret, timestamp + "GET" + check path with query + canonical body));
//! - no answer, a non-2xx or a refusal -> 200008; missing or wrong signature headers -> 200009.

use super::auth::{Signed, TIMESTAMP_WINDOW_MS, canonical_body, signature_matches};
use super::wire::AchError;
use serde_json::Value;
use std::time::Duration;

/// How long the merchant has to answer.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// `check_url` with `orderNo` appended.
pub fn check_url(base: &str, order_no: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    let encoded: String = order_no
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{base}{sep}orderNo={encoded}")
}

fn says_success(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    if text.trim().eq_ignore_ascii_case("success") {
        return true;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            v.get("success") == Some(&Value::Bool(true))
                || matches!(v.get("code"), Some(Value::String(c)) if c == "0")
                || v.get("code").and_then(Value::as_i64) == Some(0)
        }
        Err(_) => false,
    }
}

/// Calls the merchant and checks its answer.
pub async fn validate(
    http: &reqwest::Client,
    check_base: &str,
    order_no: &str,
    access_key: &str,
    secret: &str,
    now_ms: i64,
) -> Result<(), AchError> {
    let failed = || AchError::new(200008, "Reverse verification failed");
    let bad_sign = || AchError::new(200009, "Counter verification signature error");
    let url = check_url(check_base, order_no);
    let parsed = reqwest::Url::parse(&url).map_err(|_| failed())?;
    let path_and_query = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let response = http
        .get(parsed)
        .timeout(CHECK_TIMEOUT)
        .send()
        .await
        .map_err(|_| failed())?;
    if !response.status().is_success() {
        return Err(failed());
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (key, timestamp, sign) = (
        header("ach-access-key"),
        header("ach-access-timestamp"),
        header("ach-access-sign"),
    );
    let body = response.bytes().await.map_err(|_| failed())?;
    let signed = Signed {
        key: key.as_deref(),
        timestamp: timestamp.as_deref(),
        sign: sign.as_deref(),
    };
    let (Some(key), Some(timestamp), Some(sign)) = (signed.key, signed.timestamp, signed.sign)
    else {
        return Err(bad_sign());
    };
    let fresh = timestamp.len() == 13
        && timestamp
            .parse::<i64>()
            .is_ok_and(|ts| (now_ms - ts).abs() <= TIMESTAMP_WINDOW_MS);
    if key != access_key
        || !fresh
        || !signature_matches(
            secret,
            timestamp,
            "GET",
            &path_and_query,
            &canonical_body(&body),
            sign,
        )
    {
        return Err(bad_sign());
    }
    if !says_success(&body) {
        return Err(failed());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_number_is_appended_and_encoded() {
        assert_eq!(
            check_url("http://h/check", "v_5bc814"),
            "http://h/check?orderNo=v_5bc814"
        );
        assert_eq!(
            check_url("http://h/c?x=1", "a b"),
            "http://h/c?x=1&orderNo=a%20b"
        );
    }

    #[test]
    fn success_bodies_are_recognised() {
        assert!(says_success(b"success"));
        assert!(says_success(br#"{"success":true}"#));
        assert!(says_success(br#"{"code":"0"}"#));
        assert!(!says_success(br#"{"success":false}"#));
        assert!(!says_success(b"no"));
    }
}
