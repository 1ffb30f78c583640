//! The worker runtime: apalis workers over the `orders` table through a custom backend.
//!
//! One lane (an apalis worker) per provider profile claims that profile's due orders from the
//! store, runs the pluggable [`OrderHandler`] on each with the profile's concurrency, and records
//! the outcome: refs, a durable retry with backoff, a rejection, doubt. The handler that issues
//! cards is [`IssueHandler`] (resolve doubt first, then create, one attempt row per HTTP call);
//! each profile's calls are paced by its lane (`crate::lanes`, through
//! [`crate::providers::ProfileClient`]). apalis provides the worker lifecycle, the tower layers
//! and graceful shutdown; the queue itself is our table (see DESIGN.md for why apalis' own SQL
//! storages were not used).

#![warn(missing_docs)]

mod backoff;
mod clock;
mod handler;
mod issue;
mod lane;
mod limit;
mod run;
mod spend_cap;
mod threshold;

pub use backoff::{backoff_ceiling, completion_for, retry_delay};
pub use clock::{Clock, system_now_ms};
pub use handler::{HandlerResult, OrderHandler, Outcome, SendGate, handler_fn};
pub use issue::{IssueHandler, LEASE_LOST};
pub use limit::{Concurrency, ConcurrencyLayer};
pub use run::{Error, LaneReport, RunReport, Runtime, drain_until_idle, run};
pub use spend_cap::spend_day;
