//! cardbatch's stages running in process: the workers draining the queue (with stand-in
//! handlers), the webhook endpoints and the event processor, the reconciler, and whole batches
//! issued through the real clients against the sandbox, with faults ([`support::spawn_app`]).
//! Scenarios run on SQLite and, with `CARDBATCH_TEST_PG_URL` set, on PostgreSQL.

#[macro_use]
mod support;

mod api_auth;
mod api_batches;
mod batches;
mod controls_spend_cap;
mod controls_threshold;
mod counters;
mod dashboard_pages;
mod metrics_scrape;
mod pickup;
mod reconcile_lookup;
mod reconcile_report;
mod webhooks_events;
mod webhooks_inbox;
mod webhooks_sandbox;
mod worker_drain;
mod worker_retry;
