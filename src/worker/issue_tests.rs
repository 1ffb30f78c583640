//! The handler's decisions, with a scripted provider standing in for a real client.

use super::*;
use crate::domain::{ProviderKind, ProviderOrder, ProviderRefs};
use crate::lanes::LocalLane;
use crate::providers::CallKind;
use crate::providers::{CallReport, Provider};
use crate::store::AttemptOutcome;
use serde_json::json;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Answers each create with the next scripted answer and each resolve with its resolution.
#[derive(Default)]
struct Scripted {
    creates: Mutex<VecDeque<Classified>>,
    resolution: Mutex<Option<Resolution>>,
    create_calls: AtomicUsize,
    resolve_calls: AtomicUsize,
    /// What `resend_needs_lookup` answers (UQPAY: the order is older than its key's replay).
    resend_needs_lookup: std::sync::atomic::AtomicBool,
}

fn report(kind: CallKind, classified: Classified) -> CallReport {
    let http_status = match &classified {
        Classified::Accepted { .. } => Some(201),
        Classified::Transient {
            rate_limited: true, ..
        } => Some(429),
        _ => None,
    };
    CallReport {
        kind,
        classified,
        started_at_ms: 1,
        duration_ms: 2,
        http_status,
        provider_code: None,
    }
}

impl Provider for Scripted {
    fn resend_needs_lookup(&self, _: &ProviderOrder, _: i64) -> bool {
        self.resend_needs_lookup.load(Ordering::SeqCst)
    }

    fn create<'a>(&'a self, _: &'a ProviderOrder) -> BoxFuture<'a, CallReport> {
        self.create_calls.fetch_add(1, Ordering::SeqCst);
        let next = self
            .creates
            .lock()
            .unwrap()
            .pop_front()
            .expect("a scripted create");
        Box::pin(async move { report(CallKind::Create, next) })
    }

    fn resolve<'a>(&'a self, _: &'a ProviderOrder) -> BoxFuture<'a, (Resolution, Vec<CallReport>)> {
        self.resolve_calls.fetch_add(1, Ordering::SeqCst);
        let resolution = self
            .resolution
            .lock()
            .unwrap()
            .clone()
            .expect("a scripted resolution");
        let lookup = report(
            CallKind::Lookup,
            Classified::Accepted { refs: r(json!({})) },
        );
        Box::pin(async move { (resolution, vec![lookup]) })
    }
}

fn order(previous_outcome_unknown: bool, refs: Option<serde_json::Value>) -> ClaimedOrder {
    ClaimedOrder {
        id: 1,
        batch_id: uuid::Uuid::nil(),
        attempt: 2,
        previous_outcome_unknown,
        order: ProviderOrder {
            profile: "uqpay".into(),
            provider: ProviderKind::Uqpay,
            order_ref: "r-1".into(),
            idempotency_key: "k-1".into(),
            payload: json!({}),
            amount_minor: None,
            currency: None,
            refs: refs.map(r).unwrap_or_default(),
            queued_at_ms: chrono::Utc::now().timestamp_millis(),
        },
    }
}

fn setup(
    creates: Vec<Classified>,
    resolution: Option<Resolution>,
) -> (Arc<Scripted>, IssueHandler) {
    let provider = Arc::new(Scripted::default());
    *provider.creates.lock().unwrap() = creates.into();
    *provider.resolution.lock().unwrap() = resolution;
    let handler = IssueHandler::new(ProfileClients::new().with(ProfileClient::new(
        "uqpay",
        provider.clone(),
        Arc::new(LocalLane::new(1_000.0)),
    )));
    (provider, handler)
}

fn accepted(refs: serde_json::Value) -> Classified {
    Classified::Accepted { refs: r(refs) }
}

/// Refs written as JSON, read the way stored refs are.
fn r(refs: serde_json::Value) -> ProviderRefs {
    serde_json::from_value(refs).expect("a JSON object")
}

