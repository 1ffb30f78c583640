//! Rate limits per (provider, credential): a token bucket, or UQPAY's fixed per-minute window
//! (16:20:00-16:21:00 style, aligned on the sandbox clock's minutes).

use super::FaultConfig;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
enum Limiter {
    Bucket {
        rate: f64,
        burst: f64,
        tokens: f64,
        last: Instant,
    },
    Window {
        limit: u32,
        minute: i64,
        count: u32,
    },
}

/// The limiters of every (provider, credential) seen.
#[derive(Debug, Default)]
pub struct RateLimits {
    limiters: Mutex<HashMap<(String, String), Limiter>>,
}

impl RateLimits {
    /// Takes one request's permit. `Err(retry_after)` when the limit is reached. `now_ms` is the
    /// sandbox clock in Unix milliseconds (for the per-minute window).
    pub fn check(
        &self,
        provider: &str,
        credential: &str,
        faults: &FaultConfig,
        now_ms: i64,
    ) -> Result<(), Duration> {
        let wanted = match (faults.rate_limit_per_minute, faults.rate_limit_per_sec) {
            (Some(limit), _) => Some(Limiter::Window {
                limit,
                minute: now_ms.div_euclid(60_000),
                count: 0,
            }),
            (None, Some(rate)) => {
                let burst = faults.rate_limit_burst.map_or(rate.max(1.0), f64::from);
                Some(Limiter::Bucket {
                    rate,
                    burst,
                    tokens: burst,
                    last: Instant::now(),
                })
            }
            (None, None) => None,
        };
        let key = (provider.to_string(), credential.to_string());
        let mut limiters = self.limiters.lock().expect("rate limit lock");
        let Some(wanted) = wanted else {
            limiters.remove(&key);
            return Ok(());
        };
        let limiter = limiters.entry(key).or_insert_with(|| wanted.clone());
        // A limit changed at run time replaces the limiter (and its state).
        if !same_settings(limiter, &wanted) {
            *limiter = wanted;
        }
        match limiter {
            Limiter::Bucket {
                rate,
                burst,
                tokens,
                last,
            } => {
                let now = Instant::now();
                *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * *rate).min(*burst);
                *last = now;
                if *tokens >= 1.0 {
                    *tokens -= 1.0;
                    Ok(())
                } else {
                    Err(Duration::from_secs_f64((1.0 - *tokens) / *rate))
                }
            }
            Limiter::Window {
                limit,
                minute,
                count,
            } => {
                let current = now_ms.div_euclid(60_000);
                if current != *minute {
                    *minute = current;
                    *count = 0;
                }
                if *count < *limit {
                    *count += 1;
                    Ok(())
                } else {
                    let next_minute_ms = (current + 1) * 60_000;
                    Err(Duration::from_millis(
                        (next_minute_ms - now_ms).max(0) as u64
                    ))
                }
            }
        }
    }
}

fn same_settings(current: &Limiter, wanted: &Limiter) -> bool {
    match (current, wanted) {
        (
            Limiter::Bucket { rate, burst, .. },
            Limiter::Bucket {
                rate: r2,
                burst: b2,
                ..
            },
        ) => rate == r2 && burst == b2,
        (Limiter::Window { limit, .. }, Limiter::Window { limit: l2, .. }) => limit == l2,
        _ => false,
    }
}

/// `Retry-After` in whole seconds, rounded up and at least 1.
pub fn retry_after_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_per_minute_window_refuses_the_request_over_the_limit_until_the_next_minute() {
        let limits = RateLimits::default();
        let faults = FaultConfig {
            rate_limit_per_minute: Some(2),
            ..FaultConfig::default()
        };
        let t = 10 * 60_000 + 45_000; // 45 s into a minute
        assert!(limits.check("uqpay", "c", &faults, t).is_ok());
        assert!(limits.check("uqpay", "c", &faults, t).is_ok());
        let wait = limits.check("uqpay", "c", &faults, t).unwrap_err();
        assert_eq!(wait, Duration::from_secs(15));
        assert!(
            limits.check("uqpay", "other", &faults, t).is_ok(),
            "per credential"
        );
        assert!(limits.check("uqpay", "c", &faults, t + 15_000).is_ok());
    }

    #[test]
    fn a_token_bucket_allows_its_burst_then_refuses() {
        let limits = RateLimits::default();
        let faults = FaultConfig {
            rate_limit_per_sec: Some(0.001),
            rate_limit_burst: Some(3),
            ..FaultConfig::default()
        };
        for _ in 0..3 {
            assert!(limits.check("qitech_prepaid", "k", &faults, 0).is_ok());
        }
        assert!(limits.check("qitech_prepaid", "k", &faults, 0).is_err());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(15_000)), 15);
        assert_eq!(retry_after_secs(Duration::from_millis(15_001)), 16);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
