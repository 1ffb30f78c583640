//! What webhook events do to orders: matched to their order by the card's references, applied
//! in order of receipt, never moving an order backwards, waiting for the create answer, and kept
//! as a mismatch or an unmatched event when they cannot apply.

use crate::support::hooks::{
    Hooks, QI_PREPAID, UQPAY, claim, id, now_ms, qi_event, queued_order, record_refs,
    submitted_order, uqpay_event,
};
use crate::support::{TestDb, wait_until};
use cardbatch::domain::{OrderState, ProviderKind, ProviderRefs};
use cardbatch::reconcile::ProcessOptions;
use cardbatch::store::{Completion, EventOutcome};
use serde_json::json;
use std::time::Duration;

async fn qi_active_arriving_before_created_ends_issued(db: TestDb) {
    let hooks = Hooks::start(&db).await;
    let order = submitted_order(
        &hooks.app.store,
        QI_PREPAID,
        ProviderKind::QitechPrepaid,
        json!({"card_key": "k-2"}),
    )
    .await;

    // `active` (the later event) is delivered and processed before `created`.
    assert_eq!(
        hooks
            .post_qitech(&qi_event("k-2", "active", "2026-11-21T10:00:07.000Z"))
            .await,
        200
    );
    let first = hooks.process().await;
    assert_eq!(
        hooks
            .post_qitech(&qi_event("k-2", "created", "2026-11-21T10:00:00.000Z"))
            .await,
        200
    );
    let second = hooks.process().await;

    assert_eq!(first.issued, 1);
    assert_eq!((second.ignored, second.issued, second.failed), (1, 0, 0));
    assert_eq!(hooks.state(order).await, OrderState::Issued);
}

async fn a_late_failure_never_moves_an_issued_order_back(db: TestDb) {
    let hooks = Hooks::start(&db).await;
    let order = submitted_order(
        &hooks.app.store,
        UQPAY,
        ProviderKind::Uqpay,
        json!({"card_id": "c-3", "card_order_id": "o-3"}),
    )
    .await;

    // Both in one pass: the second is applied after the first, in order of receipt.
    hooks
        .post_uqpay(&uqpay_event("card.create.succeeded", &id(), "c-3", "o-3"))
        .await;
    hooks
        .post_uqpay(&uqpay_event("card.create.failed", &id(), "c-3", "o-3"))
        .await;
    let report = hooks.process().await;

    assert_eq!((report.issued, report.failed, report.unchanged), (1, 0, 1));
    assert_eq!(hooks.state(order).await, OrderState::Issued);
    let events = hooks
        .app
        .store
        .webhook_event_list_for_order(order)
        .await
        .unwrap();
    assert!(
        events[1]
            .note
            .as_deref()
            .unwrap()
            .contains("no longer submitted"),
        "{:?}",
        events[1].note
    );
}

async fn a_creation_failure_fails_the_order_with_the_reason(db: TestDb) {
    let hooks = Hooks::start(&db).await;
    let order = submitted_order(
        &hooks.app.store,
        UQPAY,
        ProviderKind::Uqpay,
        json!({"card_id": "c-4", "card_order_id": "o-4"}),
    )
    .await;

    // Matched by the card order id alone (`source_id`).
    hooks
        .post_uqpay(&uqpay_event("card.create.failed", &id(), "", "o-4"))
        .await;
    hooks.process().await;

    let row = hooks.app.store.order_get(order).await.unwrap().unwrap();
    assert_eq!(row.state, OrderState::Failed);
    assert_eq!(row.last_error_code.as_deref(), Some("card.create.failed"));
}

async fn a_webhook_before_the_create_answer_is_matched_once_the_refs_are_recorded(db: TestDb) {
    // Arrange: the order's create call is in flight; its answer is not recorded yet.
    let hooks = Hooks::start(&db).await;
    queued_order(&hooks.app.store, UQPAY, ProviderKind::Uqpay).await;
    let order = claim(&hooks.app.store, UQPAY).await;

    // Act 1: the webhook overtakes the create answer.
    hooks
        .post_uqpay(&uqpay_event("card.create.succeeded", &id(), "c-5", "o-5"))
        .await;
    let early = hooks.process().await;

    // Assert 1: it waits.
    assert_eq!((early.waiting, early.issued), (1, 0));
    assert_eq!(hooks.state(order).await, OrderState::InFlight);
    let pending = hooks
        .app
        .store
        .webhook_event_list(EventOutcome::Pending)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);

    // Act 2: the create answer is recorded, the event is looked at again.
    record_refs(
        &hooks.app.store,
        order,
        json!({"card_id": "c-5", "card_order_id": "o-5"}),
    )
    .await;
    let later = hooks
        .process_at(now_ms() + ProcessOptions::default().recheck_after.as_millis() as i64)
        .await;

    // Assert 2
    assert_eq!(later.issued, 1);
    assert_eq!(hooks.state(order).await, OrderState::Issued);
}

