//! The lane shared by every process on one Postgres database: one profile's rate limit kept in
//! its `lane_budgets` row (see `crate::store::LaneBudget`), so that N worker processes together
//! send what the profile's `rate_limit_per_sec` allows, not N times that.
//!
//! 1. A caller takes the next permit this process holds and waits for its instant.
//! 2. When the process holds none, one caller at a time asks the row for a block of permits
//!    (about 50 ms worth, at least one) with one `UPDATE … RETURNING`; the row refuses while its
//!    budget is more than [`LOOKAHEAD`] ahead of now and says when to ask again, so that no
//!    process holds more than a few permits ahead.
//! 3. A rate-limited answer drops the permits this process holds, pauses it until the
//!    `Retry-After`, and reports the 429 to the row, which pauses and halves the rate for every
//!    process (one cut per second however many processes saw a 429); each second without one
//!    gives back a tenth of the configured rate.
//!
//! Permit instants are on the database's clock; each block is placed on this process's clock by
//! the database's "now" returned with it.

use super::{Lane, LaneStats, MAX_PAUSE};
use crate::store::{LaneBudget, LaneGrant};
use futures::future::BoxFuture;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// A process asks for a new block only while the shared budget is less than this far ahead of
/// now: it bounds how long other processes keep sending after a 429.
pub const LOOKAHEAD: Duration = Duration::from_millis(100);
/// A block is about this long at the current rate.
const BLOCK_SPAN: Duration = Duration::from_millis(50);
/// The timer's resolution: a permit due sooner than this is not slept for.
const TIMER_TICK: Duration = Duration::from_millis(1);
/// How long to wait before asking again when the database could not be reached.
const UNREACHABLE_RETRY: Duration = Duration::from_millis(500);

struct Local {
    /// The permits this process holds, in order.
    permits: VecDeque<Instant>,
    /// This process saw a 429: no asking before this instant.
    paused_until: Option<Instant>,
    rate: f64,
    rate_limited: u64,
    handed_out: u64,
}

/// One profile's rate limit, shared through its Postgres row. Cheap to share: hold it in an
/// `Arc`.
pub struct SharedLane {
    budget: LaneBudget,
    configured: f64,
    /// One caller at a time asks the row; the others wait for its block.
    asking: tokio::sync::Mutex<()>,
    local: Mutex<Local>,
}

impl SharedLane {
    /// The lane of `budget`'s profile at `rate_per_sec` calls per second.
    pub fn new(budget: LaneBudget, rate_per_sec: f64) -> SharedLane {
        let configured = if rate_per_sec.is_finite() && rate_per_sec > 0.0 {
            rate_per_sec
        } else {
            crate::store::LANE_FLOOR_PER_SEC
        };
        SharedLane {
            budget,
            configured,
            asking: tokio::sync::Mutex::new(()),
            local: Mutex::new(Local {
                permits: VecDeque::new(),
                paused_until: None,
                rate: configured,
                rate_limited: 0,
                handed_out: 0,
            }),
        }
    }

    /// Waits until the lane lets one more call through.
    pub async fn acquire(&self) {
        loop {
            if let Some(at) = self.next_permit() {
                // Tokio's timer counts in milliseconds: a permit due within one is taken now
                // rather than a whole tick late (at high rates a block spans well under one).
                if at > Instant::now() + TIMER_TICK {
                    tokio::time::sleep_until(at).await;
                }
                return;
            }
            let _asking = self.asking.lock().await;
            if !self.local().permits.is_empty() {
                continue;
            }
            let paused = self.local().paused_until;
            if let Some(until) = paused
                && until > Instant::now()
            {
                tokio::time::sleep_until(until).await;
                continue;
            }
            let block = block_size(self.local().rate);
            match self.budget.take(self.configured, block, LOOKAHEAD).await {
                Ok(grant) => {
                    if let Some(wait) = self.keep(&grant) {
                        tokio::time::sleep(wait).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(profile = self.budget.profile(), error = %e,
                        "cannot reach the shared rate limit; asking again shortly");
                    tokio::time::sleep(UNREACHABLE_RETRY).await;
                }
            }
        }
    }

    /// Tells the lane how a call ended; a rate-limited answer pauses and slows every process.
    pub fn record(&self, rate_limited: bool, retry_after: Option<Duration>) {
        if !rate_limited {
            return;
        }
        let retry_after = retry_after.map(|d| d.min(MAX_PAUSE));
        {
            let mut local = self.local();
            local.rate_limited += 1;
            local.permits.clear();
            if let Some(wait) = retry_after {
                let until = Instant::now() + wait;
                local.paused_until = Some(local.paused_until.map_or(until, |u| u.max(until)));
            }
        }
        let budget = self.budget.clone();
        let configured = self.configured;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                profile = budget.profile(),
                "a 429 outside a runtime is not shared"
            );
            return;
        };
        runtime.spawn(async move {
            if let Err(e) = budget.rate_limited(configured, retry_after).await {
                tracing::warn!(profile = budget.profile(), error = %e,
                    "could not share a rate-limited answer with the other processes");
            }
        });
    }

    /// The lane's current numbers: the shared rate as last seen, this process's counts.
    pub fn stats(&self) -> LaneStats {
        let local = self.local();
        LaneStats {
            effective_rate: local.rate,
            configured_rate: self.configured,
            rate_limited: local.rate_limited,
            permits: local.handed_out,
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().expect("shared lane lock")
    }

    fn next_permit(&self) -> Option<Instant> {
        let mut local = self.local();
        let at = local.permits.pop_front()?;
        local.handed_out += 1;
        Some(at)
    }

    /// Keeps a granted block's permits, placed on this process's clock; without one, returns
    /// how long to wait before asking again.
    fn keep(&self, grant: &LaneGrant) -> Option<Duration> {
        let now = Instant::now();
        let mut local = self.local();
        local.rate = grant.rate;
        let Some(first_us) = grant.first_us else {
            let ask_at_us = grant.next_free_us - micros(LOOKAHEAD);
            let wait = Duration::from_micros((ask_at_us - grant.now_us).max(1_000) as u64);
            return Some(wait.min(MAX_PAUSE));
        };
        for i in 0..i64::from(grant.count) {
            let offset_us = first_us + i * grant.interval_us - grant.now_us;
            local
                .permits
                .push_back(now + Duration::from_micros(offset_us.max(0) as u64));
        }
        None
    }
}

impl Lane for SharedLane {
    fn acquire(&self) -> BoxFuture<'_, ()> {
        Box::pin(SharedLane::acquire(self))
    }

    fn record(&self, rate_limited: bool, retry_after: Option<Duration>) {
        SharedLane::record(self, rate_limited, retry_after)
    }

    fn stats(&self) -> LaneStats {
        SharedLane::stats(self)
    }
}

/// About [`BLOCK_SPAN`] of permits at `rate`, at least one.
fn block_size(rate: f64) -> u32 {
    ((rate * BLOCK_SPAN.as_secs_f64()).floor() as u32).clamp(1, 1_000)
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
