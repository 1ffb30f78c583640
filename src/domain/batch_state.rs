//! A batch's state: whether its orders may be claimed. Orders keep their own states; the batch's
//! state gates the queue and records an operator's (or the failure threshold's) decision.
//!
//! ```text
//! submit ─┬─▶ active ◀──resume── paused ◀──pause / failure threshold── active
//!         └─▶ awaiting_approval ──approve (not by its submitter)──▶ active
//! active | paused | awaiting_approval ──cancel──▶ canceled (its unsent orders are canceled)
//! ```

use std::fmt;
use std::str::FromStr;

/// Whether a batch's orders are claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    /// Its due orders are claimed. An operator's `pause`, or the failure threshold, moves it out.
    Active,
    /// Its orders are not claimed (calls already in flight finish). `resume` moves it out.
    Paused,
    /// Over the profile's approval threshold: held until approved by someone other than its
    /// submitter (`approve`).
    AwaitingApproval,
    /// Terminal: an operator canceled it; its orders that were not sent are `canceled`.
    Canceled,
}

impl BatchState {
    /// Every state, in the order of the diagram.
    pub const ALL: [BatchState; 4] = [
        BatchState::Active,
        BatchState::Paused,
        BatchState::AwaitingApproval,
        BatchState::Canceled,
    ];

    /// The value stored in `batches.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Active => "active",
            BatchState::Paused => "paused",
            BatchState::AwaitingApproval => "awaiting_approval",
            BatchState::Canceled => "canceled",
        }
    }
}

impl fmt::Display for BatchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BatchState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BatchState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown batch state `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_batch_state_round_trips_through_its_string_form() {
        for st in BatchState::ALL {
            assert_eq!(st.as_str().parse::<BatchState>(), Ok(st));
        }
        assert!("done".parse::<BatchState>().is_err());
    }
}
