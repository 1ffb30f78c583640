//! Whole batches, end to end in process: cardbatch (ingest, store, workers, token manager,
//! reverse validation) against the sandbox over loopback, one module per provider. Each batch
//! goes through the real ingest path; the acceptance scenario injects faults and checks
//! that every order ends with exactly one card.

use crate::support::{AppSetup, TestDb, csv, spawn_app};
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::sandbox::{FaultConfig, ProviderSettings};

/// The acceptance scenario for `kind`: 200 orders through the real ingest path, 10%
/// transient errors, 5% lost responses and 429s from a sandbox limit below the profile's rate;
/// every order ends accepted, with exactly one card each. `options` are the sandbox provider's.
async fn a_faulty_batch_ends_with_exactly_one_card_per_order(
    kind: ProviderKind,
    db: TestDb,
    options: &[(&str, &str)],
) {
    // Arrange: the sandbox allows 50 calls/s (a fifth of a second's burst), the profile starts
    // at 100/s.
    let mut provider = ProviderSettings {
        faults: FaultConfig {
            transient_error_rate: 0.10,
            lost_response_rate: 0.05,
            rate_limit_per_sec: Some(50.0),
            rate_limit_burst: Some(10),
            ..FaultConfig::default()
        },
        ..ProviderSettings::default()
    };
    for (k, v) in options {
        provider.options.insert(k.to_string(), v.to_string());
    }
    let setup = AppSetup {
        provider,
        rate: 100.0,
        ..AppSetup::new(kind)
    };
    let e = spawn_app(&db, setup).await;
    let batch = e.submit_csv(&csv(kind, "e2e", 200, &[])).await;

    // Act
    let report = e.run_until_settled().await;

    // Assert: every order accepted (or beyond), one card each, no duplicate.
    let orders = e.orders(batch).await;
    assert_eq!(orders.len(), 200);
    for o in &orders {
        assert!(
            matches!(o.state, OrderState::Submitted | OrderState::Issued),
            "{} ended {:?} ({:?} {:?})",
            o.order_ref,
            o.state,
            o.last_error_code,
            o.last_error_message
        );
        assert!(o.provider_refs.is_some(), "{} has no refs", o.order_ref);
    }
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    assert_eq!(e.assert_one_card_per_order(&ids).await, 200);
    // The faults did happen, so the test exercised retries, doubt and the lane.
    assert!(e.stat("faults_transient") > 0, "no transient fault fired");
    assert!(e.stat("faults_lost_response") > 0, "no response was lost");
    assert!(e.stat("rate_limited") > 0, "no 429 was answered");
    let lane = e.lane();
    println!(
        "{kind}: {} requests, {} transient, {} lost, {} rate limited; lane {lane:?}",
        e.stat("requests"),
        e.stat("faults_transient"),
        e.stat("faults_lost_response"),
        e.stat("rate_limited")
    );
    assert!(lane.rate_limited > 0, "the lane never saw a 429");
    assert!(report.completed() >= 200);
    // Every call left an attempt row: more rows than orders, because of the faults.
    let mut rows = 0;
    for o in &orders {
        rows += e.store.attempt_list(o.id).await.unwrap().len();
    }
    assert!(rows > 200, "{rows} attempt rows");
}

/// Orders the provider refuses for good are rejected with its code; the others get their card.
async fn a_permanent_error_rejects_exactly_the_affected_orders(
    kind: ProviderKind,
    db: TestDb,
    expected_code: &str,
) {
    // Arrange: rows 3, 7 and 11 of 20 name something the provider does not have.
    let e = spawn_app(&db, AppSetup::new(kind)).await;
    let bad = [3, 7, 11];
    let batch = e.submit_csv(&csv(kind, "perm", 20, &bad)).await;

    // Act
    e.run_until_settled().await;

    // Assert
    let orders = e.orders(batch).await;
    let mut carded = Vec::new();
    for (i, o) in orders.iter().enumerate() {
        if bad.contains(&i) {
            assert_eq!(o.state, OrderState::Rejected, "{}", o.order_ref);
            assert_eq!(
                o.last_error_code.as_deref(),
                Some(expected_code),
                "{}: {:?}",
                o.order_ref,
                o.last_error_message
            );
            assert_eq!(o.attempts, 1, "a permanent error is not retried");
        } else {
            assert_eq!(o.state, OrderState::Submitted, "{}", o.order_ref);
            carded.push(o.id);
        }
    }
    assert_eq!(e.assert_one_card_per_order(&carded).await, 17);
}

