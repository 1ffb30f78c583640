//! The failure threshold against the sandbox: a file whose orders the provider refuses for good
//! pauses itself after a few, with the reason shown, instead of burning through every call; an
//! operator who resumes it overrules the threshold.

use crate::support::{AppSetup, TestDb, csv, spawn_app};
use cardbatch::control::{Action, perform};
use cardbatch::domain::{BatchState, OrderState, ProviderKind};

on_both_engines!(a_batch_failing_over_the_threshold_pauses_itself_until_resumed);

const KIND: ProviderKind = ProviderKind::QitechPrepaid;

async fn a_batch_failing_over_the_threshold_pauses_itself_until_resumed(db: TestDb) {
    // Arrange: every order of the batch is refused by the provider for good.
    let setup = AppSetup {
        profile_edit: |p| {
            p.pause_after_failure_rate = Some(0.2);
            p.pause_min_attempts = Some(4);
        },
        ..AppSetup::new(KIND)
    };
    let app = spawn_app(&db, setup).await;
    let all: Vec<usize> = (0..100).collect();
    let batch = app.submit_csv(&csv(KIND, "bad", 100, &all)).await;

    // Act
    app.drain().await;

    // Assert: paused with its numbers, most orders never sent.
    let control = app.store.batch_control(batch).await.unwrap();
    assert_eq!(control.state, BatchState::Paused);
    let reason = control.state_reason.unwrap();
    assert!(reason.starts_with("auto-paused"), "{reason}");
    let orders = app.orders(batch).await;
    let rejected = orders
        .iter()
        .filter(|o| o.state == OrderState::Rejected)
        .count();
    let queued = orders
        .iter()
        .filter(|o| o.state == OrderState::Queued)
        .count();
    assert!(rejected >= 4, "{rejected} rejected");
    assert!(queued >= 50, "only {queued} orders were spared");
    assert_eq!(rejected + queued, 100);
    let log = app.store.audit_list(10, None).await.unwrap();
    assert_eq!(log[0].entry.actor, "system:failure_threshold");

    // Act: an operator resumes it anyway.
    perform(&app.store, "cli:ana", batch, &Action::Resume, 1)
        .await
        .unwrap();
    app.drain().await;

    // Assert: the threshold does not pause it again; every order was tried.
    let control = app.store.batch_control(batch).await.unwrap();
    assert_eq!(control.state, BatchState::Active);
    assert!(
        app.orders(batch)
            .await
            .iter()
            .all(|o| o.state == OrderState::Rejected)
    );
    app.shutdown().await;
}
