//! The flow binary's helpers: a database per test, orders written straight to the store, the
//! running application ([`spawn_app`]), whole batches against the sandbox, and webhooks the
//! tests sign themselves.

#[macro_use]
#[path = "../../support/db.rs"]
mod db;
#[path = "../../support/batches.rs"]
mod batches;
#[path = "../../support/counters.rs"]
mod counters;
#[path = "../../support/orders.rs"]
mod orders;
#[path = "../../support/pickup.rs"]
pub mod pickup;
#[path = "../../support/sandbox.rs"]
mod sandbox;
#[path = "../../support/wait.rs"]
mod wait;

mod app;
pub mod hooks;

pub use app::{AppSetup, TestApp, Webhooks, process_events, spawn_app};
pub use batches::{SETTLE, assert_one_card_per_order, csv, profile, submit_csv, wait_settled};
pub use counters::assert_counters_recount;
pub use db::{PG_URL_VAR, TestDb};
pub use orders::{new_batch, orders, submit};
pub use sandbox::{dev_credentials, start_sandbox};
pub use wait::wait_until;
