//! The operator's controls on the store: a batch's state gates the claim (pause, resume,
//! approval), cancel leaves in-flight orders alone, maker-checker, tokens, the audit log, and
//! keyset pages of orders.

use crate::support::{TestDb, new_batch, orders, submit};
use cardbatch::control::{self, Action, ControlError};
use cardbatch::domain::{BatchState, OrderState, Role};
use cardbatch::store::{ClaimedOrder, Error, Store};
use std::time::Duration;
use uuid::Uuid;

const LEASE: Duration = Duration::from_secs(60);
/// Orders are created at 1,000 ms (see `support::new_batch`), so they are due from then on.
const NOW: i64 = 10_000;

on_both_engines!(
    a_paused_batch_is_not_claimed_and_resuming_makes_it_claimable,
    cancel_turns_only_unsent_orders_into_canceled,
    a_batch_held_for_approval_is_released_only_by_someone_else,
    tokens_are_found_by_hash_until_revoked,
    every_action_is_audited_with_its_outcome,
    orders_come_in_keyset_pages_filtered_by_state_and_reference,
    a_batchs_totals_are_stored_with_it_and_summed_for_older_batches,
    refs_found_by_hand_are_attached_only_to_an_order_needing_review,
);

async fn claim(store: &Store, limit: u32) -> Vec<ClaimedOrder> {
    store
        .order_claim_due("uqpay", "w1", limit, LEASE, NOW)
        .await
        .unwrap()
}

async fn a_paused_batch_is_not_claimed_and_resuming_makes_it_claimable(db: TestDb) {
    // Arrange
    let store = db.store().await;
    let paused = submit(&store, "uqpay", orders("p", 3)).await.batch_id;
    let other = submit(&store, "uqpay", orders("o", 2)).await.batch_id;

    // Act
    store.batch_pause(paused, Some("looking")).await.unwrap();
    let while_paused = claim(&store, 10).await;

    // Assert: only the other batch's orders were claimed; the paused batch shows its state.
    assert_eq!(while_paused.len(), 2);
    assert!(while_paused.iter().all(|o| o.batch_id == other));
    let control = store.batch_control(paused).await.unwrap();
    assert_eq!(control.state, BatchState::Paused);
    assert_eq!(control.state_reason.as_deref(), Some("looking"));
    let listed = store.batch_list().await.unwrap();
    let shown = listed.iter().find(|b| b.id == paused).unwrap();
    assert_eq!(shown.state, BatchState::Paused);
    // Pausing twice is refused with the state.
    assert!(matches!(
        store.batch_pause(paused, None).await,
        Err(Error::BatchStateForbids {
            state: BatchState::Paused,
            ..
        })
    ));

    // Act: resume.
    store.batch_resume(paused, None).await.unwrap();
    let after = claim(&store, 10).await;

    // Assert
    assert_eq!(after.len(), 3);
    assert!(after.iter().all(|o| o.batch_id == paused));
    assert!(matches!(
        store.batch_resume(paused, None).await,
        Err(Error::BatchStateForbids {
            state: BatchState::Active,
            ..
        })
    ));
}

async fn cancel_turns_only_unsent_orders_into_canceled(db: TestDb) {
    // Arrange: one order in flight, one waiting for a retry, two queued.
    let store = db.store().await;
    let batch = submit(&store, "uqpay", orders("c", 4)).await.batch_id;
    let claimed = claim(&store, 2).await;
    let in_flight = claimed[0].id;
    store
        .order_complete_many(
            "w1",
            &[cardbatch::store::Completion {
                order_id: claimed[1].id,
                state: OrderState::RetryWait,
                next_attempt_at: Some(NOW + 1_000),
                provider_refs: None,
                error: Some(("E".into(), "transient".into())),
                attempts: Vec::new(),
                nothing_sent: false,
            }],
            NOW,
        )
        .await
        .unwrap();

    // Act
    let canceled = store.batch_cancel(batch, None, NOW).await.unwrap();

    // Assert
    assert_eq!(canceled, 3);
    let rows = store.order_list(batch, None).await.unwrap();
    let state_of = |id: i64| rows.iter().find(|o| o.id == id).unwrap().state;
    assert_eq!(state_of(in_flight), OrderState::InFlight);
    assert_eq!(
        rows.iter()
            .filter(|o| o.state == OrderState::Canceled)
            .count(),
        3
    );
    assert_eq!(state_of(claimed[1].id), OrderState::Canceled);
    assert_eq!(
        store.batch_control(batch).await.unwrap().state,
        BatchState::Canceled
    );
    // Nothing of the batch is claimable any more, and it cannot be canceled or resumed again.
    assert!(claim(&store, 10).await.is_empty());
    assert!(matches!(
        store.batch_cancel(batch, None, NOW).await,
        Err(Error::BatchStateForbids { .. })
    ));
    assert!(matches!(
        store.batch_cancel(Uuid::new_v4(), None, NOW).await,
        Err(Error::BatchNotFound(_))
    ));
}

