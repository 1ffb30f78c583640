//! Sending a request and classifying what the transport did, the same way for every provider.
//!
//! A connection that could not be made means the request never left: transient. A timeout or a
//! reset after the request was written may have reached the provider: unknown.

use super::Classified;
use std::time::Duration;

/// The shared HTTP client: bounded connect and overall timeouts, no redirects (a provider API
/// that redirects a POST is misconfigured, and following it could send the order twice).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .expect("a reqwest client with static settings always builds")
}

/// The code of a call that never left: the connection was refused or could not be made. Such an
/// attempt does not count toward a profile's `max_attempts` (an outage must not kill a batch);
/// the profile's time budget (`give_up_after_secs`) bounds it instead.
pub const NOT_SENT: &str = "connect";

/// Classifies a transport error (no HTTP answer was read).
pub fn classify_transport(err: &reqwest::Error) -> Classified {
    if err.is_connect() {
        Classified::Transient {
            code: NOT_SENT.into(),
            message: format!("could not connect: {}", root_cause(err)),
            retry_after: None,
            rate_limited: false,
        }
    } else if err.is_timeout() {
        Classified::Unknown {
            code: "timeout".into(),
            message: "no answer before the timeout; the request may have reached the provider"
                .into(),
        }
    } else {
        Classified::Unknown {
            code: "transport".into(),
            message: format!("the answer was lost: {}", root_cause(err)),
        }
    }
}

/// The generic class of an HTTP status that carries no provider-specific meaning: any 5xx, 408
/// and 429 are transient. Returns `None` for statuses the provider table must decide.
pub fn classify_status(
    status: u16,
    retry_after: Option<Duration>,
    body_code: Option<&str>,
) -> Option<Classified> {
    let code = body_code
        .map(str::to_string)
        .unwrap_or_else(|| format!("http_{status}"));
    match status {
        429 => Some(Classified::Transient {
            code,
            message: "rate limited by the provider".into(),
            retry_after,
            rate_limited: true,
        }),
        408 | 500..=599 => Some(Classified::Transient {
            code,
            message: format!("the provider answered HTTP {status}"),
            retry_after,
            rate_limited: false,
        }),
        _ => None,
    }
}

/// The longest wait a provider's `Retry-After` is trusted for (the lanes' own cap).
pub const MAX_RETRY_AFTER: Duration = crate::lanes::MAX_PAUSE;

/// `Retry-After` as seconds or an HTTP date, capped at [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let wait = if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
        // Any run of digits, however long, is a number of seconds: a value too big for u64 is
        // simply "very long".
        value
            .parse::<u64>()
            .map(Duration::from_secs)
            .unwrap_or(Duration::MAX)
    } else {
        let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
        delta.to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    #[test]
    fn retry_after_reads_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    }

    #[test]
    fn a_huge_or_overflowing_retry_after_is_capped_at_an_hour() {
        for value in ["18446744073709551615", "99999999999999999999999", "86400"] {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
            assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER), "{value}");
        }
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("-5"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn server_errors_and_429_are_transient_and_only_429_slows_the_lane() {
        assert!(matches!(
            classify_status(503, None, None),
            Some(Classified::Transient {
                rate_limited: false,
                ..
            })
        ));
        assert!(matches!(
            classify_status(429, None, None),
            Some(Classified::Transient {
                rate_limited: true,
                ..
            })
        ));
        assert_eq!(classify_status(400, None, None), None);
    }
}
