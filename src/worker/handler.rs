//! The pluggable part of a worker: what to do with one claimed order.

use crate::domain::ProviderRefs;
use crate::store::{AttemptRecord, ClaimedOrder, SendFence};
use futures::future::BoxFuture;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Issues one order. The provider layer implements it; tests plug in their own.
///
/// A handler never touches the store: it reports an [`Outcome`] and the runtime records it,
/// fenced on the order's lease, together with the provider calls it made.
pub trait OrderHandler: Send + Sync + 'static {
    /// Makes (or resumes) the create call for `order` and says how it ended. A create is sent
    /// only once `gate` lets it (right before it leaves, after the rate limiter's wait).
    fn handle(&self, order: ClaimedOrder, gate: SendGate) -> BoxFuture<'static, HandlerResult>;
}

/// Asked right before a create call leaves: may it be sent? The worker runtime answers from
/// the store's lease fence ([`crate::store::Store::order_fence_send`]); [`SendGate::open`]
/// always lets it (tests and tools that hold no lease).
#[derive(Clone)]
pub struct SendGate(Option<Arc<dyn Fn() -> BoxFuture<'static, SendFence> + Send + Sync>>);

impl SendGate {
    /// A gate that always lets the call go.
    pub fn open() -> SendGate {
        SendGate(None)
    }

    /// A gate that asks `check` each time.
    pub fn new<F>(check: F) -> SendGate
    where
        F: Fn() -> BoxFuture<'static, SendFence> + Send + Sync + 'static,
    {
        SendGate(Some(Arc::new(check)))
    }

    /// `Ok` to send; otherwise why not ([`SendFence::Lost`] or [`SendFence::Adopt`]).
    pub async fn check(&self) -> Result<(), SendFence> {
        match &self.0 {
            None => Ok(()),
            Some(check) => match check().await {
                SendFence::Send => Ok(()),
                refused => Err(refused),
            },
        }
    }
}

impl std::fmt::Debug for SendGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "SendGate(fenced)"
        } else {
            "SendGate(open)"
        })
    }
}

/// What a handler reports for one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerResult {
    /// How the attempt ended.
    pub outcome: Outcome,
    /// The provider calls made during this attempt, for the `attempts` table.
    pub attempts: Vec<AttemptRecord>,
}

impl From<Outcome> for HandlerResult {
    fn from(outcome: Outcome) -> Self {
        HandlerResult {
            outcome,
            attempts: Vec::new(),
        }
    }
}

/// How an attempt ended, from the order's point of view.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The provider accepted the order; confirmation (webhook or lookup) comes later.
    /// -> `submitted`.
    Submitted {
        /// The provider's keys for the order or card (stored as `provider_refs`).
        refs: ProviderRefs,
    },
    /// The provider accepted the order and the card is already final. -> `issued`.
    Issued {
        /// The provider's keys for the card.
        refs: ProviderRefs,
    },
    /// Worth retrying: -> `retry_wait` with durable backoff (at least `retry_after` when the
    /// provider said so), or `dead` once the profile's `max_attempts` is reached.
    Transient {
        /// The provider's code (e.g. `CARD000009`) or `http_503`, `timeout`, ...
        code: String,
        /// What happened, for operators.
        message: String,
        /// The provider's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// The provider refused the order for good. -> `rejected`.
    Permanent {
        /// The provider's error code.
        code: String,
        /// What happened, for operators.
        message: String,
    },
    /// The call may have reached the provider and nobody knows the answer. -> `in_doubt`, which
    /// is resolved later and never re-sent blindly.
    Unknown {
        /// What kind of doubt (`timeout`, `connection_reset`, ...).
        code: String,
        /// What happened, for operators.
        message: String,
    },
    /// The outcome cannot be established automatically. -> `needs_review`.
    NeedsReview {
        /// Why a human must look.
        code: String,
        /// What happened, for operators.
        message: String,
    },
}

/// Makes a handler from an async closure (tests, examples).
pub fn handler_fn<F, Fut>(f: F) -> Arc<dyn OrderHandler>
where
    F: Fn(ClaimedOrder) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    Arc::new(FnHandler(f))
}

struct FnHandler<F>(F);

impl<F, Fut> OrderHandler for FnHandler<F>
where
    F: Fn(ClaimedOrder) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    fn handle(&self, order: ClaimedOrder, _gate: SendGate) -> BoxFuture<'static, HandlerResult> {
        Box::pin((self.0)(order))
    }
}