#[tokio::test]
async fn an_accepted_create_submits_the_order_with_its_refs_and_one_attempt_row() {
    // Arrange
    let (provider, handler) = setup(vec![accepted(json!({"card_id": "c1"}))], None);

    // Act
    let result = handler.handle(order(false, None), SendGate::open()).await;

    // Assert
    assert_eq!(
        result.outcome,
        Outcome::Submitted {
            refs: r(json!({"card_id": "c1"}))
        }
    );
    assert_eq!(result.attempts.len(), 1);
    assert_eq!(result.attempts[0].outcome, AttemptOutcome::Accepted);
    assert_eq!(result.attempts[0].attempt_no, 2);
    assert_eq!(provider.resolve_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_order_in_doubt_whose_card_is_found_is_submitted_without_a_new_create() {
    let found = Resolution::Found {
        refs: r(json!({"card_key": "k9"})),
    };
    let (provider, handler) = setup(vec![], Some(found));

    let result = handler.handle(order(true, None), SendGate::open()).await;

    assert_eq!(
        result.outcome,
        Outcome::Submitted {
            refs: r(json!({"card_key": "k9"}))
        }
    );
    assert_eq!(provider.create_calls.load(Ordering::SeqCst), 0);
    assert_eq!(result.attempts.len(), 1, "the lookup is recorded");
}

#[tokio::test]
async fn when_a_resend_is_safe_the_create_goes_out_and_known_refs_are_kept() {
    let (provider, handler) = setup(
        vec![accepted(json!({"card_id": "c1", "order_no": null}))],
        Some(Resolution::ResendIsSafe),
    );

    let result = handler
        .handle(
            order(true, Some(json!({"order_no": "o1"}))),
            SendGate::open(),
        )
        .await;

    assert_eq!(
        result.outcome,
        Outcome::Submitted {
            refs: r(json!({"card_id": "c1", "order_no": "o1"}))
        }
    );
    assert_eq!(provider.resolve_calls.load(Ordering::SeqCst), 1);
    assert_eq!(provider.create_calls.load(Ordering::SeqCst), 1);
    assert_eq!(result.attempts.len(), 2);
}

#[tokio::test]
async fn an_order_the_provider_cannot_find_again_needs_review_and_is_never_resent() {
    let gap = Resolution::Unresolvable {
        code: "no_lookup".into(),
        message: "the provider has no lookup by reference".into(),
    };
    let (provider, handler) = setup(vec![], Some(gap));

    let result = handler.handle(order(true, None), SendGate::open()).await;

    assert!(
        matches!(&result.outcome, Outcome::NeedsReview { code, .. } if code == "no_lookup"),
        "{:?}",
        result.outcome
    );
    assert_eq!(provider.create_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_lookup_that_fails_for_now_keeps_the_order_in_doubt() {
    let later = Resolution::Transient {
        code: "http_503".into(),
        message: "down".into(),
        retry_after: None,
    };
    let (provider, handler) = setup(vec![], Some(later));

    let result = handler.handle(order(true, None), SendGate::open()).await;

    assert!(
        matches!(&result.outcome, Outcome::Unknown { code, .. } if code == "http_503"),
        "{:?}",
        result.outcome
    );
    assert_eq!(provider.create_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_rate_limited_answer_retries_after_the_providers_delay_and_slows_the_lane() {
    // Arrange
    let limited = Classified::Transient {
        code: "http_429".into(),
        message: "slow down".into(),
        retry_after: Some(Duration::from_millis(1)),
        rate_limited: true,
    };
    let (_, handler) = setup(vec![limited], None);

    // Act
    let result = handler.handle(order(false, None), SendGate::open()).await;

    // Assert
    assert_eq!(
        result.outcome,
        Outcome::Transient {
            code: "http_429".into(),
            message: "slow down".into(),
            retry_after: Some(Duration::from_millis(1)),
        }
    );
    let stats = handler.clients().get("uqpay").unwrap().lane().stats();
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.effective_rate, 500.0);
}

#[tokio::test]
async fn permanent_unknown_and_review_answers_keep_the_providers_code() {
    let answers = vec![
        Classified::Permanent {
            code: "CARD000002".into(),
            message: "unknown program".into(),
        },
        Classified::Unknown {
            code: "timeout".into(),
            message: "no answer".into(),
        },
        Classified::NeedsReview {
            code: "CIN000099".into(),
            message: "already used".into(),
        },
    ];
    let (_, handler) = setup(answers, None);

    let first = handler
        .handle(order(false, None), SendGate::open())
        .await
        .outcome;
    let second = handler
        .handle(order(false, None), SendGate::open())
        .await
        .outcome;
    let third = handler
        .handle(order(false, None), SendGate::open())
        .await
        .outcome;

    assert!(matches!(first, Outcome::Permanent { code, .. } if code == "CARD000002"));
    assert!(matches!(second, Outcome::Unknown { code, .. } if code == "timeout"));
    assert!(matches!(third, Outcome::NeedsReview { code, .. } if code == "CIN000099"));
}

#[tokio::test]
async fn a_retry_the_providers_idempotency_no_longer_covers_looks_first_and_adopts_the_card() {
    // Arrange: a second attempt (the first got a 5xx) of an order UQPAY no longer replays.
    let found = Resolution::Found {
        refs: r(json!({"card_id": "c7"})),
    };
    let (provider, handler) = setup(vec![], Some(found));
    provider.resend_needs_lookup.store(true, Ordering::SeqCst);

    // Act
    let result = handler.handle(order(false, None), SendGate::open()).await;

    // Assert: the card made by the first attempt is adopted; nothing is sent again.
    assert_eq!(
        result.outcome,
        Outcome::Submitted {
            refs: r(json!({"card_id": "c7"}))
        }
    );
    assert_eq!(provider.resolve_calls.load(Ordering::SeqCst), 1);
    assert_eq!(provider.create_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_order_of_an_unconfigured_profile_is_not_sent() {
    let (provider, handler) = setup(vec![], None);
    let mut other = order(false, None);
    other.order.profile = "elsewhere".into();

    let result = handler.handle(other, SendGate::open()).await;

    assert!(matches!(result.outcome, Outcome::Transient { code, .. } if code == "no_client"));
    assert_eq!(provider.create_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_create_whose_lease_was_lost_is_not_sent_and_counts_as_nothing_sent() {
    // Arrange
    let (provider, handler) = setup(vec![accepted(json!({"card_id": "c1"}))], None);
    let gate = SendGate::new(|| Box::pin(async { SendFence::Lost }));

    // Act
    let result = handler.handle(order(false, None), gate).await;

    // Assert
    assert!(
        matches!(&result.outcome, Outcome::Transient { code, .. } if code == LEASE_LOST),
        "{:?}",
        result.outcome
    );
    assert!(result.attempts.is_empty(), "no call was made");
    assert_eq!(provider.create_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_create_whose_order_already_has_a_card_adopts_it_instead_of_sending() {
    // Arrange
    let (provider, handler) = setup(vec![accepted(json!({"card_id": "c2"}))], None);
    let gate = SendGate::new(|| Box::pin(async { SendFence::Adopt(r(json!({"card_id": "c1"}))) }));

    // Act
    let result = handler.handle(order(false, None), gate).await;

    // Assert
    assert_eq!(
        result.outcome,
        Outcome::Submitted {
            refs: r(json!({"card_id": "c1"}))
        }
    );
    assert_eq!(
        provider.create_calls.load(Ordering::SeqCst),
        0,
        "no create was sent"
    );
}

#[tokio::test]
async fn an_unreachable_provider_pauses_the_profiles_calls_until_one_reaches_it() {
    // Arrange: five creates refused before a byte left, then one that goes through.
    let refused = || Classified::Transient {
        code: crate::providers::http::NOT_SENT.into(),
        message: "connection refused".into(),
        retry_after: None,
        rate_limited: false,
    };
    let mut creates: Vec<Classified> = (0..crate::providers::BREAKER_TRIPS_AFTER)
        .map(|_| refused())
        .collect();
    creates.push(accepted(json!({"card_id": "c1"})));
    let (provider, handler) = setup(creates, None);
    let client = handler.clients().get("uqpay").unwrap().clone();

    // Act
    for _ in 0..crate::providers::BREAKER_TRIPS_AFTER {
        handler.handle(order(false, None), SendGate::open()).await;
    }
    let tripped = client.breaker_open();
    let through = handler.handle(order(false, None), SendGate::open()).await;

    // Assert: tripped after the fifth; the next call waited for the pause, reached the
    // provider and closed the breaker.
    assert!(tripped);
    assert!(matches!(through.outcome, Outcome::Submitted { .. }));
    assert!(!client.breaker_open());
    assert_eq!(provider.create_calls.load(Ordering::SeqCst), 6);
}
