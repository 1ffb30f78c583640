//! Local stand-ins for the four card providers, for tests, the demo and benchmarks.
//!
//! One HTTP server on loopback serves every provider under its own path prefix, so a profile's
//! base URL points at it: `/qitech` (QI Tech prepaid and postpaid share QI's host),
//! `/alchemypay` and `/uqpay/api` (UQPAY's real base URL ends in `/api`). `/_sandbox/...` are
//! the sandbox's own routes: faults changed at run time, the ledger of every card created, and
//! stats (see [`admin`]).
//!
//! Each provider is an independent implementation of its wire protocol (its own wire types, no
//! import of cardbatch's clients): auth as the provider does it, validation against
//! [`fixtures`], the provider's idempotency semantics, asynchronous lifecycles and signed
//! webhooks. Faults (transient errors, lost responses, latency, rate limits, webhook faults)
//! are rolled on a seeded RNG, so a run is repeatable.
//!
//! Start it with [`run`] (the `cardbatch sandbox` command) or in process with
//! [`Sandbox::start`]. With no configuration it accepts the development credentials
//! ([`dev_credentials`]) and calls cardbatch back at its default address; [`guide`] says so.

pub mod admin;
pub mod alchemypay;
pub mod config;
pub mod core;
mod dev;
pub mod fixtures;
pub mod qitech;
mod server;
pub mod uqpay;

pub use config::{ProviderSettings, SandboxConfig};
pub use core::{Core, FaultConfig};
pub use dev::{dev_credentials, guide};
pub use fixtures::Fixtures;
pub use server::{
    ALCHEMYPAY_MOUNT, QITECH_MOUNT, RunningSandbox, Sandbox, SandboxError, UQPAY_MOUNT,
    UQPAY_SIMULATOR_MOUNT, app, run,
};
