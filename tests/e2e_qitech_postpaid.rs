//! End to end, QI Tech postpaid: cardbatch (ingest, store, workers) against the
//! sandbox over loopback.

mod common;
mod e2e_support;

use cardbatch::domain::ProviderKind;
use common::TestDb;

const KIND: ProviderKind = ProviderKind::QitechPostpaid;

async fn a_faulty_batch_ends_with_exactly_one_card_per_order(db: TestDb) {
    e2e_support::a_faulty_batch_ends_with_exactly_one_card_per_order(KIND, db).await;
}

async fn a_limit_above_the_wallets_rejects_exactly_those_orders_with_the_providers_code(
    db: TestDb,
) {
    e2e_support::a_permanent_error_rejects_exactly_the_affected_orders(KIND, db, "CIN000073").await;
}

on_both_engines!(
    a_faulty_batch_ends_with_exactly_one_card_per_order,
    a_limit_above_the_wallets_rejects_exactly_those_orders_with_the_providers_code,
);
