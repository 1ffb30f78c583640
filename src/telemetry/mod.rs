//! Prometheus metrics. The choke points record with the `metrics` macros (provider calls in
//! [`crate::providers::ProfileClient`], the webhook inbox writer); the gauges that describe
//! state (orders per profile and state, lane rates) are refreshed from the store and the
//! lanes when `/metrics` is scraped ([`crate::server::metrics`]), so they are never stale and
//! cost nothing between scrapes.
//!
//! The recorder is process-wide (the `metrics` facade has one global recorder): it is
//! installed the first time [`handle`] is called, by whoever serves `/metrics`.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Provider calls: `profile`, `kind` (`create`, `resolve`, `status`), `outcome`.
pub const PROVIDER_CALLS: &str = "cardbatch_provider_calls_total";
/// Provider call latency in seconds (the time at the provider, not the wait at the lane).
pub const PROVIDER_CALL_SECONDS: &str = "cardbatch_provider_call_seconds";
/// Rate-limited answers (429 or the provider's rate-limit code) by `profile`.
pub const PROVIDER_RATE_LIMITED: &str = "cardbatch_provider_rate_limited_total";
/// Webhook events arriving at the inbox by `provider` (the endpoint: `uqpay`, `qitech`,
/// `alchemypay`) and `outcome` (`new`, `duplicate`, `error`).
pub const WEBHOOK_EVENTS: &str = "cardbatch_webhook_events_total";
/// Webhook events the event processor decided on, by `provider` and `outcome` (`issued`,
/// `failed`: the order moved; `unchanged`, `waiting`, `unmatched`, `ignored`).
pub const WEBHOOK_EVENTS_PROCESSED: &str = "cardbatch_webhook_events_processed_total";
/// Seconds from a webhook's receipt (persisted in the inbox) to the order it settled being
/// written `issued` / `failed`, by `provider`.
pub const WEBHOOK_LAG_SECONDS: &str = "cardbatch_webhook_lag_seconds";
/// How long the oldest due order of a profile (`queued` / `retry_wait`, its time come) has
/// waited past its due time, in seconds; 0 when none is due. Computed at each scrape.
pub const OLDEST_DUE_ORDER_AGE: &str = "cardbatch_oldest_due_order_age_seconds";
/// Slots fired by the scheduler, by `schedule` and `outcome` (`schedule_runs.outcome`:
/// `queued`, `empty`, `failed`, `skipped`, ...).
pub const SCHEDULE_RUNS: &str = "cardbatch_schedule_runs_total";
/// Completions written by the workers' completion writer, by `profile` and `outcome`
/// (`applied`, or `fenced` when the order's lease had moved on).
pub const COMPLETION_WRITES: &str = "cardbatch_completion_writes_total";
/// Failed attempts at writing a group of completions (each is written again), by `profile`.
pub const COMPLETION_WRITE_FAILURES: &str = "cardbatch_completion_write_failures_total";
/// Reconciler lookups by `profile` and `outcome` (`issued`, `failed`, `pending`,
/// `lookup_failed`, `mismatch`, `escalated`).
pub const RECONCILER_LOOKUPS: &str = "cardbatch_reconciler_lookups_total";
/// Orders by `profile` and `state` (a gauge, refreshed from the store at each scrape).
pub const ORDERS: &str = "cardbatch_orders";
/// A lane's current rate (calls per second) by `profile`.
pub const LANE_RATE: &str = "cardbatch_lane_rate";
/// A lane's configured rate (calls per second) by `profile`.
pub const LANE_CONFIGURED_RATE: &str = "cardbatch_lane_configured_rate";
/// Rate-limited answers seen by a lane in this process, by `profile`.
pub const LANE_RATE_LIMITED: &str = "cardbatch_lane_rate_limited_total";
/// Permits a lane handed out in this process, by `profile`.
pub const LANE_PERMITS: &str = "cardbatch_lane_permits_total";

/// Latency buckets (seconds) of provider calls: sandbox calls take milliseconds, real ones up
/// to the client timeout.
const CALL_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Buckets (seconds) of the webhook lag: the processor is woken right after each insert, so
/// milliseconds normally; an event waiting for its order's refs rechecks every 2 s.
const LAG_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus handle; installs the recorder on first use. When another recorder
/// was installed first (a host embedding cardbatch), the handle renders only what it owns.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(PROVIDER_CALL_SECONDS.into()), CALL_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(WEBHOOK_LAG_SECONDS.into()), LAG_BUCKETS)
            })
            .expect("the latency buckets are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!(
                "a metrics recorder was installed before cardbatch's; /metrics stays empty"
            );
        }
        handle
    })
}

