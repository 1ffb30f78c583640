//! The per-batch counters `batches` and `status` read, after a whole faulty run: the sandbox
//! answers with transient errors, loses responses (orders in doubt, resolved by lookups) and
//! sends its webhooks duplicated, reordered and late; at the end the counters equal a recount
//! of the orders. (Takeovers of a dead worker's orders are covered in `tests/store/counters.rs`.)

use crate::support::{
    AppSetup, TestDb, Webhooks, assert_counters_recount, csv, spawn_app, wait_until,
};
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::reconcile::ProcessOptions;
use cardbatch::sandbox::{FaultConfig, ProviderSettings, SandboxConfig};
use std::time::Duration;

const ORDERS: usize = 60;

on_both_engines!(the_counters_equal_a_recount_after_a_faulty_run_confirmed_by_webhooks);

async fn the_counters_equal_a_recount_after_a_faulty_run_confirmed_by_webhooks(db: TestDb) {
    // Arrange: UQPAY on a faulty sandbox that finishes cards 10 ms after creation and sends
    // their webhooks to cardbatch.
    let setup = AppSetup {
        sandbox: SandboxConfig {
            seed: 23,
            time_scale: 0.01,
            ..SandboxConfig::default()
        },
        provider: ProviderSettings {
            webhook_secret: Some("whsec-sandbox-test".into()),
            lifecycle_delay_ms: 1_000,
            faults: FaultConfig {
                transient_error_rate: 0.10,
                lost_response_rate: 0.05,
                webhook_duplicate_rate: 0.2,
                webhook_reorder_rate: 0.2,
                ..FaultConfig::default()
            },
            ..ProviderSettings::default()
        },
        concurrency: 4,
        webhooks: Webhooks::FromSandbox,
        processor: Some(ProcessOptions::default()),
        ..AppSetup::new(ProviderKind::Uqpay)
    };
    let app = spawn_app(&db, setup).await;
    app.submit_csv(&csv(ProviderKind::Uqpay, "ca", ORDERS, &[]))
        .await;
    app.submit_csv(&csv(ProviderKind::Uqpay, "cb", ORDERS / 2, &[3]))
        .await;

    // Act: run the workers until nothing moves, then let the webhooks finish every card.
    app.run_until_settled().await;
    wait_until(
        "every order to be final",
        Duration::from_secs(120),
        || async {
            let recount = app.store.batch_list_recounted().await.unwrap();
            recount
                .iter()
                .all(|b| b.counts.keys().all(|s| s.is_terminal()))
        },
    )
    .await;

    // Assert: the counters are the recount, and the faults did happen.
    let by = assert_counters_recount(&app.store, "a faulty run").await;
    let counted = app.store.batch_list().await.unwrap();
    assert!(
        by.iter().any(|(_, _, b, _)| *b == Some("webhook")),
        "{by:?}"
    );
    let total: u64 = counted.iter().map(|b| b.total()).sum();
    assert_eq!(total, (ORDERS + ORDERS / 2) as u64);
    let issued: u64 = counted
        .iter()
        .map(|b| b.counts.get(&OrderState::Issued).copied().unwrap_or(0))
        .sum();
    assert!(issued > 0, "{counted:?}");
    assert!(app.stat("faults_transient") > 0, "no transient fault fired");
    assert!(app.stat("faults_lost_response") > 0, "no response was lost");
    app.shutdown().await;
}
