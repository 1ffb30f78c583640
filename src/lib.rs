//! cardbatch issues payment cards in bulk, durably.
//!
//! # Layout
//!
//! The modules follow an order through its life:
//!
//! - [`domain`]: parsed, always-valid types (providers, order states, the order as ingested and
//!   as the provider layer sees it, with its typed provider refs).
//! - [`config`]: `cardbatch.toml`, environment overrides, provider profiles.
//! - [`app`]: the composition root. `App::with_store` takes the store and builds one paced
//!   client per profile and the keys; `App::start` runs the services a command asks for and
//!   stops them in one order.
//! - [`ingest`] (1): a CSV file becomes validated orders and a report of rejected rows.
//! - [`jobs`]: scheduled issuance: schedule files (`jobs/*.toml`), cron slots in a time zone,
//!   one claim per (schedule, slot) across processes, and the CSV-drop and database-query
//!   sources, both through ingest's validators and batch transaction. The scheduler is one of
//!   the services `cardbatch run` starts. (The database source's SQL runs on the upstream
//!   database, not on ours; `store` keeps every statement on ours.)
//! - [`store`] (2): the only module with SQL; SQLite and Postgres behind one seam. The `orders`
//!   table is the queue: claim, lease, reschedule, complete.
//! - [`worker`] (3): apalis workers over the store, backoff, graceful shutdown.
//! - [`lanes`]: each profile's rate limit behind the `Lane` trait (in-process `LocalLane` on
//!   SQLite, `SharedLane` through Postgres).
//! - [`providers`] (4): the `Provider` trait, one folder per provider, and `ProfileClient`, the
//!   client behind its profile's lane that every caller goes through.
//! - [`webhooks`] (5): one endpoint per provider: verify, persist the raw event, answer.
//! - [`reconcile`] (6): match inbox events to orders and confirm or fail them; look up orders
//!   whose confirmation has not come; the reconciliation report.
//! - [`server`] (7): the HTTP server beside the workers (Alchemy Pay reverse validation, health,
//!   the operator's API under `/api/v1` with its OpenAPI document).
//! - [`control`]: the operator's controls, shared by the CLI and the API (pause, resume, cancel,
//!   approve, requeue, attach), the API's tokens, and the audit log every action is written to.
//! - [`sandbox`]: the `cardbatch-sandbox` crate (`crates/sandbox`), local stand-ins for the four
//!   providers used by tests, the demo and benchmarks; it cannot see this crate's clients.
//! - [`demo`]: `cardbatch demo`, the whole system against the sandbox on loopback.
//! - [`cli`]: the `cardbatch` command line.
//!
//! `sandbox` and `demo` come with the default `sandbox` feature; a production build can leave
//! them out (`--no-default-features`).

pub mod app;
pub mod cli;
pub mod config;
pub mod control;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod domain;
pub mod ingest;
pub mod jobs;
pub mod lanes;
pub mod providers;
pub mod reconcile;
/// The provider sandbox (the `cardbatch-sandbox` crate), for `cardbatch sandbox`, the demo and tests.
#[cfg(any(test, feature = "sandbox"))]
pub use cardbatch_sandbox as sandbox;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod webhooks;
pub mod worker;

/// mimalloc for every program built on this crate (the binary, its examples and tests): glibc's
/// malloc and free took about an eighth of the CPU of an end-to-end run (BENCHMARKS.md, issue 15).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
