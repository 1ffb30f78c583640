//! The webhook endpoints over loopback: signed requests from outside, verified, persisted once
//! into the inbox and answered, then applied by the event processor, even after a crash.

use crate::support::hooks::{
    ALCHEMY, ALCHEMY_SECRET, Hooks, QI_PREPAID, QiKey, UQPAY, UQPAY_SECRET, id, now_ms, qi_event,
    queued_order, submitted_order, uqpay_event,
};
use crate::support::{TestDb, process_events};
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::providers::alchemypay::callback_tag;
use cardbatch::reconcile::ProcessOptions;
use cardbatch::store::EventOutcome;
use serde_json::json;

/// Webhook events in the inbox, whatever their outcome.
async fn event_count(hooks: &Hooks) -> u64 {
    hooks
        .app
        .store
        .webhook_event_count_by_outcome()
        .await
        .unwrap()
        .values()
        .sum()
}

async fn a_forged_uqpay_signature_gets_401_and_changes_nothing(db: TestDb) {
    // Arrange
    let hooks = Hooks::start(&db).await;
    let order = submitted_order(
        &hooks.app.store,
        UQPAY,
        ProviderKind::Uqpay,
        json!({"card_id": "c-1", "card_order_id": "o-1"}),
    )
    .await;
    let body = uqpay_event("card.create.succeeded", &id(), "c-1", "o-1");

    // Act
    let wrong_secret = hooks
        .post_uqpay_signed(&body, "not-the-secret", now_ms())
        .await;
    let stale = hooks
        .post_uqpay_signed(&body, UQPAY_SECRET, now_ms() - 6 * 60 * 1000)
        .await;
    let unsigned = hooks
        .http
        .post(format!("{}/webhooks/uqpay", hooks.app.url))
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let report = hooks.process().await;

    // Assert
    assert_eq!((wrong_secret, stale, unsigned), (401, 401, 401));
    assert_eq!(event_count(&hooks).await, 0);
    assert_eq!(report.examined, 0);
    assert_eq!(hooks.state(order).await, OrderState::Submitted);
}

async fn a_forged_qitech_jwt_gets_401_and_changes_nothing(db: TestDb) {
    let hooks = Hooks::start(&db).await;
    let order = submitted_order(
        &hooks.app.store,
        QI_PREPAID,
        ProviderKind::QitechPrepaid,
        json!({"card_key": "k-1"}),
    )
    .await;
    let body = qi_event("k-1", "active", "2026-11-21T10:00:00.000Z");

    let other_key = hooks
        .post_qitech_signed(&body, &QiKey::generate(), "/webhooks/qitech")
        .await;
    let other_uri = hooks
        .post_qitech_signed(&body, &hooks.qi, "/somewhere/else")
        .await;
    hooks.process().await;

    assert_eq!((other_key, other_uri), (401, 401));
    assert_eq!(event_count(&hooks).await, 0);
    assert_eq!(hooks.state(order).await, OrderState::Submitted);
}

async fn a_duplicate_webhook_is_stored_once_and_moves_the_order_once(db: TestDb) {
    // Arrange
    let hooks = Hooks::start(&db).await;
    let order = submitted_order(
        &hooks.app.store,
        UQPAY,
        ProviderKind::Uqpay,
        json!({"card_id": "c-2", "card_order_id": "o-2"}),
    )
    .await;
    let body = uqpay_event("card.create.succeeded", &id(), "c-2", "o-2");

    // Act: the same event twice (each delivery freshly signed), then two processor passes.
    let first = hooks.post_uqpay(&body).await;
    let second = hooks.post_uqpay(&body).await;
    let pass1 = hooks.process().await;
    let third = hooks.post_uqpay(&body).await;
    let pass2 = hooks.process().await;

    // Assert
    assert_eq!((first, second, third), (200, 200, 200));
    assert_eq!(event_count(&hooks).await, 1);
    assert_eq!((pass1.examined, pass1.issued), (1, 1));
    assert_eq!(pass2.examined, 0);
    assert_eq!(hooks.state(order).await, OrderState::Issued);
    let (by, _) = hooks
        .app
        .store
        .order_confirmation(order)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by, "webhook");
    let events = hooks
        .app
        .store
        .webhook_event_list_for_order(order)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, EventOutcome::Matched);
}

