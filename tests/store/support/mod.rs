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

use cardbatch::domain::{OrderState, ProviderRefs};
use cardbatch::store::{Completion, ConfirmedBy, EventOutcome, EventSettlement, OrderConfirmation};

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

/// A completion by worker `w1`'s call: `submitted` with card `card-{order_id}`, or another state
/// with error `E1` (a retry comes due at 70,000 ms, a minute after the tests' usual 10,000).
pub fn completion(order_id: i64, state: OrderState) -> Completion {
    let card = serde_json::json!({ "card_id": format!("card-{order_id}") });
    Completion {
        order_id,
        state,
        next_attempt_at: (state == OrderState::RetryWait).then_some(70_000),
        provider_refs: (state == OrderState::Submitted)
            .then(|| serde_json::from_value::<ProviderRefs>(card).unwrap()),
        error: (state != OrderState::Submitted).then(|| ("E1".into(), "refused".into())),
        attempts: Vec::new(),
        nothing_sent: false,
    }
}

/// A webhook event's settlement: matched to `order_id`, which it confirms `issued`, or unmatched.
pub fn settlement(event_id: i64, order_id: Option<i64>) -> EventSettlement {
    EventSettlement {
        event_id,
        outcome: match order_id {
            Some(_) => EventOutcome::Matched,
            None => EventOutcome::Unmatched,
        },
        order_id,
        note: String::new(),
        recheck_at_ms: 0,
        confirm: order_id.map(|order_id| OrderConfirmation {
            order_id,
            state: OrderState::Issued,
            by: ConfirmedBy::Webhook,
            provider_refs: None,
            error: None,
        }),
        calls: Vec::new(),
    }
}
