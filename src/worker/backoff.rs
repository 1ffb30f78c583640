//! Durable retry scheduling: exponential backoff with full jitter and a cap, per profile.
//!
//! A retry is not a sleeping task: the delay becomes the order's `next_attempt_at`, so it holds
//! no worker slot and survives restarts.

use super::handler::{HandlerResult, Outcome};
use crate::config::Profile;
use crate::domain::OrderState;
use crate::store::{ClaimedOrder, Completion};
use std::time::Duration;

/// The largest delay the `attempt`-th failure may draw: `min(cap, base * 2^(attempt - 1))`.
pub fn backoff_ceiling(profile: &Profile, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(62);
    let ms = profile.backoff_base_ms.saturating_mul(1u64 << doublings);
    Duration::from_millis(ms.min(profile.backoff_cap_ms))
}

/// The delay before retrying after the `attempt`-th transient failure: a uniform draw in
/// `0..=ceiling` ("full jitter", so that orders failing together do not retry together), but
/// never less than the provider's `Retry-After`.
pub fn retry_delay(profile: &Profile, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let ceiling = backoff_ceiling(profile, attempt).as_millis() as u64;
    let jittered = Duration::from_millis(rand::random_range(0..=ceiling));
    jittered.max(retry_after.unwrap_or_default())
}