mod alchemypay {
    use super::*;

    const KIND: ProviderKind = ProviderKind::AlchemypayVcc;

    async fn a_faulty_batch_ends_with_exactly_one_card_per_order(db: TestDb) {
        super::a_faulty_batch_ends_with_exactly_one_card_per_order(KIND, db, &[]).await;
    }

    async fn an_unknown_card_segment_rejects_exactly_those_orders_with_the_providers_code(
        db: TestDb,
    ) {
        a_permanent_error_rejects_exactly_the_affected_orders(KIND, db, "200002").await;
    }

    on_both_engines!(
        a_faulty_batch_ends_with_exactly_one_card_per_order,
        an_unknown_card_segment_rejects_exactly_those_orders_with_the_providers_code,
    );
}

mod qitech_postpaid {
    use super::*;

    const KIND: ProviderKind = ProviderKind::QitechPostpaid;

    /// With QI answering a reused `request_control_key` with the original keys (a documented
    /// possibility the sandbox switches on), every lost answer resolves to the card.
    async fn a_faulty_batch_ends_with_exactly_one_card_per_order(db: TestDb) {
        super::a_faulty_batch_ends_with_exactly_one_card_per_order(
            KIND,
            db,
            &[("conflict_reveals_keys", "true")],
        )
        .await;
    }

    async fn a_limit_above_the_wallets_rejects_exactly_those_orders_with_the_providers_code(
        db: TestDb,
    ) {
        a_permanent_error_rejects_exactly_the_affected_orders(KIND, db, "CIN000073").await;
    }

    /// QI's reconciliation gap: when the 409 carries no keys, an order whose answer was lost
    /// cannot be found again. It goes to `needs_review` with QI's code, and no second card is
    /// made.
    async fn a_lost_answer_without_keys_on_the_conflict_needs_review_and_never_duplicates(
        db: TestDb,
    ) {
        // Arrange: every create's answer is lost.
        let setup = AppSetup {
            provider: ProviderSettings {
                faults: FaultConfig {
                    lost_response_rate: 1.0,
                    ..FaultConfig::default()
                },
                ..ProviderSettings::default()
            },
            ..AppSetup::new(KIND)
        };
        let e = spawn_app(&db, setup).await;
        let batch = e.submit_csv(&csv(KIND, "gap", 5, &[])).await;

        // Act
        e.run_until_settled().await;

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
}

mod qitech_prepaid {
    use super::*;

    const KIND: ProviderKind = ProviderKind::QitechPrepaid;

    async fn a_faulty_batch_ends_with_exactly_one_card_per_order(db: TestDb) {
        super::a_faulty_batch_ends_with_exactly_one_card_per_order(KIND, db, &[]).await;
    }

    async fn an_unknown_program_rejects_exactly_those_orders_with_the_providers_code(db: TestDb) {
        a_permanent_error_rejects_exactly_the_affected_orders(KIND, db, "CARD000005").await;
    }

    on_both_engines!(
        a_faulty_batch_ends_with_exactly_one_card_per_order,
        an_unknown_program_rejects_exactly_those_orders_with_the_providers_code,
    );
}

mod uqpay {
    use super::*;

    const KIND: ProviderKind = ProviderKind::Uqpay;

    async fn a_faulty_batch_ends_with_exactly_one_card_per_order(db: TestDb) {
        super::a_faulty_batch_ends_with_exactly_one_card_per_order(KIND, db, &[]).await;
    }

    async fn an_unknown_card_product_rejects_exactly_those_orders_with_the_providers_code(
        db: TestDb,
    ) {
        a_permanent_error_rejects_exactly_the_affected_orders(KIND, db, "card_product_not_found")
            .await;
    }

    on_both_engines!(
        a_faulty_batch_ends_with_exactly_one_card_per_order,
        an_unknown_card_product_rejects_exactly_those_orders_with_the_providers_code,
    );
}
