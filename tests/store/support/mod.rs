//! The store binary's helpers: a database per test, orders written straight to the store, and
//! CSV files for ingest.

#[macro_use]
#[path = "../../support/db.rs"]
mod db;
#[path = "../../support/counters.rs"]
mod counters;
#[path = "../../support/orders.rs"]
mod orders;
#[path = "../../support/wait.rs"]
mod wait;

mod csv;

pub use counters::assert_counters_recount;
pub use csv::{UQPAY_IDS, data_rows, example, header_error, no_defaults, read_all, read_str};
pub use db::TestDb;
pub use orders::{new_batch, order, orders, submit};
pub use wait::wait_until;

/// The report's sample duplicates as (line, what it repeats), in file order.
pub fn duplicate_samples(
    report: &cardbatch::store::BatchInsertReport,
) -> Vec<(u64, cardbatch::store::DuplicateOf)> {
    report
        .samples
        .iter()
        .map(|s| (s.line, s.duplicate_of.clone()))
        .collect()
}
