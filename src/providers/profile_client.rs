//! One profile's provider client behind the profile's lane. Every caller (the issuing worker,
//! the reconciler, the webhook event processor) reaches a provider through here, so every call
//! of a profile waits for a permit of its lane and reports back how it ended: a 429 seen by one
//! caller slows them all.

use super::{CallReport, CardStatus, Classified, Provider, Resolution};
use crate::domain::ProviderOrder;
use crate::lanes::Lane;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Calls in flight at once when the profile does not say.
const DEFAULT_CONCURRENCY: usize = 8;

/// Operations in a row whose every call could not connect before the profile's calls pause.
pub const BREAKER_TRIPS_AFTER: u32 = 5;
/// The first pause of a tripped breaker; it doubles while the provider stays unreachable.
pub const BREAKER_FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause (within a worker's shutdown grace, so a stop is not held up by it).
pub const BREAKER_MAX_PAUSE: Duration = Duration::from_secs(16);

/// Failed calls a client remembers for the dashboard's lanes page.
pub const RECENT_ERRORS_KEPT: usize = 5;

/// A provider client paced by its profile's lane.
pub struct ProfileClient {
    name: String,
    provider: Arc<dyn Provider>,
    lane: Arc<dyn Lane>,
    concurrency: usize,
    breaker: Mutex<Breaker>,
    /// Operations at the provider right now (after the lane's permit, before the answer).
    in_flight: AtomicUsize,
    /// The last [`RECENT_ERRORS_KEPT`] calls that did not succeed, newest last.
    recent_errors: Mutex<VecDeque<RecentError>>,
}

/// A call that did not succeed, as the lanes page shows it (the message masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentError {
    /// When the call started (Unix ms).
    pub at_ms: i64,
    /// `transient`, `permanent`, `unknown` or `needs_review`.
    pub outcome: &'static str,
    /// The provider's (or cardbatch's) code.
    pub code: String,
    /// The message, masked ([`crate::domain::mask_message`]).
    pub message: String,
}

