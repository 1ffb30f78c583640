//! The reconciler: `submitted` orders whose confirmation has not come after
//! `confirm_after` are looked up at the provider ([`Provider::status`]). It runs as a loop in
//! `cardbatch run`; tests call [`Reconciler::pass`] directly.
//!
//! One pass, per profile with a client:
//! 1. Claim up to `batch` orders submitted at least `confirm_after` ago whose next lookup is
//!    due, fencing them from other reconcilers for `lease` (other processes, other passes).
//! 2. Look each up through the profile's paced client (lookups share the provider's rate limit
//!    with the create calls).
//! 3. Active: `issued`, confirmed by lookup. Failed: `failed`, with the provider's code. Still
//!    pending or the lookup failed: look again later, the wait doubling from `interval` up to
//!    `max_backoff` (never sooner than a `Retry-After`). Not found while the order holds refs: a
//!    mismatch for the report, and looked at again later; the order never moves backwards.
//!    Nothing to look up by (an Alchemy Pay order without its callback): wait for the callback,
//!    and once the order has been `submitted` for `review_after`, move it to `needs_review` with
//!    the code `no_confirmation`, so that an operator checks it at the provider.
//! 4. Write every outcome in one transaction, each confirmation fenced on `submitted` (a
//!    webhook that won the race keeps its confirmation; a disagreement is a mismatch).
//!
//! A profile whose every lookup of a pass could not even connect (its provider is down) is left
//! alone for a while, the wait doubling from `interval` up to `max_backoff`, instead of walking
//! its whole backlog with lookups that cannot leave (a circuit breaker per profile).
//!
//! Orders `in_doubt` are not looked up here: the worker's claim takes them back when their
//! `next_attempt_at` is due and the provider's `resolve` settles them before anything is re-sent
//! (`worker::issue`), to `submitted`, `retry_wait` or `needs_review`. Once `submitted`, they come
//! here like any other order.

use crate::config::ReconcileConfig;
use crate::domain::OrderState;
use crate::providers::http::NOT_SENT;
use crate::providers::{CardStatus, ProfileClient, ProfileClients};
use crate::store::{ConfirmedBy, LookupClaim, LookupOutcome, OrderConfirmation, Store};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How the reconciler paces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupOptions {
    /// How long a `submitted` order waits for its webhook before its first lookup.
    pub confirm_after: Duration,
    /// The loop's period, and the first wait between two lookups of one order.
    pub interval: Duration,
    /// The longest wait between two lookups of one order.
    pub max_backoff: Duration,
    /// Orders claimed per profile per pass.
    pub batch: u32,
    /// How long a claimed order is kept from other reconcilers while its lookup runs.
    pub lease: Duration,
    /// How long an order that cannot be looked up stays `submitted` before `needs_review`.
    pub review_after: Duration,
}

impl From<&ReconcileConfig> for LookupOptions {
    fn from(config: &ReconcileConfig) -> Self {
        LookupOptions {
            confirm_after: Duration::from_secs(config.confirm_after_secs),
            interval: Duration::from_secs(config.interval_secs.max(1)),
            max_backoff: Duration::from_secs(config.max_backoff_secs.max(1)),
            batch: config.batch.max(1),
            lease: Duration::from_secs(120),
            review_after: Duration::from_secs(config.review_after_secs),
        }
    }
}

