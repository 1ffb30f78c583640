//! `cardbatch demo`: the whole system on loopback, with no configuration.
//!
//! [`run`] starts the built-in sandbox with faults switched on, cardbatch's server (webhooks and
//! Alchemy Pay's reverse validation), the workers of the four built-in profiles, the webhook
//! event processor and the reconciler (which confirms by lookup the orders whose webhook the
//! sandbox dropped), on a fresh SQLite file. It submits the example CSV of
//! every provider through the real ingest path, waits until every order is final, and checks
//! the recorded cards against the sandbox's ledger one for one. `setup` builds the running
//! pieces, `settle` waits, `verify` compares with the ledger and `report` says what happened.

mod options;
mod report;
mod run;
mod settle;
mod setup;
mod verify;
#[cfg(test)]
mod verify_tests;

pub use options::{DemoError, DemoOptions};
pub use report::{BatchSettlement, DemoBatch, FaultSummary};
pub use run::{DemoOutcome, run};
pub use verify::{Mismatch, Verification};