/// Turns a handler's report into the row update for the store.
pub fn completion_for(
    profile: &Profile,
    order: &ClaimedOrder,
    result: HandlerResult,
    now_ms: i64,
) -> Completion {
    let mut completion = Completion {
        order_id: order.id,
        state: OrderState::Submitted,
        next_attempt_at: None,
        provider_refs: None,
        error: None,
        attempts: result.attempts,
        nothing_sent: false,
    };
    // Past its time budget an order whose calls never reach the provider stops retrying.
    let out_of_time =
        now_ms - order.order.queued_at_ms >= profile.give_up_after().as_millis() as i64;
    match result.outcome {
        Outcome::Submitted { refs } => completion.provider_refs = Some(refs),
        Outcome::Issued { refs } => {
            completion.state = OrderState::Issued;
            completion.provider_refs = Some(refs);
        }
        Outcome::Transient {
            code,
            message,
            retry_after,
        } => {
            // A call that never left is not an attempt: only the time budget ends those.
            completion.nothing_sent =
                code == crate::providers::http::NOT_SENT || code == super::issue::LEASE_LOST;
            let given_up = match completion.nothing_sent {
                true => out_of_time,
                false => order.attempt >= profile.max_attempts,
            };
            if given_up {
                completion.state = OrderState::Dead;
            } else {
                let delay = retry_delay(profile, order.attempt, retry_after);
                completion.state = OrderState::RetryWait;
                completion.next_attempt_at = Some(now_ms + delay.as_millis() as i64);
            }
            completion.error = Some((code, message));
        }
        Outcome::Permanent { code, message } => {
            completion.state = OrderState::Rejected;
            completion.error = Some((code, message));
        }
        Outcome::Unknown { code, message } => {
            if order.attempt >= profile.max_attempts {
                // Still in doubt after every attempt the profile allows: resending is never
                // blind, so a human decides.
                completion.state = OrderState::NeedsReview;
            } else {
                // The claim takes the order back once this is due and the provider layer
                // resolves the doubt first. At least the profile's doubt wait, so that a provider
                // that shows a new card late has that time.
                completion.state = OrderState::InDoubt;
                let delay = retry_delay(profile, order.attempt, None).max(profile.doubt_wait());
                completion.next_attempt_at = Some(now_ms + delay.as_millis() as i64);
            }
            completion.error = Some((code, message));
        }
        Outcome::NeedsReview { code, message } => {
            completion.state = OrderState::NeedsReview;
            completion.error = Some((code, message));
        }
    }
    completion
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProviderKind;

    fn profile(base: u64, cap: u64, max_attempts: u32) -> Profile {
        let mut p = Profile::sandbox(ProviderKind::Uqpay, "127.0.0.1:1");
        p.backoff_base_ms = base;
        p.backoff_cap_ms = cap;
        p.max_attempts = max_attempts;
        p
    }

    fn order(attempt: u32) -> ClaimedOrder {
        ClaimedOrder {
            id: 7,
            batch_id: uuid::Uuid::nil(),
            attempt,
            previous_outcome_unknown: false,
            order: crate::domain::ProviderOrder {
                profile: "p".into(),
                provider: ProviderKind::Uqpay,
                order_ref: "r".into(),
                idempotency_key: "k".into(),
                payload: serde_json::json!({}),
                amount_minor: None,
                currency: None,
                refs: Default::default(),
                queued_at_ms: 0,
            },
        }
    }

    fn transient(retry_after: Option<Duration>) -> HandlerResult {
        Outcome::Transient {
            code: "CARD000009".into(),
            message: "try again".into(),
            retry_after,
        }
        .into()
    }

    #[test]
    fn the_ceiling_doubles_per_attempt_up_to_the_cap() {
        let p = profile(100, 1_000, 8);
        let ceilings: Vec<u128> = (1..=6)
            .map(|a| backoff_ceiling(&p, a).as_millis())
            .collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1_000, 1_000]);
    }

    #[test]
    fn a_huge_attempt_number_does_not_overflow() {
        let p = profile(1_000, 300_000, 8);
        assert_eq!(
            backoff_ceiling(&p, u32::MAX),
            Duration::from_millis(300_000)
        );
    }

    #[test]
    fn every_delay_stays_within_its_ceiling_and_jitter_spreads_them() {
        let p = profile(1_000, 60_000, 8);
        for attempt in 1..=7 {
            let ceiling = backoff_ceiling(&p, attempt);
            let delays: Vec<Duration> = (0..200).map(|_| retry_delay(&p, attempt, None)).collect();
            assert!(delays.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // Full jitter: 200 uniform draws are not all the same value.
            assert!(delays.iter().any(|d| *d != delays[0]), "attempt {attempt}");
        }
    }

    #[test]
    fn a_retry_after_longer_than_the_backoff_is_honoured() {
        let p = profile(10, 100, 8);
        let delay = retry_delay(&p, 1, Some(Duration::from_secs(30)));
        assert_eq!(delay, Duration::from_secs(30));
    }

    #[test]
    fn a_transient_failure_before_the_last_attempt_waits_to_retry() {
        let p = profile(1_000, 10_000, 3);
        let c = completion_for(&p, &order(2), transient(None), 5_000);
        assert_eq!(c.state, OrderState::RetryWait);
        let at = c.next_attempt_at.unwrap();
        assert!((5_000..=7_000).contains(&at), "{at}");
        assert_eq!(c.error.unwrap().0, "CARD000009");
    }

    #[test]
    fn a_transient_failure_on_the_last_attempt_is_dead() {
        let p = profile(1_000, 10_000, 3);
        let c = completion_for(&p, &order(3), transient(None), 5_000);
        assert_eq!(c.state, OrderState::Dead);
        assert_eq!(c.next_attempt_at, None);
    }

    #[test]
    fn a_refused_connection_on_the_last_attempt_retries_and_gives_the_attempt_back() {
        let p = profile(1_000, 60_000, 3);
        let refused: HandlerResult = Outcome::Transient {
            code: crate::providers::http::NOT_SENT.into(),
            message: "could not connect".into(),
            retry_after: None,
        }
        .into();
        let c = completion_for(&p, &order(3), refused, 5_000);
        assert_eq!(c.state, OrderState::RetryWait);
        assert!(c.nothing_sent);
    }

    #[test]
    fn an_order_whose_calls_never_leave_is_dead_once_past_its_time_budget() {
        let p = profile(1_000, 60_000, 8);
        let day = p.give_up_after().as_millis() as i64;
        let refused: HandlerResult = Outcome::Transient {
            code: crate::providers::http::NOT_SENT.into(),
            message: "could not connect".into(),
            retry_after: None,
        }
        .into();
        assert_eq!(
            completion_for(&p, &order(1), refused, day).state,
            OrderState::Dead
        );
        // An answered failure is bounded by max_attempts alone.
        assert_eq!(
            completion_for(&p, &order(1), transient(None), day).state,
            OrderState::RetryWait
        );
    }

    #[test]
    fn an_unknown_answer_puts_the_order_in_doubt_with_its_resolution_due_after_a_backoff() {
        let p = profile(1_000, 10_000, 3);
        let unknown = Outcome::Unknown {
            code: "timeout".into(),
            message: "no answer".into(),
        };
        let c = completion_for(&p, &order(1), unknown.into(), 5_000);
        assert_eq!(c.state, OrderState::InDoubt);
        let at = c.next_attempt_at.expect("a due time for the resolution");
        assert!((6_000..=7_000).contains(&at), "{at}");
    }

    #[test]
    fn a_qi_prepaid_order_in_doubt_waits_a_minute_unless_its_profile_says_otherwise() {
        let unknown = || -> HandlerResult {
            Outcome::Unknown {
                code: "timeout".into(),
                message: "no answer".into(),
            }
            .into()
        };
        let mut qi = profile(1_000, 10_000, 3);
        qi.provider = ProviderKind::QitechPrepaid;
        qi.doubt_wait_ms = None;
        let mut uqpay = qi.clone();
        uqpay.provider = ProviderKind::Uqpay;
        let mut qi_quick = qi.clone();
        qi_quick.doubt_wait_ms = Some(0);

        let due = |p: &Profile| completion_for(p, &order(1), unknown(), 5_000).next_attempt_at;

        assert_eq!(
            due(&qi),
            Some(65_000),
            "the floor is above the backoff's ceiling"
        );
        let uqpay_due = due(&uqpay).unwrap();
        assert!((6_000..=7_000).contains(&uqpay_due), "{uqpay_due}");
        let quick_due = due(&qi_quick).unwrap();
        assert!((6_000..=7_000).contains(&quick_due), "{quick_due}");
    }

    #[test]
    fn an_order_still_in_doubt_on_its_last_attempt_needs_review() {
        let p = profile(1_000, 10_000, 3);
        let unknown = Outcome::Unknown {
            code: "timeout".into(),
            message: "no answer".into(),
        };
        let c = completion_for(&p, &order(3), unknown.into(), 5_000);
        assert_eq!(c.state, OrderState::NeedsReview);
        assert_eq!(c.error.unwrap().0, "timeout");
    }

    #[test]
    fn each_outcome_maps_to_its_state() {
        let p = profile(1_000, 10_000, 3);
        let refs = crate::domain::ProviderRefs::new().with("card_id", "c1");
        let cases = [
            (
                Outcome::Submitted { refs: refs.clone() },
                OrderState::Submitted,
            ),
            (Outcome::Issued { refs: refs.clone() }, OrderState::Issued),
            (
                Outcome::Permanent {
                    code: "x".into(),
                    message: "m".into(),
                },
                OrderState::Rejected,
            ),
            (
                Outcome::Unknown {
                    code: "x".into(),
                    message: "m".into(),
                },
                OrderState::InDoubt,
            ),
            (
                Outcome::NeedsReview {
                    code: "x".into(),
                    message: "m".into(),
                },
                OrderState::NeedsReview,
            ),
        ];
        for (outcome, state) in cases {
            let c = completion_for(&p, &order(1), outcome.into(), 0);
            assert_eq!(c.state, state);
        }
    }
}