impl Default for LookupOptions {
    fn default() -> Self {
        LookupOptions::from(&ReconcileConfig::default())
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupReport {
    /// Orders looked up.
    pub examined: usize,
    /// Orders moved to `issued` (confirmed by lookup).
    pub issued: usize,
    /// Orders moved to `failed`.
    pub failed: usize,
    /// Orders the provider is still working on.
    pub pending: usize,
    /// Lookups that failed (looked again later).
    pub lookup_failed: usize,
    /// Mismatches recorded (card not found while we hold refs).
    pub mismatches: usize,
    /// Orders moved to `needs_review`: no confirmation after `review_after` and nothing to look
    /// them up by.
    pub escalated: usize,
}

impl LookupReport {
    fn add(&mut self, other: &LookupReport) {
        self.examined += other.examined;
        self.issued += other.issued;
        self.failed += other.failed;
        self.pending += other.pending;
        self.lookup_failed += other.lookup_failed;
        self.mismatches += other.mismatches;
        self.escalated += other.escalated;
    }
}

/// The reconciler of one process: the store and the paced client of every profile.
#[derive(Clone)]
pub struct Reconciler {
    store: Store,
    clients: ProfileClients,
    options: LookupOptions,
    /// Profiles whose provider could not be reached: passes in a row that reached nothing, and
    /// the time (Unix ms) before which the profile is not looked at again (a circuit breaker).
    unreachable: Arc<Mutex<BTreeMap<String, (u32, i64)>>>,
}

impl Reconciler {
    /// A reconciler looking up the orders of every profile in `clients`, through their lanes
    /// (shared with the profiles' workers).
    pub fn new(store: Store, clients: ProfileClients, options: LookupOptions) -> Reconciler {
        Reconciler {
            store,
            clients,
            options,
            unreachable: Arc::default(),
        }
    }

    /// Runs one pass (see the module doc) at `now_ms`: every profile at once, each looking up
    /// to its client's concurrency in parallel (its lane bounds the rate).
    pub async fn pass(&self, now_ms: i64) -> crate::store::Result<LookupReport> {
        self.pass_until(now_ms, &CancellationToken::new()).await
    }

    /// [`Reconciler::pass`], starting no new lookup once `stop` is cancelled: the lookups in
    /// flight finish and are settled; the orders claimed but not looked up keep their lease and
    /// are looked up once it ends.
    async fn pass_until(
        &self,
        now_ms: i64,
        stop: &CancellationToken,
    ) -> crate::store::Result<LookupReport> {
        let passes = self
            .clients
            .iter()
            .map(|client| self.pass_profile(client, now_ms, stop));
        let mut report = LookupReport::default();
        let results = futures::future::join_all(passes).await;
        for (client, profile) in self.clients.iter().zip(results) {
            let profile = profile?;
            crate::telemetry::record_lookups(client.name(), &profile);
            report.add(&profile);
        }
        Ok(report)
    }

    async fn pass_profile(
        &self,
        client: &ProfileClient,
        now_ms: i64,
        stop: &CancellationToken,
    ) -> crate::store::Result<LookupReport> {
        let mut report = LookupReport::default();
        // A provider that refused every connection of the last pass is left alone for a while
        // (doubling up to `max_backoff`), instead of walking the whole backlog with lookups
        // that cannot leave.
        let resting = self
            .unreachable
            .lock()
            .expect("reconciler lock")
            .get(client.name())
            .is_some_and(|(_, until)| now_ms < *until);
        if resting {
            return Ok(report);
        }
        let submitted_before = now_ms - self.options.confirm_after.as_millis() as i64;
        let lease_until = now_ms + self.options.lease.as_millis() as i64;
        let claimed = self
            .store
            .order_claim_lookups(
                client.name(),
                submitted_before,
                now_ms,
                lease_until,
                self.options.batch,
            )
            .await?;
        if claimed.is_empty() {
            return Ok(report);
        }
        let looked: Vec<(LookupOutcome, CardStatus)> =
            // `take_while` is asked as each lookup is about to start, so a stop ends the pass
            // after the lookups in flight instead of after the whole batch (hundreds of lookups
            // at a provider's rate of a few a second).
            futures::stream::iter(claimed.into_iter().take_while(|_| !stop.is_cancelled()).map(
                |claim| async move {
                let (status, calls) = client.status(&claim.order.order).await;
                let mut outcome = self.decide(&claim, &status, now_ms);
                outcome.calls = calls
                    .iter()
                    .map(|c| c.attempt_record(claim.order.attempt))
                    .collect();
                    (outcome, status)
                },
            ))
            .buffer_unordered(client.concurrency())
            .collect()
            .await;
        if looked.is_empty() {
            // Stopped before any lookup started: nothing to settle or to learn from.
            return Ok(report);
        }
        let outcomes: Vec<LookupOutcome> = looked.iter().map(|(o, _)| o.clone()).collect();
        let moved = self
            .store
            .order_lookup_settle_many(&outcomes, now_ms)
            .await?;
        let unreachable = looked.iter().all(
            |(_, status)| matches!(status, CardStatus::Transient { code, .. } if code == NOT_SENT),
        );
        self.note_reachability(client.name(), unreachable, now_ms);
        for ((outcome, status), moved) in looked.iter().zip(moved) {
            report.examined += 1;
            match status {
                CardStatus::Active if moved => report.issued += 1,
                CardStatus::Failed { .. } if moved => report.failed += 1,
                CardStatus::Active | CardStatus::Failed { .. } | CardStatus::Pending => {
                    report.pending += 1
                }
                CardStatus::NotFound => report.mismatches += 1,
                CardStatus::Unknowable { .. } if moved => report.escalated += 1,
                CardStatus::Unknowable { .. } => report.pending += 1,
                CardStatus::Transient { code, message, .. } => {
                    report.lookup_failed += 1;
                    tracing::debug!(order_id = outcome.order_id, %code, %message, "lookup failed");
                }
            }
        }
        Ok(report)
    }

    /// Opens (or keeps open, for twice as long) the breaker of `profile` after a pass whose
    /// every lookup could not connect; closes it after any other pass.
    fn note_reachability(&self, profile: &str, unreachable: bool, now_ms: i64) {
        let mut breakers = self.unreachable.lock().expect("reconciler lock");
        if !unreachable {
            breakers.remove(profile);
            return;
        }
        let passes = breakers.get(profile).map_or(0, |(n, _)| *n) + 1;
        let rest = lookup_backoff(&self.options, passes - 1);
        tracing::warn!(
            profile,
            passes,
            rest_secs = rest.as_secs(),
            "the provider refused every lookup's connection; looking again later"
        );
        breakers.insert(
            profile.to_string(),
            (passes, now_ms + rest.as_millis() as i64),
        );
    }

    /// What a lookup's answer means for the claimed order.
    fn decide(&self, claim: &LookupClaim, status: &CardStatus, now_ms: i64) -> LookupOutcome {
        let order = &claim.order;
        let backoff = lookup_backoff(&self.options, claim.lookups);
        let mut outcome = LookupOutcome {
            order_id: order.id,
            confirm: None,
            mismatch: None,
            escalate: None,
            next_lookup_at_ms: now_ms + backoff.as_millis() as i64,
            answered: !matches!(status, CardStatus::Transient { .. }),
            calls: Vec::new(),
        };
        let confirm = |state, error| OrderConfirmation {
            order_id: order.id,
            state,
            by: ConfirmedBy::Lookup,
            provider_refs: None,
            error,
        };
        match status {
            CardStatus::Active => outcome.confirm = Some(confirm(OrderState::Issued, None)),
            CardStatus::Failed { code, message } => {
                outcome.confirm = Some(confirm(
                    OrderState::Failed,
                    Some((code.clone(), message.clone())),
                ))
            }
            CardStatus::Pending => {}
            CardStatus::Unknowable { why } => {
                let review_at =
                    claim.submitted_at_ms + self.options.review_after.as_millis() as i64;
                if now_ms >= review_at {
                    outcome.escalate = Some((
                        "no_confirmation".into(),
                        format!(
                            "no confirmation {} after submission: {why}",
                            whole_units(self.options.review_after)
                        ),
                    ));
                } else {
                    outcome.next_lookup_at_ms = outcome.next_lookup_at_ms.min(review_at);
                }
            }
            CardStatus::NotFound => {
                let refs = match &order.order.refs {
                    refs if refs.is_empty() => "none".to_string(),
                    refs => refs.to_string(),
                };
                outcome.mismatch = Some(format!(
                    "the provider does not know the card of this submitted order (refs {refs})"
                ));
            }
            CardStatus::Transient { retry_after, .. } => {
                let wait = backoff.max(retry_after.unwrap_or_default());
                outcome.next_lookup_at_ms = now_ms + wait.as_millis() as i64;
            }
        }
        outcome
    }

    /// The loop: a pass every `interval` until `shutdown` resolves; passes back to back while a
    /// full batch comes back.
    pub async fn run<F>(self, shutdown: F)
    where
        F: Future<Output = ()> + Send,
    {
        tokio::pin!(shutdown);
        let stop = CancellationToken::new();
        loop {
            let now = crate::worker::system_now_ms();
            let pass = self.pass_until(now, &stop);
            tokio::pin!(pass);
            let result = tokio::select! {
                biased;
                result = &mut pass => result,
                _ = &mut shutdown => {
                    tracing::info!("stopping: the reconciler finishes the lookups in flight");
                    stop.cancel();
                    if let Err(e) = pass.await {
                        tracing::warn!(error = %e, "the reconciler's last pass failed");
                    }
                    return;
                }
            };
            let full = match result {
                Ok(report) => {
                    if report.examined > 0 {
                        tracing::info!(?report, "reconciler pass");
                    }
                    report.examined as u32 >= self.options.batch
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reconciler pass failed; retrying");
                    false
                }
            };
            if full {
                // A backlog: straight on to the next pass, unless the shutdown came meanwhile (a
                // long backlog must not hold a SIGTERM up).
                if futures::FutureExt::now_or_never(&mut shutdown).is_some() {
                    return;
                }
                continue;
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(self.options.interval) => {}
            }
        }
    }
}

/// `86400 s` -> `24 h`, `90 s` -> `90 s`: a configured duration in the unit it was likely given in.
fn whole_units(d: Duration) -> String {
    match d.as_secs() {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// The wait after an order's `lookups + 1`-th lookup: `interval` doubled per earlier lookup,
/// capped at `max_backoff`.
pub fn lookup_backoff(options: &LookupOptions, lookups: u32) -> Duration {
    let doublings = lookups.min(30);
    options
        .interval
        .saturating_mul(1u32 << doublings)
        .min(options.max_backoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_between_lookups_doubles_up_to_the_cap() {
        let options = LookupOptions {
            confirm_after: Duration::from_secs(60),
            interval: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60),
            batch: 8,
            lease: Duration::from_secs(120),
            review_after: Duration::from_secs(3600),
        };
        let wait = |n| lookup_backoff(&options, n);
        assert_eq!(wait(0), Duration::from_secs(10));
        assert_eq!(wait(1), Duration::from_secs(20));
        assert_eq!(wait(2), Duration::from_secs(40));
        assert_eq!(wait(3), Duration::from_secs(60));
        assert_eq!(wait(40), Duration::from_secs(60));
    }
}