async fn an_event_for_an_unknown_card_is_kept_and_reported(db: TestDb) {
    let hooks = Hooks::start(&db).await;
    let bystander = submitted_order(
        &hooks.app.store,
        UQPAY,
        ProviderKind::Uqpay,
        json!({"card_id": "c-7", "card_order_id": "o-7"}),
    )
    .await;
    let event_id = id();
    hooks
        .post_uqpay(&uqpay_event(
            "card.create.succeeded",
            &event_id,
            "nobody",
            "no-order",
        ))
        .await;

    // Within the grace period it waits for refs; after it, it is reported.
    let soon = hooks.process().await;
    let unmatched_after = ProcessOptions::default().unmatched_after.as_millis() as i64;
    let late = hooks.process_at(now_ms() + unmatched_after + 1).await;

    assert_eq!((soon.waiting, late.unmatched), (1, 1));
    let report = hooks
        .app
        .store
        .webhook_event_list(EventOutcome::Unmatched)
        .await
        .unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].event_key, event_id);
    assert_eq!(report[0].order_id, None);
    assert!(report[0].body.contains("nobody"));
    assert_eq!(hooks.state(bystander).await, OrderState::Submitted);
}

async fn the_processor_loop_is_woken_by_a_new_event(db: TestDb) {
    // Arrange: a sweep interval far longer than the test's timeout: only the wake-up can do it.
    let options = ProcessOptions {
        sweep_every: Duration::from_secs(3_600),
        ..ProcessOptions::default()
    };
    let hooks = Hooks::start_with(&db, Some(options)).await;
    let store = &hooks.app.store;
    let order = submitted_order(
        store,
        UQPAY,
        ProviderKind::Uqpay,
        json!({"card_id": "c-8", "card_order_id": "o-8"}),
    )
    .await;

    // Act
    hooks
        .post_uqpay(&uqpay_event("card.create.succeeded", &id(), "c-8", "o-8"))
        .await;

    // Assert
    wait_until(
        "the order to be issued",
        Duration::from_secs(30),
        || async { store.order_get(order).await.unwrap().unwrap().state == OrderState::Issued },
    )
    .await;
    hooks.shutdown().await;
}

async fn a_qi_postpaid_card_is_matched_by_its_postpaid_card_key(db: TestDb) {
    let hooks = Hooks::start(&db).await;
    let order = submitted_order(
        &hooks.app.store,
        QI_PREPAID,
        ProviderKind::QitechPostpaid,
        json!({"payment_instrument_key": "pi-1", "postpaid_card_key": "pc-1", "owner_person_key": "op"}),
    )
    .await;
    // QI spells the postpaid card webhook `pospaid`.
    let body = json!({
        "webhook_type": "baas.pospaid_card.card",
        "event_datetime": "2026-11-21T10:00:00.000Z",
        "data": {"card_key": "pc-1", "status": "active", "old_status": "created"},
    })
    .to_string();

    assert_eq!(hooks.post_qitech(&body).await, 200);
    let report = hooks.process().await;

    assert_eq!(report.issued, 1);
    assert_eq!(hooks.state(order).await, OrderState::Issued);
}

async fn an_event_for_an_order_under_review_is_kept_on_it_as_a_mismatch(db: TestDb) {
    // Arrange: an order an operator is to look at, holding its card's refs.
    let hooks = Hooks::start(&db).await;
    queued_order(&hooks.app.store, UQPAY, ProviderKind::Uqpay).await;
    let order = claim(&hooks.app.store, UQPAY).await;
    let applied = hooks
        .app
        .store
        .order_complete_many(
            "w",
            &[Completion {
                order_id: order,
                state: OrderState::NeedsReview,
                next_attempt_at: None,
                provider_refs: Some(
                    ProviderRefs::new()
                        .with(ProviderRefs::CARD_ID, "c-9")
                        .with(ProviderRefs::CARD_ORDER_ID, "o-9"),
                ),
                error: Some(("no_confirmation".into(), "nothing confirmed it".into())),
                attempts: Vec::new(),
                nothing_sent: false,
            }],
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(applied, vec![true]);

    // Act: the provider's word arrives after all.
    hooks
        .post_uqpay(&uqpay_event("card.create.succeeded", &id(), "c-9", "o-9"))
        .await;
    hooks.process().await;

    // Assert: the order stays with the operator, who now sees what the provider said.
    assert_eq!(hooks.state(order).await, OrderState::NeedsReview);
    let batch = hooks
        .app
        .store
        .order_get(order)
        .await
        .unwrap()
        .unwrap()
        .batch_id;
    let report = cardbatch::reconcile::report(&hooks.app.store, Some(batch))
        .await
        .unwrap();
    let mismatches = &report.batches[0].mismatches;
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert_eq!(mismatches[0].order_id, order);
    assert!(
        mismatches[0].note.contains("now says issued")
            && mismatches[0].note.contains("needs_review"),
        "{}",
        mismatches[0].note
    );
}

on_both_engines!(
    qi_active_arriving_before_created_ends_issued,
    a_late_failure_never_moves_an_issued_order_back,
    a_creation_failure_fails_the_order_with_the_reason,
    a_webhook_before_the_create_answer_is_matched_once_the_refs_are_recorded,
    an_event_for_an_unknown_card_is_kept_and_reported,
    the_processor_loop_is_woken_by_a_new_event,
    a_qi_postpaid_card_is_matched_by_its_postpaid_card_key,
    an_event_for_an_order_under_review_is_kept_on_it_as_a_mismatch,
);
