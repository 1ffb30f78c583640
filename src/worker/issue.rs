//! The issuing handler: one claimed order becomes (at most) one card at its provider.
//!
//! For each order:
//!
//! 1. If the previous attempt may have reached the provider (a lost answer, a worker that died
//!    mid-call), resolve the doubt first: the card found -> `submitted` with its refs; not there,
//!    or a re-send with the same key is itself safe -> go on to 2; the lookup failed for now ->
//!    stay in doubt; the provider offers no way to tell -> `needs_review`.
//! 2. Send the create call with the order's idempotency key and map its classified answer onto
//!    an [`Outcome`].
//!
//! Every call goes through the profile's [`ProfileClient`], which waits for a permit of the
//! profile's lane and tells the lane how it ended, so a 429 slows every caller of the profile. Every HTTP call becomes an attempt row.
//! Nothing from the payload is logged: only the order's id, reference and the provider's code.

use super::handler::{HandlerResult, OrderHandler, Outcome, SendGate};
use crate::providers::{Classified, ProfileClient, ProfileClients, Resolution};
use crate::store::{ClaimedOrder, SendFence};
use futures::future::BoxFuture;

/// The code of an attempt whose create was not sent because the worker no longer held the
/// order's lease: nothing reached the provider, so it is not counted as an attempt.
pub const LEASE_LOST: &str = "lease_lost";

/// The [`OrderHandler`] that issues cards through each profile's paced client.
#[derive(Clone, Default)]
pub struct IssueHandler {
    clients: ProfileClients,
}

impl IssueHandler {
    /// A handler issuing through `clients` (one per profile, each behind its lane).
    pub fn new(clients: ProfileClients) -> IssueHandler {
        IssueHandler { clients }
    }

    /// The clients it issues through.
    pub fn clients(&self) -> &ProfileClients {
        &self.clients
    }
}

impl OrderHandler for IssueHandler {
    fn handle(&self, order: ClaimedOrder, gate: SendGate) -> BoxFuture<'static, HandlerResult> {
        let clients = self.clients.clone();
        Box::pin(async move {
            let Some(client) = clients.get(&order.order.profile) else {
                // Nothing was sent; a configuration change (adding the profile) fixes it.
                return Outcome::Transient {
                    code: "no_client".into(),
                    message: format!(
                        "no provider client is configured for profile {}",
                        order.order.profile
                    ),
                    retry_after: None,
                }
                .into();
            };
            let result = issue(client, &order, &gate).await;
            log_outcome(&order, &result.outcome);
            result
        })
    }
}

async fn issue(client: &ProfileClient, order: &ClaimedOrder, gate: &SendGate) -> HandlerResult {
    let mut attempts = Vec::new();
    // 1. Resolve doubt before anything is re-sent: a lost answer, or a re-send the provider's
    //    idempotency no longer covers.
    let now_ms = chrono::Utc::now().timestamp_millis();
    if order.previous_outcome_unknown
        || (order.attempt > 1 && client.resend_needs_lookup(&order.order, now_ms))
    {
        let (resolution, reports) = client.resolve(&order.order).await;
        attempts.extend(reports.iter().map(|r| r.attempt_record(order.attempt)));
        let outcome = match resolution {
            Resolution::Found { refs } => Some(Outcome::Submitted {
                refs: order.order.refs.clone().merged(&refs),
            }),
            Resolution::NotFound | Resolution::ResendIsSafe => None,
            // The doubt stands: the order stays in doubt and is resolved again later (never
            // re-sent blindly in between).
            Resolution::Transient { code, message, .. } => Some(Outcome::Unknown {
                code,
                message: format!("resolving an earlier lost answer failed for now: {message}"),
            }),
            Resolution::Unresolvable { code, message } => {
                Some(Outcome::NeedsReview { code, message })
            }
        };
        if let Some(outcome) = outcome {
            return HandlerResult { outcome, attempts };
        }
    }
    // 2. The create call, with the order's idempotency key, sent only if the lease still holds
    //    once the rate limiter lets it go.
    let report = match client.create_if(&order.order, gate.check()).await {
        Ok(report) => report,
        // A worker that had lost this order's lease recorded the card its create made.
        Err(SendFence::Adopt(refs)) => {
            let outcome = Outcome::Submitted {
                refs: order.order.refs.clone().merged(&refs),
            };
            return HandlerResult { outcome, attempts };
        }
        Err(_) => {
            let outcome = Outcome::Transient {
                code: LEASE_LOST.into(),
                message: "the lease on this order ran out before its create could be sent \
                    (a stalled worker or database); nothing was sent"
                    .into(),
                retry_after: None,
            };
            return HandlerResult { outcome, attempts };
        }
    };
    attempts.push(report.attempt_record(order.attempt));
    let outcome = match report.classified {
        Classified::Accepted { refs } => Outcome::Submitted {
            refs: order.order.refs.clone().merged(&refs),
        },
        Classified::Transient {
            code,
            message,
            retry_after,
            ..
        } => Outcome::Transient {
            code,
            message,
            retry_after,
        },
        Classified::Permanent { code, message } => Outcome::Permanent { code, message },
        Classified::Unknown { code, message } => Outcome::Unknown { code, message },
        Classified::NeedsReview { code, message } => Outcome::NeedsReview { code, message },
    };
    HandlerResult { outcome, attempts }
}

/// One line per attempt: ids, reference and codes only. The provider's message can echo what
/// was sent (names, documents), so it is logged only masked.
fn log_outcome(order: &ClaimedOrder, outcome: &Outcome) {
    let (what, code, message) = match outcome {
        Outcome::Submitted { .. } => ("submitted", "", ""),
        Outcome::Issued { .. } => ("issued", "", ""),
        Outcome::Transient { code, message, .. } => ("transient", code.as_str(), message.as_str()),
        Outcome::Permanent { code, message } => ("permanent", code.as_str(), message.as_str()),
        Outcome::Unknown { code, message } => ("unknown", code.as_str(), message.as_str()),
        Outcome::NeedsReview { code, message } => ("needs_review", code.as_str(), message.as_str()),
    };
    tracing::debug!(
        order_id = order.id,
        order_ref = %order.order.order_ref,
        profile = %order.order.profile,
        attempt = order.attempt,
        outcome = what,
        code,
        message = %crate::domain::mask_message(message),
        "issue attempt"
    );
}

#[cfg(test)]
#[path = "issue_tests.rs"]
mod tests;