async fn a_crash_between_persisting_and_processing_is_processed_after_restart(db: TestDb) {
    // Arrange: an event is persisted and acknowledged; no processor runs.
    let hooks = Hooks::start(&db).await;
    let order = submitted_order(
        &hooks.app.store,
        UQPAY,
        ProviderKind::Uqpay,
        json!({"card_id": "c-6", "card_order_id": "o-6"}),
    )
    .await;
    let status = hooks
        .post_uqpay(&uqpay_event("card.create.succeeded", &id(), "c-6", "o-6"))
        .await;
    assert_eq!(status, 200);

    // Act: everything goes away; a new store is opened on the same database.
    hooks.shutdown().await;
    let store = db.store().await;
    let report = process_events(&store, &ProcessOptions::default(), now_ms()).await;

    // Assert
    assert_eq!(report.issued, 1);
    assert_eq!(
        store.order_get(order).await.unwrap().unwrap().state,
        OrderState::Issued
    );
}

async fn an_alchemy_callback_for_an_order_we_never_issued_is_refused_and_not_stored(db: TestDb) {
    let hooks = Hooks::start(&db).await;
    // An Alchemy Pay order of ours exists; the callback names another orderNo.
    queued_order(&hooks.app.store, ALCHEMY, ProviderKind::AlchemypayVcc).await;
    let body = |order_no: &str| {
        json!({"eventType": "CREATE_CARD", "eventId": id(), "data": {"cardId": "c_1", "orderNo": order_no}})
            .to_string()
    };

    let tag = callback_tag(ALCHEMY_SECRET, "not-ours");
    let foreign = hooks.post_alchemypay(&body("not-ours"), Some(&tag)).await;

    assert_eq!(foreign, 404);
    assert_eq!(event_count(&hooks).await, 0);
}

async fn an_alchemy_callback_is_accepted_only_on_the_url_tagged_for_its_order(db: TestDb) {
    // Arrange: one of our Alchemy Pay orders; its orderNo is no secret.
    let hooks = Hooks::start(&db).await;
    let order_id = queued_order(&hooks.app.store, ALCHEMY, ProviderKind::AlchemypayVcc).await;
    let order_no = hooks
        .app
        .store
        .order_provider_view(order_id)
        .await
        .unwrap()
        .unwrap()
        .idempotency_key;
    let forged = json!({"eventType": "CREATE_CARD_FAIL", "eventId": id(),
        "data": {"orderNo": order_no, "reason": "forged"}})
    .to_string();

    // Act: a forger knowing the orderNo, without the tag, with another order's tag, with a tag
    // made under another key; then Alchemy Pay on the URL cardbatch gave it.
    let untagged = hooks.post_alchemypay(&forged, None).await;
    let other_order = callback_tag(ALCHEMY_SECRET, "another-order");
    let wrong_order = hooks.post_alchemypay(&forged, Some(&other_order)).await;
    let wrong_key = callback_tag("guessed-secret", &order_no);
    let wrong_secret = hooks.post_alchemypay(&forged, Some(&wrong_key)).await;
    let stored_before = event_count(&hooks).await;
    let genuine = hooks
        .post_alchemypay(&forged, Some(&callback_tag(ALCHEMY_SECRET, &order_no)))
        .await;

    // Assert
    assert_eq!((untagged, wrong_order, wrong_secret), (401, 401, 401));
    assert_eq!(stored_before, 0);
    assert_eq!(genuine, 200);
    assert_eq!(event_count(&hooks).await, 1);
}

async fn an_oversized_webhook_is_refused_before_it_is_read(db: TestDb) {
    let hooks = Hooks::start(&db).await;
    let big = format!(r#"{{"event_id":"x","pad":"{}"}}"#, "a".repeat(70 * 1024));

    let status = hooks.post_uqpay(&big).await;

    assert_eq!(status, 413);
    assert_eq!(event_count(&hooks).await, 0);
}

on_both_engines!(
    a_forged_uqpay_signature_gets_401_and_changes_nothing,
    a_forged_qitech_jwt_gets_401_and_changes_nothing,
    a_duplicate_webhook_is_stored_once_and_moves_the_order_once,
    a_crash_between_persisting_and_processing_is_processed_after_restart,
    an_alchemy_callback_for_an_order_we_never_issued_is_refused_and_not_stored,
    an_alchemy_callback_is_accepted_only_on_the_url_tagged_for_its_order,
    an_oversized_webhook_is_refused_before_it_is_read,
);
