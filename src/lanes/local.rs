//! The in-process lane: the rate limit of one profile, shared by every caller of that profile in
//! the process, slowed down when the provider says "too many requests".
//!
//! It is a `governor` limiter (GCRA) at the profile's `rate_limit_per_sec` with a small burst,
//! plus an AIMD controller on top:
//!
//! 1. every provider call waits for a permit ([`LocalLane::acquire`]);
//! 2. a rate-limited answer (429, or the provider's rate-limit code) pauses the whole lane until
//!    its `Retry-After` and halves the effective rate (at most once per second, so that the
//!    calls already in flight when the limit hit do not divide the rate by their number);
//! 3. after that, each second of calls without a rate-limited answer gives back a tenth of the
//!    configured rate, until the configured rate is reached again.
//!
//! The limiter reads tokio's clock. Its unit tests run it on a virtual clock that each sleep
//! moves forward at once (what `tokio::time::pause` does, without tokio's `test-util` feature,
//! which would rebuild every tokio-based dependency).
//! Each process has its own lane: across processes the limit is not shared, so a profile run by
//! N processes should give each one its share of the provider's limit in `rate_limit_per_sec`
//! (on Postgres the application uses [`super::SharedLane`] instead); the AIMD step still
//! backs each process off when their sum is too high.

use super::{Lane, LaneStats};
use futures::future::BoxFuture;
use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::ops::Add;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The lowest rate a lane is ever cut to, in calls per second.
const FLOOR_PER_SEC: f64 = 0.1;
/// The part of the configured rate given back per clean second.
const RECOVERY_STEP: f64 = 0.1;
/// Two cuts are at least this far apart: one congestion event halves the rate once.
const CUT_SPACING: Duration = Duration::from_secs(1);

/// The lane's time source: tokio's clock, or (unit tests) a virtual clock that a sleep moves
/// forward at once, as `tokio::time::pause` would with a single task.
#[derive(Debug, Clone, Default)]
enum LaneClock {
    #[default]
    Tokio,
    #[cfg(test)]
    Virtual(Arc<VirtualTime>),
}

/// A virtual clock: a fixed origin plus an offset that only sleeps and `advance` move.
#[cfg(test)]
#[derive(Debug)]
struct VirtualTime {
    origin: Instant,
    offset_nanos: std::sync::atomic::AtomicU64,
}

#[cfg(test)]
impl VirtualTime {
    fn advance_to(&self, at: Instant) {
        let nanos = at.saturating_duration_since(self.origin).as_nanos() as u64;
        self.offset_nanos
            .fetch_max(nanos, std::sync::atomic::Ordering::SeqCst);
    }
}

impl LaneClock {
    fn instant(&self) -> Instant {
        match self {
            LaneClock::Tokio => Instant::now(),
            #[cfg(test)]
            LaneClock::Virtual(v) => {
                v.origin
                    + Duration::from_nanos(v.offset_nanos.load(std::sync::atomic::Ordering::SeqCst))
            }
        }
    }

    async fn sleep_until(&self, at: Instant) {
        match self {
            LaneClock::Tokio => tokio::time::sleep_until(at).await,
            #[cfg(test)]
            LaneClock::Virtual(v) => v.advance_to(at),
        }
    }
}

/// A lane instant as a governor measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct LaneInstant(Instant);

impl Add<Nanos> for LaneInstant {
    type Output = LaneInstant;

    fn add(self, other: Nanos) -> LaneInstant {
        LaneInstant(self.0 + Duration::from(other))
    }
}

impl Reference for LaneInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        Nanos::from(self.0.saturating_duration_since(earlier.0))
    }

    fn saturating_sub(&self, duration: Nanos) -> Self {
        LaneInstant(
            self.0
                .checked_sub(Duration::from(duration))
                .unwrap_or(self.0),
        )
    }
}

impl Clock for LaneClock {
    type Instant = LaneInstant;

