//! Counters per provider: requests, 429s, faults injected, webhooks sent and retried...
//!
//! Counter names used by the core (provider modules may add their own):
//! `requests`, `rate_limited`, `faults_transient`, `faults_lost_response`, `cards_created`,
//! `webhooks_sent` (every attempt), `webhooks_retried` (attempts after the first),
//! `webhooks_delivered`, `webhooks_failed` (schedule exhausted), `webhooks_dropped`,
//! `webhooks_duplicated`, `webhooks_reordered`, `webhooks_delayed`.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Counter names shared by the core and the provider modules.
pub mod names {
    pub const REQUESTS: &str = "requests";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const FAULTS_TRANSIENT: &str = "faults_transient";
    pub const FAULTS_LOST_RESPONSE: &str = "faults_lost_response";
    pub const CARDS_CREATED: &str = "cards_created";
    pub const WEBHOOKS_SENT: &str = "webhooks_sent";
    pub const WEBHOOKS_RETRIED: &str = "webhooks_retried";
    pub const WEBHOOKS_DELIVERED: &str = "webhooks_delivered";
    pub const WEBHOOKS_FAILED: &str = "webhooks_failed";
    pub const WEBHOOKS_DROPPED: &str = "webhooks_dropped";
    pub const WEBHOOKS_DUPLICATED: &str = "webhooks_duplicated";
    pub const WEBHOOKS_REORDERED: &str = "webhooks_reordered";
    pub const WEBHOOKS_DELAYED: &str = "webhooks_delayed";
}

/// `provider -> counter -> value`.
pub type StatsSnapshot = BTreeMap<String, BTreeMap<String, u64>>;

/// Counters per provider.
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<StatsSnapshot>,
}

impl Stats {
    /// Adds one to a counter.
    pub fn incr(&self, provider: &str, counter: &str) {
        self.add(provider, counter, 1);
    }

    /// Adds `n` to a counter.
    pub fn add(&self, provider: &str, counter: &str, n: u64) {
        let mut inner = self.inner.lock().expect("stats lock");
        let counters = match inner.get_mut(provider) {
            Some(c) => c,
            None => inner.entry(provider.to_string()).or_default(),
        };
        match counters.get_mut(counter) {
            Some(v) => *v += n,
            None => {
                counters.insert(counter.to_string(), n);
            }
        }
    }

    /// A counter's value (0 when never incremented).
    pub fn get(&self, provider: &str, counter: &str) -> u64 {
        let inner = self.inner.lock().expect("stats lock");
        inner
            .get(provider)
            .and_then(|c| c.get(counter))
            .copied()
            .unwrap_or(0)
    }

    /// Every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        self.inner.lock().expect("stats lock").clone()
    }
}
