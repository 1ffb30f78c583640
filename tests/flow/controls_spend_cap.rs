//! The daily spend cap with a test clock: orders beyond the day's cap wait, unsent, for the next
//! day, and are issued then.

use crate::support::{TestDb, orders, profile, submit};
use cardbatch::config::{Amount, Profile, WorkerConfig};
use cardbatch::control::{Action, ControlError, perform};
use cardbatch::domain::{OrderState, ProviderKind, ProviderRefs};
use cardbatch::worker::{Clock, Outcome, Runtime, handler_fn};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

on_both_engines!(
    orders_over_the_daily_spend_cap_wait_for_the_next_day,
    an_approval_lets_the_held_orders_through_the_same_day,
);

/// 2026-11-30T12:00:00Z.
const NOON: i64 = 1_796_040_000_000;

async fn orders_over_the_daily_spend_cap_wait_for_the_next_day(db: TestDb) {
    // Arrange: orders of 12.50 each; the cap lets two a day through.
    let store = db.store().await;
    let batch = submit(&store, "uqpay", orders("cap", 5)).await.batch_id;
    let p = Profile {
        daily_spend_cap: Some(Amount { minor: 2_500 }),
        spend_day_utc_offset: Some("-03:00".into()),
        ..profile(ProviderKind::Uqpay, "127.0.0.1:9")
    };
    let profiles = BTreeMap::from([("uqpay".to_string(), p)]);
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = {
        let calls = calls.clone();
        handler_fn(move |order| {
            calls.fetch_add(1, Ordering::SeqCst);
            let refs = ProviderRefs::new().with("card_order_id", format!("co-{}", order.id));
            async move { Outcome::Submitted { refs }.into() }
        })
    };
    let clock = Clock::manual(NOON);
    let config = WorkerConfig {
        lease_secs: 60,
        claim_batch: 16,
        idle_poll_ms: 10,
        shutdown_grace_secs: 10,
    };
    let drain = || {
        Runtime::new(
            store.clone(),
            profiles.clone(),
            handler.clone(),
            config.clone(),
        )
        .with_clock(clock.clone())
        .drain_until_idle()
    };
    let states = || async {
        let rows = store.order_list(batch, None).await.unwrap();
        let sent = rows
            .iter()
            .filter(|o| o.state == OrderState::Submitted)
            .count();
        let waiting: Vec<_> = rows
            .iter()
            .filter(|o| o.state == OrderState::Queued)
            .collect();
        (
            sent,
            waiting.len(),
            waiting
                .first()
                .map(|o| (o.next_attempt_at_ms, o.attempts, o.last_error_code.clone())),
        )
    };

    // Act: the first day.
    drain().await.unwrap();

    // Assert: two sent; three wait, unsent and uncounted, for 03:00 UTC (midnight in -03:00).
    let (sent, waiting, first) = states().await;
    assert_eq!((sent, waiting), (2, 3));
    let next_day = NOON + 15 * 3_600_000;
    assert_eq!(first, Some((next_day, 0, Some("spend_cap".into()))));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(store.spend_on("uqpay", "2026-11-30").await.unwrap(), 2_500);

    // Act: later the same day nothing moves; the next day two more go.
    clock.advance(Duration::from_secs(3_600));
    drain().await.unwrap();
    assert_eq!(states().await.0, 2);
    clock.set_ms(next_day);
    drain().await.unwrap();

    // Assert
    assert_eq!(states().await.0, 4);
    clock.advance(Duration::from_secs(86_400));
    drain().await.unwrap();
    assert_eq!(states().await.0, 5);
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

async fn an_approval_lets_the_held_orders_through_the_same_day(db: TestDb) {
    // Arrange: a batch of 12.50 orders, written as `ana` submits it; the cap lets two through.
    let store = db.store().await;
    let mut writer = store
        .batch_writer(&crate::support::new_batch("uqpay"))
        .await
        .unwrap();
    for o in orders("ok", 5) {
        writer.push(o).await.unwrap();
    }
    writer
        .set_control(cardbatch::domain::BatchState::Active, None, "cli:ana")
        .await
        .unwrap();
    let batch = writer.commit().await.unwrap().batch_id;
    let p = Profile {
        daily_spend_cap: Some(Amount { minor: 2_500 }),
        ..profile(ProviderKind::Uqpay, "127.0.0.1:9")
    };
    let profiles = BTreeMap::from([("uqpay".to_string(), p)]);
    let handler = handler_fn(|order| {
        let refs = ProviderRefs::new().with("card_order_id", format!("co-{}", order.id));
        async move { Outcome::Submitted { refs }.into() }
    });
    let clock = Clock::manual(NOON);
    let drain = || {
        Runtime::new(
            store.clone(),
            profiles.clone(),
            handler.clone(),
            WorkerConfig::default(),
        )
        .with_clock(clock.clone())
        .drain_until_idle()
    };
    let sent = || async {
        store
            .order_list(batch, Some(OrderState::Submitted))
            .await
            .unwrap()
            .len()
    };
    drain().await.unwrap();
    assert_eq!(sent().await, 2);

    // Act: the submitter may not let it spend more; someone else may.
    let own = perform(&store, "cli:ana", batch, &Action::Approve, NOON).await;
    let done = perform(&store, "cli:bob", batch, &Action::Approve, NOON)
        .await
        .unwrap();
    drain().await.unwrap();

    // Assert: the three held orders went the same day.
    assert!(matches!(own, Err(ControlError::SelfApproval(_))), "{own:?}");
    assert_eq!(done.orders, 3);
    assert_eq!(sent().await, 5);
    let control = store.batch_control(batch).await.unwrap();
    assert_eq!(control.spend_cap_waived_by.as_deref(), Some("cli:bob"));
}