/// Counts one operation in flight for as long as it lives (a dropped future included).
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn start(counter: &'a AtomicUsize) -> InFlight<'a> {
        counter.fetch_add(1, Ordering::Relaxed);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The circuit breaker of a profile: when the provider cannot be reached at all (every call
/// refused before a byte left), every caller of the profile in this process stops calling for
/// a while, instead of walking its whole queue with calls that cannot leave.
#[derive(Debug)]
struct Breaker {
    /// Operations in a row that reached nothing.
    unreachable: u32,
    /// No call starts before this.
    open_until: Option<Instant>,
    /// The next pause.
    pause: Duration,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            unreachable: 0,
            open_until: None,
            pause: BREAKER_FIRST_PAUSE,
        }
    }
}

impl ProfileClient {
    /// The client of profile `name`, its calls paced by `lane`.
    pub fn new(name: &str, provider: Arc<dyn Provider>, lane: Arc<dyn Lane>) -> ProfileClient {
        ProfileClient {
            name: name.to_string(),
            provider,
            lane,
            concurrency: DEFAULT_CONCURRENCY,
            breaker: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            recent_errors: Mutex::default(),
        }
    }

    /// Operations of this profile at the provider right now, in this process.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The last calls of this profile that did not succeed in this process, newest first.
    pub fn recent_errors(&self) -> Vec<RecentError> {
        let kept = self.recent_errors.lock().expect("recent errors lock");
        kept.iter().rev().cloned().collect()
    }

    /// Lets callers that make many calls at once (the reconciler) keep `concurrency` in flight
    /// (the profile's `concurrency`).
    pub fn with_concurrency(mut self, concurrency: u32) -> ProfileClient {
        self.concurrency = concurrency.max(1) as usize;
        self
    }

    /// How many calls a caller may keep in flight through this client.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The profile's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The profile's lane.
    pub fn lane(&self) -> &Arc<dyn Lane> {
        &self.lane
    }

    /// [`Provider::create`], through the lane.
    pub async fn create(&self, order: &ProviderOrder) -> CallReport {
        self.closed_breaker().await;
        self.lane.acquire().await;
        let report = {
            let _in_flight = InFlight::start(&self.in_flight);
            self.provider.create(order).await
        };
        self.observe(std::slice::from_ref(&report)).await;
        report
    }

    /// [`Provider::create`], through the lane, sent only if `gate` (awaited once the lane's
    /// permit is in hand, right before the call leaves) says so; its refusal is returned as is.
    /// The worker's lease fence goes here, so that the wait at the limiter counts inside the
    /// lease.
    pub async fn create_if<E>(
        &self,
        order: &ProviderOrder,
        gate: impl std::future::Future<Output = Result<(), E>>,
    ) -> Result<CallReport, E> {
        self.closed_breaker().await;
        self.lane.acquire().await;
        gate.await?;
        let report = {
            let _in_flight = InFlight::start(&self.in_flight);
            self.provider.create(order).await
        };
        self.observe(std::slice::from_ref(&report)).await;
        Ok(report)
    }

    /// [`Provider::resolve`], through the lane.
    pub async fn resolve(&self, order: &ProviderOrder) -> (Resolution, Vec<CallReport>) {
        self.closed_breaker().await;
        self.lane.acquire().await;
        let (resolution, reports) = {
            let _in_flight = InFlight::start(&self.in_flight);
            self.provider.resolve(order).await
        };
        self.observe(&reports).await;
        (resolution, reports)
    }

    /// [`Provider::resend_needs_lookup`] (no call is made).
    pub fn resend_needs_lookup(&self, order: &ProviderOrder, now_ms: i64) -> bool {
        self.provider.resend_needs_lookup(order, now_ms)
    }

    /// [`Provider::status`], through the lane.
    pub async fn status(&self, order: &ProviderOrder) -> (CardStatus, Vec<CallReport>) {
        self.closed_breaker().await;
        self.lane.acquire().await;
        let (status, reports) = {
            let _in_flight = InFlight::start(&self.in_flight);
            self.provider.status(order).await
        };
        self.observe(&reports).await;
        (status, reports)
    }

    /// Tells the lane how the calls of one operation ended, and charges it for every call after
    /// the first (a token refresh before a create, the pages of a card list): the permit taken
    /// up front paid for one call only, and the rate limit is the provider's, per call.
    /// Whether the profile's calls are paused because the provider could not be reached.
    pub fn breaker_open(&self) -> bool {
        self.breaker
            .lock()
            .expect("breaker lock")
            .open_until
            .is_some_and(|until| until > Instant::now())
    }

    /// Waits while the breaker is open.
    async fn closed_breaker(&self) {
        let until = self.breaker.lock().expect("breaker lock").open_until;
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    /// Counts operations that reached nothing; trips the breaker after
    /// [`BREAKER_TRIPS_AFTER`] in a row, for a pause that doubles while it lasts. Any call that
    /// reached the provider closes it.
    fn watch_reachability(&self, reports: &[CallReport]) {
        if reports.is_empty() {
            return;
        }
        let unreachable = reports.iter().all(|r| {
            matches!(&r.classified, Classified::Transient { code, .. } if code == super::http::NOT_SENT)
        });
        let mut b = self.breaker.lock().expect("breaker lock");
        if !unreachable {
            if b.open_until.is_some() {
                tracing::info!(profile = %self.name, "provider reachable again; calls resume");
            }
            *b = Breaker::default();
            return;
        }
        b.unreachable += 1;
        if b.unreachable >= BREAKER_TRIPS_AFTER {
            let pause = b.pause;
            b.open_until = Some(Instant::now() + pause);
            b.pause = (pause * 2).min(BREAKER_MAX_PAUSE);
            b.unreachable = 0;
            tracing::warn!(profile = %self.name, pause = ?pause,
                "the provider cannot be reached; this profile's calls pause");
        }
    }

    /// Keeps the calls that did not succeed for [`ProfileClient::recent_errors`].
    fn remember_errors(&self, reports: &[CallReport]) {
        let failed = reports.iter().filter_map(|r| {
            let (outcome, code, message) = match &r.classified {
                Classified::Accepted { .. } => return None,
                Classified::Transient { code, message, .. } => ("transient", code, message),
                Classified::Permanent { code, message } => ("permanent", code, message),
                Classified::Unknown { code, message } => ("unknown", code, message),
                Classified::NeedsReview { code, message } => ("needs_review", code, message),
            };
            Some(RecentError {
                at_ms: r.started_at_ms,
                outcome,
                code: code.clone(),
                message: crate::domain::mask_message(message),
            })
        });
        let mut failed = failed.peekable();
        if failed.peek().is_none() {
            return;
        }
        let mut kept = self.recent_errors.lock().expect("recent errors lock");
        for error in failed {
            if kept.len() == RECENT_ERRORS_KEPT {
                kept.pop_front();
            }
            kept.push_back(error);
        }
    }

    async fn observe(&self, reports: &[CallReport]) {
        self.watch_reachability(reports);
        self.remember_errors(reports);
        crate::telemetry::record_calls(&self.name, reports);
        let limited = reports.iter().find_map(|r| match &r.classified {
            Classified::Transient {
                rate_limited: true,
                retry_after,
                ..
            } => Some(*retry_after),
            _ => None,
        });
        match limited {
            Some(retry_after) => self.lane.record(true, retry_after),
            None if !reports.is_empty() => self.lane.record(false, None),
            None => {}
        }
        for _ in 1..reports.len() {
            self.lane.acquire().await;
        }
    }
}

/// The paced client of every profile, by name. Cheap to clone.
#[derive(Clone, Default)]
pub struct ProfileClients(Arc<BTreeMap<String, Arc<ProfileClient>>>);

impl ProfileClients {
    /// No profile.
    pub fn new() -> ProfileClients {
        ProfileClients::default()
    }

    /// These clients plus `client` (replacing one of the same name).
    pub fn with(mut self, client: ProfileClient) -> ProfileClients {
        Arc::make_mut(&mut self.0).insert(client.name.clone(), Arc::new(client));
        self
    }

    /// The client of profile `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<ProfileClient>> {
        self.0.get(name)
    }

    /// Every client, in profile-name order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<ProfileClient>> {
        self.0.values()
    }

    /// The profile names, in order.
    pub fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}