async fn a_batch_held_for_approval_is_released_only_by_someone_else(db: TestDb) {
    // Arrange: a batch written as ingest writes one over the approval threshold.
    let store = db.store().await;
    let mut writer = store.batch_writer(&new_batch("uqpay")).await.unwrap();
    for o in orders("a", 3) {
        writer.push(o).await.unwrap();
    }
    writer
        .set_control(BatchState::AwaitingApproval, Some("over"), "token:maker")
        .await
        .unwrap();
    let batch = writer.commit().await.unwrap().batch_id;
    assert!(
        claim(&store, 10).await.is_empty(),
        "held orders were claimed"
    );

    // Act: the submitter tries first.
    let own = control::perform(&store, "token:maker", batch, &Action::Approve, NOW).await;

    // Assert
    assert!(matches!(own, Err(ControlError::SelfApproval(_))), "{own:?}");
    assert!(claim(&store, 10).await.is_empty());

    // Act: someone else.
    control::perform(&store, "token:checker", batch, &Action::Approve, NOW)
        .await
        .unwrap();

    // Assert
    assert_eq!(claim(&store, 10).await.len(), 3);
    let again = control::perform(&store, "token:other", batch, &Action::Approve, NOW).await;
    assert!(matches!(again, Err(ControlError::Conflict(_))), "{again:?}");
}

async fn tokens_are_found_by_hash_until_revoked(db: TestDb) {
    // Arrange
    let store = db.store().await;
    assert!(!store.api_token_any().await.unwrap());

    // Act
    let token = control::tokens::create(&store, "cli:root", "ops", Role::Operator, NOW)
        .await
        .unwrap();

    // Assert: found by its hash, never stored as given.
    let hash = control::tokens::hash(&token);
    let found = store.api_token_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!((found.name.as_str(), found.role), ("ops", Role::Operator));
    assert!(store.api_token_by_hash(&token).await.unwrap().is_none());
    assert!(store.api_token_any().await.unwrap());
    let taken = control::tokens::create(&store, "cli:root", "ops", Role::Admin, NOW).await;
    assert!(matches!(taken, Err(ControlError::Conflict(_))), "{taken:?}");

    // Act: revoke.
    assert!(
        control::tokens::revoke(&store, "cli:root", "ops", NOW)
            .await
            .unwrap()
    );

    // Assert
    assert!(store.api_token_by_hash(&hash).await.unwrap().is_none());
    assert!(!store.api_token_any().await.unwrap());
    let listed = store.api_token_list().await.unwrap();
    assert_eq!(listed[0].revoked_at_ms, Some(NOW));
}

async fn every_action_is_audited_with_its_outcome(db: TestDb) {
    // Arrange
    let store = db.store().await;
    let batch = submit(&store, "uqpay", orders("x", 2)).await.batch_id;

    // Act
    control::perform(&store, "cli:ana", batch, &Action::Pause, NOW)
        .await
        .unwrap();
    let refused = control::perform(&store, "cli:ana", batch, &Action::Pause, NOW + 1).await;
    let missing =
        control::perform(&store, "cli:ana", Uuid::new_v4(), &Action::Cancel, NOW + 2).await;
    let unconfirmed = Action::Requeue {
        state: OrderState::NeedsReview,
        confirm: false,
    };
    let needs_confirm = control::perform(&store, "token:ops", batch, &unconfirmed, NOW + 3).await;

    // Assert
    assert!(matches!(refused, Err(ControlError::Conflict(_))));
    assert!(matches!(missing, Err(ControlError::NotFound(_))));
    assert!(matches!(needs_confirm, Err(ControlError::Conflict(_))));
    let log = store.audit_list(10, None).await.unwrap();
    let seen: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|r| {
            (
                r.entry.actor.as_str(),
                r.entry.action.as_str(),
                r.entry.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("token:ops", "requeue", "refused"),
            ("cli:ana", "cancel", "refused"),
            ("cli:ana", "pause", "refused"),
            ("cli:ana", "pause", "ok"),
        ]
    );
    assert_eq!(log[3].entry.batch_id, Some(batch));
    // Keyset: the page after the second-newest row.
    let older = store.audit_list(10, Some(log[1].id)).await.unwrap();
    assert_eq!(older.len(), 2);
}