/// Renders every metric in the Prometheus text format.
pub fn render() -> String {
    let handle = handle();
    handle.run_upkeep();
    handle.render()
}

/// Records the calls of one provider operation of `profile` (every call goes through
/// [`crate::providers::ProfileClient`], which calls this).
pub fn record_calls(profile: &str, reports: &[crate::providers::CallReport]) {
    use crate::providers::{CallKind, Classified};
    for report in reports {
        let kind = match report.kind {
            CallKind::Create => "create",
            CallKind::Lookup => "lookup",
            CallKind::Token => "token",
        };
        let outcome = match &report.classified {
            Classified::Accepted { .. } => "accepted",
            Classified::Transient {
                rate_limited: true, ..
            } => "rate_limited",
            Classified::Transient { .. } => "transient",
            Classified::Permanent { .. } => "permanent",
            Classified::Unknown { .. } => "unknown",
            Classified::NeedsReview { .. } => "needs_review",
        };
        let profile = profile.to_string();
        metrics::counter!(PROVIDER_CALLS, "profile" => profile.clone(), "kind" => kind, "outcome" => outcome)
            .increment(1);
        metrics::histogram!(PROVIDER_CALL_SECONDS, "profile" => profile.clone(), "kind" => kind)
            .record(report.duration_ms.max(0) as f64 / 1000.0);
        if outcome == "rate_limited" {
            metrics::counter!(PROVIDER_RATE_LIMITED, "profile" => profile).increment(1);
        }
    }
}

/// Records one webhook event offered to the inbox: `outcome` is `new`, `duplicate` or
/// `error`.
pub fn record_webhook_event(endpoint: &str, outcome: &'static str) {
    metrics::counter!(WEBHOOK_EVENTS, "provider" => endpoint.to_string(), "outcome" => outcome)
        .increment(1);
}

/// Records the event processor's decision on one event that arrived on `endpoint`; `lag_ms`,
/// for an event that settled its order, is the time from its receipt to that write.
pub fn record_webhook_processed(endpoint: &str, outcome: &'static str, lag_ms: Option<i64>) {
    metrics::counter!(WEBHOOK_EVENTS_PROCESSED, "provider" => endpoint.to_string(), "outcome" => outcome)
        .increment(1);
    if let Some(lag_ms) = lag_ms {
        metrics::histogram!(WEBHOOK_LAG_SECONDS, "provider" => endpoint.to_string())
            .record(lag_ms.max(0) as f64 / 1000.0);
    }
}

/// Records one slot of `schedule` fired (or skipped) by the scheduler.
pub fn record_schedule_run(schedule: &str, outcome: &'static str) {
    metrics::counter!(SCHEDULE_RUNS, "schedule" => schedule.to_string(), "outcome" => outcome)
        .increment(1);
}

/// Records one group written by the completion writer of `profile`: `applied` says, per
/// completion, whether it was applied; `failures` is how many writes failed before it went in.
pub fn record_completion_writes(profile: &str, applied: &[bool], failures: u32) {
    let written = applied.iter().filter(|a| **a).count() as u64;
    let fenced = applied.len() as u64 - written;
    let profile = profile.to_string();
    metrics::counter!(COMPLETION_WRITES, "profile" => profile.clone(), "outcome" => "applied")
        .increment(written);
    metrics::counter!(COMPLETION_WRITES, "profile" => profile.clone(), "outcome" => "fenced")
        .increment(fenced);
    metrics::counter!(COMPLETION_WRITE_FAILURES, "profile" => profile).increment(failures.into());
}

/// Records one reconciler pass over `profile`.
pub fn record_lookups(profile: &str, report: &crate::reconcile::LookupReport) {
    let outcomes = [
        ("issued", report.issued),
        ("failed", report.failed),
        ("pending", report.pending),
        ("lookup_failed", report.lookup_failed),
        ("mismatch", report.mismatches),
        ("escalated", report.escalated),
    ];
    for (outcome, n) in outcomes {
        metrics::counter!(RECONCILER_LOOKUPS, "profile" => profile.to_string(), "outcome" => outcome)
            .increment(n as u64);
    }
}