    fn now(&self) -> LaneInstant {
        LaneInstant(self.instant())
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, LaneClock, NoOpMiddleware<LaneInstant>>;

struct State {
    rate: f64,
    limiter: Arc<Limiter>,
    /// No permit is handed out before this instant (the provider's `Retry-After`).
    paused_until: Option<Instant>,
    /// When the rate last changed (a cut, a recovery step) or a rate-limited answer came.
    last_change: Instant,
    /// When the rate was last cut.
    last_cut: Option<Instant>,
    rate_limited: u64,
    permits: u64,
}

/// The rate limit of one profile in this process. Cheap to share: hold it in an `Arc`.
pub struct LocalLane {
    /// The profile's name, for the log.
    profile: String,
    configured: f64,
    clock: LaneClock,
    state: Mutex<State>,
}

impl LocalLane {
    /// A lane letting `rate_per_sec` calls through per second, with a burst of a tenth of a
    /// second's worth (at least one call).
    pub fn new(rate_per_sec: f64) -> LocalLane {
        Self::with_clock(rate_per_sec, LaneClock::Tokio)
    }

    /// The lane named after `profile` in what it logs.
    pub fn named(mut self, profile: &str) -> LocalLane {
        self.profile = profile.to_string();
        self
    }

    fn with_clock(rate_per_sec: f64, clock: LaneClock) -> LocalLane {
        let configured = if rate_per_sec.is_finite() && rate_per_sec > 0.0 {
            rate_per_sec
        } else {
            FLOOR_PER_SEC
        };
        let now = clock.instant();
        LocalLane {
            profile: String::new(),
            configured,
            state: Mutex::new(State {
                rate: configured,
                limiter: Arc::new(limiter(configured, &clock)),
                paused_until: None,
                last_change: now,
                last_cut: None,
                rate_limited: 0,
                permits: 0,
            }),
            clock,
        }
    }

    /// Waits until the lane lets one more call through.
    pub async fn acquire(&self) {
        loop {
            let (limiter, paused_until) = {
                let st = self.state.lock().expect("lane lock");
                (st.limiter.clone(), st.paused_until)
            };
            if let Some(until) = paused_until
                && until > self.clock.instant()
            {
                self.clock.sleep_until(until).await;
                continue;
            }
            match limiter.check() {
                Ok(()) => {
                    self.state.lock().expect("lane lock").permits += 1;
                    return;
                }
                // The rate may change while this waits: the next round reads the new limiter.
                Err(not_until) => {
                    let now = self.clock.now();
                    let wait = not_until.wait_time_from(now);
                    self.clock.sleep_until(now.0 + wait).await;
                }
            }
        }
    }

    /// Tells the lane how a call ended: `rate_limited` for a 429 (or the provider's rate-limit
    /// code), with the provider's `Retry-After` when it sent one.
    pub fn record(&self, rate_limited: bool, retry_after: Option<Duration>) {
        let now = self.clock.instant();
        let mut st = self.state.lock().expect("lane lock");
        if rate_limited {
            st.rate_limited += 1;
            if let Some(wait) = retry_after {
                // Whoever parsed it, a pause is never longer than an hour (nor overflows).
                let wait = wait.min(super::MAX_PAUSE);
                let until = now + wait;
                st.paused_until = Some(st.paused_until.map_or(until, |u| u.max(until)));
            }
            let recently_cut = st
                .last_cut
                .is_some_and(|at| now.duration_since(at) < CUT_SPACING);
            if !recently_cut {
                let rate = (st.rate / 2.0).max(FLOOR_PER_SEC);
                st.set_rate(rate, now, &self.clock);
                st.last_cut = Some(now);
                tracing::info!(profile = %self.profile, rate, "provider rate limit hit; lane slowed down");
            }
            // Recovery counts clean seconds from the last rate-limited answer.
            st.last_change = now;
            return;
        }
        if st.rate < self.configured {
            let clean_secs = now.duration_since(st.last_change).as_secs_f64().floor();
            if clean_secs >= 1.0 {
                let rate =
                    (st.rate + clean_secs * RECOVERY_STEP * self.configured).min(self.configured);
                st.set_rate(rate, now, &self.clock);
            }
        }
    }

    /// The lane's current numbers.
    pub fn stats(&self) -> LaneStats {
        let st = self.state.lock().expect("lane lock");
        LaneStats {
            effective_rate: st.rate,
            configured_rate: self.configured,
            rate_limited: st.rate_limited,
            permits: st.permits,
        }
    }
}

impl Lane for LocalLane {
    fn acquire(&self) -> BoxFuture<'_, ()> {
        Box::pin(LocalLane::acquire(self))
    }

    fn record(&self, rate_limited: bool, retry_after: Option<Duration>) {
        LocalLane::record(self, rate_limited, retry_after)
    }

    fn stats(&self) -> LaneStats {
        LocalLane::stats(self)
    }
}

impl State {
    fn set_rate(&mut self, rate: f64, now: Instant, clock: &LaneClock) {
        self.rate = rate;
        self.limiter = Arc::new(limiter(rate, clock));
        self.last_change = now;
    }
}

fn limiter(rate: f64, clock: &LaneClock) -> Limiter {
    let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_nanos(1));
    let burst = NonZeroU32::new(((rate / 10.0).floor() as u32).max(1)).expect("at least one");
    let quota = Quota::with_period(period)
        .expect("a period of at least one nanosecond")
        .allow_burst(burst);
    RateLimiter::direct_with_clock(quota, clock.clone())
}

#[cfg(test)]
#[path = "local_tests.rs"]
mod tests;
