//! The e2e binary's helpers: a database per test, orders written straight to the store, whole
//! batches against the sandbox, and the real `cardbatch` binary as a child process.

#[macro_use]
#[path = "../../support/db.rs"]
mod db;
#[path = "../../support/batches.rs"]
mod batches;
#[path = "../../support/counters.rs"]
mod counters;
#[path = "../../support/orders.rs"]
mod orders;
#[path = "../../support/sandbox.rs"]
mod sandbox;
#[path = "../../support/wait.rs"]
mod wait;

mod process;

pub use batches::{
    MOVING, SETTLE, assert_one_card_per_order, csv, profile, submit_csv, wait_settled,
};
pub use counters::assert_counters_recount;
pub use db::{PG_URL_VAR, TestDb};
pub use orders::{orders, submit};
pub use process::{RunProcess, cardbatch_output, completed_in_log, write_config};
pub use sandbox::{dev_credentials, start_sandbox};
pub use wait::wait_until;

/// Held by the tests that start a whole cluster of processes (`cluster`, `chaos`), so that two
/// of them never share this machine's cores at once: `cluster` asserts the rate its workers
/// achieve, which a second cluster starving them of CPU would bring down.
pub static CLUSTER_MACHINE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
