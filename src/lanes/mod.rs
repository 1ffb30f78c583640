//! Lanes: the rate limit of each provider profile. Every call a profile makes to its provider,
//! whoever makes it (the issuing worker, the reconciler, the webhook event processor), waits for
//! a permit of the profile's lane and then tells the lane how the call ended, so that a 429
//! slows every caller of the profile at once.
//!
//! [`Lane`] is the seam: callers hold an `Arc<dyn Lane>` and never know how the limit is kept.
//! [`LocalLane`] keeps it in this process (a `governor` limiter with AIMD on 429s): the lane of
//! a SQLite store, where one machine runs the queue. [`SharedLane`] keeps it in the profile's
//! row of a Postgres store, so that every process on the database shares one budget and one
//! 429 back-off. The lane is chosen where the application is assembled (`crate::app`), with no
//! change to callers.

mod local;
mod shared;

pub use local::LocalLane;
pub use shared::{LOOKAHEAD, SharedLane};

use futures::future::BoxFuture;
use std::time::Duration;

/// The longest a lane pauses on a provider's `Retry-After`: a larger (or absurd) value is a
/// provider bug or a hostile answer, and a lane paused for years (or a clock overflowing) would
/// stop issuing for good.
pub const MAX_PAUSE: Duration = Duration::from_secs(3600);

/// The rate limit of one provider profile.
pub trait Lane: Send + Sync + 'static {
    /// Waits until the lane lets one more call through.
    fn acquire(&self) -> BoxFuture<'_, ()>;

    /// Tells the lane how a call ended: `rate_limited` for a 429 (or the provider's rate-limit
    /// code), with the provider's `Retry-After` when it sent one.
    fn record(&self, rate_limited: bool, retry_after: Option<Duration>);

    /// The lane's current numbers.
    fn stats(&self) -> LaneStats;
}

/// A snapshot of a lane, for logs, tests and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LaneStats {
    /// The rate the lane currently lets through (calls per second).
    pub effective_rate: f64,
    /// The profile's configured rate.
    pub configured_rate: f64,
    /// Rate-limited answers seen so far.
    pub rate_limited: u64,
    /// Permits handed out so far.
    pub permits: u64,
}
