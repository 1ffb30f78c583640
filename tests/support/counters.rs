//! The per-batch counters that `batches`, `status` and the reconcile report read (issue 16),
//! checked against a full recount of the orders.

use cardbatch::store::{ConfirmationCount, Store};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Asserts the per-batch counters that `batches`, `status` and the reconcile report read equal a
/// full recount of the orders (issue 16), and returns the confirmation counts for further checks.
pub async fn assert_counters_recount(
    store: &Store,
    step: &str,
) -> BTreeSet<(Uuid, &'static str, Option<&'static str>, u64)> {
    let counted = store.batch_list().await.unwrap();
    let recounted = store.batch_list_recounted().await.unwrap();
    assert_eq!(counted, recounted, "the counters after {step}");
    for recount in &recounted {
        let status = store.batch_status(recount.id).await.unwrap();
        assert_eq!(&status.summary, recount, "status after {step}");
    }
    let by = confirmations(store.order_count_by_confirmation(None).await.unwrap());
    let by_recounted = confirmations(store.order_count_by_confirmation_recounted().await.unwrap());
    assert_eq!(by, by_recounted, "confirmations after {step}");
    by
}

/// Confirmation counts in a comparable order.
fn confirmations(
    counts: Vec<ConfirmationCount>,
) -> BTreeSet<(Uuid, &'static str, Option<&'static str>, u64)> {
    counts
        .into_iter()
        .map(|c| {
            (
                c.batch_id,
                c.state.as_str(),
                c.confirmed_by.map(|b| b.as_str()),
                c.count,
            )
        })
        .collect()
}
