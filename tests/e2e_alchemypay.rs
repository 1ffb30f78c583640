//! End to end, Alchemy Pay: cardbatch (ingest, store, workers, reverse validation) against the
//! sandbox over loopback.

mod common;
mod e2e_support;

use cardbatch::domain::ProviderKind;
use common::TestDb;

const KIND: ProviderKind = ProviderKind::AlchemypayVcc;

async fn a_faulty_batch_ends_with_exactly_one_card_per_order(db: TestDb) {
    e2e_support::a_faulty_batch_ends_with_exactly_one_card_per_order(KIND, db).await;
}

async fn an_unknown_card_segment_rejects_exactly_those_orders_with_the_providers_code(db: TestDb) {
    e2e_support::a_permanent_error_rejects_exactly_the_affected_orders(KIND, db, "200002").await;
}

on_both_engines!(
    a_faulty_batch_ends_with_exactly_one_card_per_order,
    an_unknown_card_segment_rejects_exactly_those_orders_with_the_providers_code,
);
