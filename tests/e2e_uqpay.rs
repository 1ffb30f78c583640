//! End to end, UQPAY: cardbatch (ingest, store, workers, token manager) against the
//! sandbox over loopback.

mod common;
mod e2e_support;

use cardbatch::domain::ProviderKind;
use common::TestDb;

const KIND: ProviderKind = ProviderKind::Uqpay;

async fn a_faulty_batch_ends_with_exactly_one_card_per_order(db: TestDb) {
    e2e_support::a_faulty_batch_ends_with_exactly_one_card_per_order(KIND, db).await;
}

async fn an_unknown_card_product_rejects_exactly_those_orders_with_the_providers_code(db: TestDb) {
    e2e_support::a_permanent_error_rejects_exactly_the_affected_orders(
        KIND,
        db,
        "card_product_not_found",
    )
    .await;
}

on_both_engines!(
    a_faulty_batch_ends_with_exactly_one_card_per_order,
    an_unknown_card_product_rejects_exactly_those_orders_with_the_providers_code,
);