async fn orders_come_in_keyset_pages_filtered_by_state_and_reference(db: TestDb) {
    // Arrange
    let store = db.store().await;
    let batch = submit(&store, "uqpay", orders("k", 5)).await.batch_id;
    submit(&store, "uqpay", orders("z", 3)).await;
    claim(&store, 1).await;

    // Act
    let first = store.order_page(batch, None, None, None, 2).await.unwrap();
    let second = store
        .order_page(batch, None, None, Some(first[1].id), 2)
        .await
        .unwrap();
    let last = store
        .order_page(batch, None, None, Some(second[1].id), 2)
        .await
        .unwrap();
    let queued = store
        .order_page(batch, Some(OrderState::Queued), None, None, 10)
        .await
        .unwrap();
    let by_ref = store
        .order_page(batch, None, Some("k-3"), None, 10)
        .await
        .unwrap();
    let wildcard = store
        .order_page(batch, None, Some("%"), None, 10)
        .await
        .unwrap();

    // Assert
    let refs = |rows: &[cardbatch::store::OrderRow]| {
        rows.iter().map(|o| o.order_ref.clone()).collect::<Vec<_>>()
    };
    assert_eq!(refs(&first), ["k-0", "k-1"]);
    assert_eq!(refs(&second), ["k-2", "k-3"]);
    assert_eq!(refs(&last), ["k-4"]);
    assert_eq!(queued.len(), 4);
    assert_eq!(refs(&by_ref), ["k-3"]);
    assert!(wildcard.is_empty(), "`%` is matched literally");
}

async fn a_batchs_totals_are_stored_with_it_and_summed_for_older_batches(db: TestDb) {
    // Arrange: two batches of 12.50 USD orders; one is made to look like a batch written before
    // totals were stored with it.
    let store = db.store().await;
    let stored = submit(&store, "uqpay", orders("t", 4)).await.batch_id;
    let legacy = submit(&store, "uqpay", orders("l", 2)).await.batch_id;
    // language=SQL
    let forget = "UPDATE batches SET totals = NULL WHERE id = $1";
    if db.url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query(forget)
            .bind(legacy.to_string())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query(forget)
            .bind(legacy.to_string())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    // Act
    let list = store.batch_list().await.unwrap();
    let one = store.batch_summary(legacy).await.unwrap();

    // Assert
    let totals = |id: Uuid| {
        list.iter()
            .find(|b| b.id == id)
            .unwrap()
            .totals_minor
            .clone()
    };
    assert_eq!(totals(stored).get("USD"), Some(&5_000));
    assert_eq!(totals(legacy).get("USD"), Some(&2_500));
    assert_eq!(one.totals_minor.get("USD"), Some(&2_500));
    assert_eq!(
        store
            .batch_summary(stored)
            .await
            .unwrap()
            .totals_minor
            .get("USD"),
        Some(&5_000)
    );
}

async fn refs_found_by_hand_are_attached_only_to_an_order_needing_review(db: TestDb) {
    // Arrange: one order needs review, one is still queued.
    let store = db.store().await;
    let batch = submit(&store, "uqpay", orders("h", 2)).await.batch_id;
    let review = claim(&store, 1).await.remove(0).id;
    store
        .order_complete_many(
            "w1",
            &[cardbatch::store::Completion {
                order_id: review,
                state: OrderState::NeedsReview,
                next_attempt_at: None,
                provider_refs: None,
                error: Some(("unresolved".into(), "no answer".into())),
                attempts: Vec::new(),
                nothing_sent: false,
            }],
            NOW,
        )
        .await
        .unwrap();
    let queued = store
        .order_list(batch, Some(OrderState::Queued))
        .await
        .unwrap()[0]
        .id;
    let refs = cardbatch::domain::ProviderRefs::new().with("card_id", "c-found");

    // Act
    let wrong = control::attach(&store, "cli:ana", queued, &refs, NOW).await;
    let missing = control::attach(&store, "cli:ana", 999_999, &refs, NOW).await;
    control::attach(&store, "cli:ana", review, &refs, NOW + 1)
        .await
        .unwrap();

    // Assert
    assert!(matches!(wrong, Err(ControlError::Conflict(_))), "{wrong:?}");
    assert!(
        matches!(missing, Err(ControlError::OrderNotFound(_))),
        "{missing:?}"
    );
    let order = store.order_get(review).await.unwrap().unwrap();
    assert_eq!(order.state, OrderState::Submitted);
    assert_eq!(
        order.card_ref.as_deref(),
        Some("c-found"),
        "webhooks find it by its card"
    );
    assert_eq!(order.provider_refs.unwrap().get("card_id"), Some("c-found"));
    assert_eq!(order.last_error_code, None);
    let log = store.audit_list(3, None).await.unwrap();
    assert_eq!(
        (log[0].entry.action.as_str(), log[0].entry.outcome.as_str()),
        ("attach", "ok")
    );
    assert_eq!(log[0].entry.order_id, Some(review));
    assert_eq!(log[0].entry.batch_id, Some(batch));
    assert_eq!(log[2].entry.outcome, "refused");
    // Attaching again is refused: it no longer needs review.
    let again = control::attach(&store, "cli:ana", review, &refs, NOW + 2).await;
    assert!(matches!(again, Err(ControlError::Conflict(_))), "{again:?}");
}
