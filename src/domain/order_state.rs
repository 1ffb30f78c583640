use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where an order is in its life. The `orders` table is the queue, so this is also the job state.
///
/// ```text
/// queued ──claim──▶ in_flight ──accepted──▶ submitted ──webhook/lookup──▶ issued
///    ▲                 │  ├─transient──▶ retry_wait ──due──▶ (claim again)
///    │                 │  ├─permanent──▶ rejected
///    │                 │  └─no answer──▶ in_doubt ──resolve──▶ submitted | retry_wait | needs_review
///    │                 └─attempts exhausted──▶ dead
///    └─ canceled (operator, only before a call is in flight)   submitted ──provider failure──▶ failed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Ingested, waiting for a worker. Moved out by a worker's claim, or by an operator's cancel.
    Queued,
    /// Claimed by a worker under a lease. Moved out by that worker's outcome, or, when the lease
    /// expires (the worker died), by another worker's claim.
    InFlight,
    /// A transient failure; due again at `next_attempt_at`. Moved out by a worker's claim.
    RetryWait,
    /// The provider accepted the create call and we hold its refs. Moved out by a webhook or a
    /// reconciler lookup.
    Submitted,
    /// The request may have reached the provider and we cannot tell. Moved out by the worker or
    /// reconciler that resolves the doubt before anything is re-sent.
    InDoubt,
    /// Terminal: the provider confirmed the card.
    Issued,
    /// Terminal: the provider accepted the order and later reported that the card failed.
    Failed,
    /// Terminal: the provider refused the order with a permanent error.
    Rejected,
    /// Terminal: every allowed attempt failed transiently.
    Dead,
    /// Terminal: an operator canceled the order before any call was in flight.
    Canceled,
    /// Terminal until an operator acts: the outcome cannot be established automatically.
    NeedsReview,
}

impl OrderState {
    pub const ALL: [OrderState; 11] = [
        OrderState::Queued,
        OrderState::InFlight,
        OrderState::RetryWait,
        OrderState::Submitted,
        OrderState::InDoubt,
        OrderState::Issued,
        OrderState::Failed,
        OrderState::Rejected,
        OrderState::Dead,
        OrderState::Canceled,
        OrderState::NeedsReview,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Queued => "queued",
            OrderState::InFlight => "in_flight",
            OrderState::RetryWait => "retry_wait",
            OrderState::Submitted => "submitted",
            OrderState::InDoubt => "in_doubt",
            OrderState::Issued => "issued",
            OrderState::Failed => "failed",
            OrderState::Rejected => "rejected",
            OrderState::Dead => "dead",
            OrderState::Canceled => "canceled",
            OrderState::NeedsReview => "needs_review",
        }
    }

    /// No worker or reconciler moves an order out of a terminal state.
    pub fn is_terminal(self) -> bool {
        match self {
            OrderState::Issued
            | OrderState::Failed
            | OrderState::Rejected
            | OrderState::Dead
            | OrderState::Canceled
            | OrderState::NeedsReview => true,
            OrderState::Queued
            | OrderState::InFlight
            | OrderState::RetryWait
            | OrderState::Submitted
            | OrderState::InDoubt => false,
        }
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown order state `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_through_its_string_form() {
        for st in OrderState::ALL {
            assert_eq!(st.as_str().parse::<OrderState>(), Ok(st));
        }
    }

    #[test]
    fn only_final_states_are_terminal() {
        let terminal: Vec<_> = OrderState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal.len(), 6);
        assert!(!OrderState::Submitted.is_terminal());
    }
}
