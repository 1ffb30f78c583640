//! End to end, QI Tech postpaid: cardbatch (ingest, store, workers) against the sandbox over
//! loopback.

mod common;
mod e2e_support;

use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::sandbox::FaultConfig;
use common::TestDb;
use e2e_support::{E2e, csv};

const KIND: ProviderKind = ProviderKind::QitechPostpaid;

/// With QI answering a reused `request_control_key` with the original keys (a documented
/// possibility the sandbox switches on), every lost answer resolves to the card.
async fn a_faulty_batch_ends_with_exactly_one_card_per_order(db: TestDb) {
    e2e_support::a_faulty_batch_ends_with_exactly_one_card_per_order_with(
        KIND,
        db,
        &[("conflict_reveals_keys", "true")],
    )
    .await;
}

async fn a_limit_above_the_wallets_rejects_exactly_those_orders_with_the_providers_code(
    db: TestDb,
) {
    e2e_support::a_permanent_error_rejects_exactly_the_affected_orders(KIND, db, "CIN000073").await;
}

/// QI's reconciliation gap: when the 409 carries no keys, an order whose answer was lost cannot
/// be found again. It goes to `needs_review` with QI's code, and no second card is made.
async fn a_lost_answer_without_keys_on_the_conflict_needs_review_and_never_duplicates(db: TestDb) {
    // Arrange: every create's answer is lost.
    let faults = FaultConfig {
        lost_response_rate: 1.0,
        ..FaultConfig::default()
    };
    let e = E2e::start(KIND, db, faults, 200.0).await;
    let batch = e.submit_csv(&csv(KIND, "gap", 5, &[])).await;

    // Act
    e.run_until_settled(e.handler()).await;

    // Assert
    let orders = e.orders(batch).await;
    for o in &orders {
        assert_eq!(o.state, OrderState::NeedsReview, "{}", o.order_ref);
        assert_eq!(o.last_error_code.as_deref(), Some("CIN000099"));
    }
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    assert_eq!(e.assert_one_card_per_order(&ids).await, 5);
}

on_both_engines!(
    a_faulty_batch_ends_with_exactly_one_card_per_order,
    a_limit_above_the_wallets_rejects_exactly_those_orders_with_the_providers_code,
    a_lost_answer_without_keys_on_the_conflict_needs_review_and_never_duplicates,
);
