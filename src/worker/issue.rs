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
//! Every call waits for a permit of the profile's [`ProviderLane`] and tells the lane how it
//! ended, so a 429 slows every worker of the profile. Every HTTP call becomes an attempt row.
//! Nothing from the payload is logged: only the order's id, reference and the provider's code.

use super::handler::{HandlerResult, OrderHandler, Outcome};
use super::lanes::ProviderLane;
use crate::config::Profile;
use crate::providers::{
    BuildError, CallReport, Classified, CredentialError, Credentials, Provider, ProviderEnv,
    Resolution,
};
use crate::store::ClaimedOrder;
use futures::future::BoxFuture;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One profile's client and lane.
#[derive(Clone)]
struct Route {
    provider: Arc<dyn Provider>,
    lane: Arc<ProviderLane>,
}

/// The [`OrderHandler`] that issues cards: one provider client and one lane per profile.
#[derive(Clone, Default)]
pub struct IssueHandler {
    routes: Arc<HashMap<String, Route>>,
}

/// Why the handler for a configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum IssueBuildError {
    /// A credential the profile names is missing.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The client refused the profile.
    #[error(transparent)]
    Build(#[from] BuildError),
}

impl IssueHandler {
    /// A handler with no profile; add them with [`IssueHandler::with_profile`].
    pub fn new() -> IssueHandler {
        IssueHandler::default()
    }

    /// Adds (or replaces) the client and lane of profile `name`.
    pub fn with_profile(
        mut self,
        name: &str,
        provider: Arc<dyn Provider>,
        lane: Arc<ProviderLane>,
    ) -> IssueHandler {
        Arc::make_mut(&mut self.routes).insert(name.to_string(), Route { provider, lane });
        self
    }

    /// Builds the client of every profile with [`crate::providers::build`], each with a lane at
    /// its `rate_limit_per_sec`. `credentials` gives a profile's secrets (the CLI reads them from
    /// the environment; tests pass them directly).
    pub fn from_profiles<F>(
        profiles: &BTreeMap<String, Profile>,
        env: &ProviderEnv,
        mut credentials: F,
    ) -> Result<IssueHandler, IssueBuildError>
    where
        F: FnMut(&str, &Profile) -> Result<Credentials, CredentialError>,
    {
        let mut handler = IssueHandler::new();
        for (name, profile) in profiles {
            let creds = credentials(name, profile)?;
            let provider = crate::providers::build(name, profile, &creds, env)?;
            let lane = Arc::new(ProviderLane::new(profile.rate_limit_per_sec));
            handler = handler.with_profile(name, provider, lane);
        }
        Ok(handler)
    }

    /// The lane of profile `name`, if configured.
    pub fn lane(&self, name: &str) -> Option<Arc<ProviderLane>> {
        self.routes.get(name).map(|r| r.lane.clone())
    }

    /// The client of every profile, for the reconciler's status lookups.
    pub fn providers(&self) -> BTreeMap<String, Arc<dyn Provider>> {
        self.routes
            .iter()
            .map(|(name, route)| (name.clone(), route.provider.clone()))
            .collect()
    }

    /// The configured profile names.
    pub fn profiles(&self) -> Vec<String> {
        let mut names: Vec<String> = self.routes.keys().cloned().collect();
        names.sort();
        names
    }
}

impl OrderHandler for IssueHandler {
    fn handle(&self, order: ClaimedOrder) -> BoxFuture<'static, HandlerResult> {
        let routes = self.routes.clone();
        Box::pin(async move {
            let Some(route) = routes.get(&order.profile) else {
                // Nothing was sent; a configuration change (adding the profile) fixes it.
                return Outcome::Transient {
                    code: "no_client".into(),
                    message: format!(
                        "no provider client is configured for profile {}",
                        order.profile
                    ),
                    retry_after: None,
                }
                .into();
            };
            let result = issue(route, &order).await;
            log_outcome(&order, &result.outcome);
            result
        })
    }
}

async fn issue(route: &Route, order: &ClaimedOrder) -> HandlerResult {
    let mut attempts = Vec::new();
    // 1. Resolve doubt before anything is re-sent.
    if order.previous_outcome_unknown {
        route.lane.acquire().await;
        let (resolution, reports) = route.provider.resolve(order).await;
        observe(&route.lane, &reports);
        attempts.extend(reports.iter().map(|r| r.attempt_record(order.attempt)));
        let outcome = match resolution {
            Resolution::Found { refs } => Some(Outcome::Submitted {
                refs: merge_refs(order.provider_refs.as_ref(), refs),
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
    // 2. The create call, with the order's idempotency key.
    route.lane.acquire().await;
    let report = route.provider.create(order).await;
    observe(&route.lane, std::slice::from_ref(&report));
    attempts.push(report.attempt_record(order.attempt));
    let outcome = match report.classified {
        Classified::Accepted { refs } => Outcome::Submitted {
            refs: merge_refs(order.provider_refs.as_ref(), refs),
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

/// Tells the lane whether the provider rate-limited any of these calls.
fn observe(lane: &ProviderLane, reports: &[CallReport]) {
    let limited = reports.iter().find_map(|r| match &r.classified {
        Classified::Transient {
            rate_limited: true,
            retry_after,
            ..
        } => Some(*retry_after),
        _ => None,
    });
    match limited {
        Some(retry_after) => lane.record(true, retry_after),
        None if !reports.is_empty() => lane.record(false, None),
        None => {}
    }
}

/// The refs of an earlier attempt, updated with the new answer's: a key the new answer does not
/// carry (or carries as null) keeps its known value.
pub fn merge_refs(known: Option<&serde_json::Value>, new: serde_json::Value) -> serde_json::Value {
    let Some(serde_json::Value::Object(known)) = known else {
        return new;
    };
    let serde_json::Value::Object(new) = new else {
        return serde_json::Value::Object(known.clone());
    };
    let mut merged = known.clone();
    for (key, value) in new {
        if !value.is_null() {
            merged.insert(key, value);
        }
    }
    serde_json::Value::Object(merged)
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
        order_ref = %order.order_ref,
        profile = %order.profile,
        attempt = order.attempt,
        outcome = what,
        code,
        message = %super::issue_mask::mask_message(message),
        "issue attempt"
    );
}

#[cfg(test)]
#[path = "issue_tests.rs"]
mod tests;
