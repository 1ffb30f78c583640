//! The queue operations of the store: claim, lease, complete (fenced), release.

use crate::support::{TestDb, orders, submit};
use cardbatch::domain::{OrderState, ProviderRefs};
use cardbatch::store::{AttemptKind, AttemptOutcome, AttemptRecord, Completion, Engine, Store};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(60);
/// Orders are created at 1,000 ms (see `support::new_batch`), so they are due from then on.
const NOW: i64 = 10_000;

on_both_engines!(
    a_claim_takes_due_orders_of_its_profile_only_and_counts_the_attempt,
    an_order_is_not_claimed_twice_while_its_lease_runs,
    an_expired_lease_is_taken_over_and_flagged_unknown,
    an_order_in_doubt_comes_back_when_due_flagged_unknown,
    a_completion_from_a_worker_that_lost_its_lease_is_refused,
    a_retry_is_not_due_before_its_time,
    releasing_restores_the_previous_state_and_attempt_count,
    completions_record_attempt_rows_and_failing_orders_show_in_the_status,
    an_order_cannot_be_completed_back_into_the_queue,
    an_extended_lease_keeps_the_order_from_a_takeover,
    a_waiting_worker_is_woken_when_orders_are_queued,
    calls_made_outside_a_completion_are_recorded_too,
    requeued_dead_orders_are_due_again_and_needs_review_ones_are_resolved_first,
    a_providers_message_is_shown_with_personal_data_masked,
);

fn done(order_id: i64, state: OrderState) -> Completion {
    Completion {
        order_id,
        state,
        next_attempt_at: None,
        provider_refs: None,
        error: None,
        attempts: Vec::new(),
        nothing_sent: false,
    }
}

async fn claim(
    store: &Store,
    worker: &str,
    limit: u32,
    now: i64,
) -> Vec<cardbatch::store::ClaimedOrder> {
    store
        .order_claim_due("uqpay", worker, limit, LEASE, now)
        .await
        .unwrap()
}

async fn a_claim_takes_due_orders_of_its_profile_only_and_counts_the_attempt(db: TestDb) {
    // Arrange
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 5)).await;
    submit(&store, "qi", orders("b", 5)).await;

    // Act
    let first = claim(&store, "w1", 3, NOW).await;
    let second = claim(&store, "w1", 10, NOW).await;

    // Assert
    assert_eq!(first.len(), 3);
    assert_eq!(second.len(), 2);
    assert!(
        first
            .iter()
            .chain(&second)
            .all(|o| o.order.profile == "uqpay" && o.attempt == 1)
    );
    assert!(first.iter().all(|o| !o.previous_outcome_unknown));
    assert_eq!(first[0].order.order_ref, "a-0");
    assert_eq!(first[0].order.idempotency_key, "idem-a-0");
    assert_eq!(first[0].order.payload["line"], 2);
    assert!(
        first.iter().all(|o| o.order.queued_at_ms == 1_000),
        "the batch's queueing time"
    );
    let counts = store.order_count_by_state().await.unwrap();
    assert_eq!(counts.get(&OrderState::InFlight), Some(&5));
    assert_eq!(counts.get(&OrderState::Queued), Some(&5));
}

async fn an_order_is_not_claimed_twice_while_its_lease_runs(db: TestDb) {
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 4)).await;

    let first = claim(&store, "w1", 10, NOW).await;
    let just_before_expiry = claim(&store, "w2", 10, NOW + LEASE.as_millis() as i64 - 1).await;

    assert_eq!(first.len(), 4);
    assert!(just_before_expiry.is_empty());
}

async fn an_expired_lease_is_taken_over_and_flagged_unknown(db: TestDb) {
    // Arrange: w1 claims, passes the fence (its create leaves) and dies.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 1)).await;
    let dead = claim(&store, "w1", 1, NOW).await;
    let fence = store
        .order_fence_send("w1", &[dead[0].id], NOW, NOW + 1)
        .await
        .unwrap();
    assert_eq!(fence, vec![cardbatch::store::SendFence::Send]);

    // Act
    let taken = claim(&store, "w2", 1, NOW + LEASE.as_millis() as i64).await;

    // Assert
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].id, dead[0].id);
    assert_eq!(taken[0].attempt, 2);
    assert!(taken[0].previous_outcome_unknown);
}

async fn an_order_in_doubt_comes_back_when_due_flagged_unknown(db: TestDb) {
    // Arrange: the first call's answer was lost; the resolution is due 500 ms later.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 2)).await;
    let first = claim(&store, "w1", 1, NOW).await;
    let mut doubt = done(first[0].id, OrderState::InDoubt);
    doubt.next_attempt_at = Some(NOW + 500);
    doubt.error = Some(("timeout".into(), "no answer".into()));
    let applied = store
        .order_complete_many("w1", &[doubt], NOW)
        .await
        .unwrap();
    assert_eq!(applied, vec![true]);

    // Act: a claim before the resolution is due, then one after.
    let early = claim(&store, "w2", 10, NOW + 499).await;
    let late = claim(&store, "w2", 10, NOW + 500).await;

    // Assert: the early claim only got the other (queued) order; the late one got the order in
    // doubt, flagged so that the provider layer resolves before re-sending.
    assert_eq!(early.len(), 1);
    assert_ne!(early[0].id, first[0].id);
    assert!(!early[0].previous_outcome_unknown);
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].id, first[0].id);
    assert_eq!(late[0].attempt, 2);
    assert!(late[0].previous_outcome_unknown);
}

async fn a_completion_from_a_worker_that_lost_its_lease_is_refused(db: TestDb) {
    // Arrange: w1's order is taken over by w2.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 2)).await;
    let mine = claim(&store, "w1", 2, NOW).await;
    let later = NOW + LEASE.as_millis() as i64;
    let taken_id = store
        .order_claim_due("uqpay", "w2", 1, LEASE, later)
        .await
        .unwrap()[0]
        .id;
    let kept_id = if taken_id == mine[0].id {
        mine[1].id
    } else {
        mine[0].id
    };

    // Act: w1 completes both; one is still its own.
    let applied = store
        .order_complete_many(
            "w1",
            &[
                done(taken_id, OrderState::Submitted),
                done(kept_id, OrderState::Submitted),
            ],
            later,
        )
        .await
        .unwrap();

    // Assert: the taken-over order stays with w2.
    assert_eq!(applied, vec![false, true]);
    let taken = store.order_get(taken_id).await.unwrap().unwrap();
    assert_eq!(taken.state, OrderState::InFlight);
    let kept = store.order_get(kept_id).await.unwrap().unwrap();
    assert_eq!(kept.state, OrderState::Submitted);
}

async fn a_retry_is_not_due_before_its_time(db: TestDb) {
    // Arrange
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 1)).await;
    let o = claim(&store, "w1", 1, NOW).await.remove(0);
    let mut retry = done(o.id, OrderState::RetryWait);
    retry.next_attempt_at = Some(NOW + 5_000);
    retry.error = Some(("CARD000009".into(), "busy".into()));
    store
        .order_complete_many("w1", &[retry], NOW)
        .await
        .unwrap();

    // Act
    let early = claim(&store, "w1", 1, NOW + 4_999).await;
    let due = claim(&store, "w1", 1, NOW + 5_000).await;

    // Assert
    assert!(early.is_empty());
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempt, 2);
    assert!(!due[0].previous_outcome_unknown);
}

async fn releasing_restores_the_previous_state_and_attempt_count(db: TestDb) {
    // Arrange: one order waits for a retry, one is queued, one belongs to a dead worker that
    // had sent its create.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 3)).await;
    let first = claim(&store, "w0", 1, NOW).await.remove(0);
    let mut retry = done(first.id, OrderState::RetryWait);
    retry.next_attempt_at = Some(NOW + 1);
    store
        .order_complete_many("w0", &[retry], NOW)
        .await
        .unwrap();
    let orphan = claim(&store, "dead", 1, NOW).await.remove(0);
    store
        .order_fence_send("dead", &[orphan.id], NOW, NOW + 1)
        .await
        .unwrap();
    let later = NOW + LEASE.as_millis() as i64 + 10;
    let claimed = claim(&store, "w1", 10, later).await;
    assert_eq!(claimed.len(), 3);
    let started = claimed
        .iter()
        .find(|o| o.order.order_ref == "a-2")
        .unwrap()
        .id;

    // Act: w1 started a-2 only.
    let released = store
        .order_release_unstarted("uqpay", "w1", &[started], later)
        .await
        .unwrap();

    // Assert
    assert_eq!(released, 2);
    let retried = store.order_get(first.id).await.unwrap().unwrap();
    assert_eq!(
        (retried.state, retried.attempts),
        (OrderState::RetryWait, 1)
    );
    let orphan_row = store.order_get(orphan.id).await.unwrap().unwrap();
    assert_eq!(
        (orphan_row.state, orphan_row.attempts),
        (OrderState::InFlight, 1)
    );
    let kept = store.order_get(started).await.unwrap().unwrap();
    assert_eq!((kept.state, kept.attempts), (OrderState::InFlight, 1));
    // The orphan is still claimable at once, and still flagged unknown.
    let again = claim(&store, "w2", 10, later).await;
    let ids: Vec<i64> = again.iter().map(|o| o.id).collect();
    assert_eq!(ids, vec![first.id, orphan.id]);
    assert!(
        again
            .iter()
            .find(|o| o.id == orphan.id)
            .unwrap()
            .previous_outcome_unknown
    );
}

async fn completions_record_attempt_rows_and_failing_orders_show_in_the_status(db: TestDb) {
    // Arrange
    let store = db.store().await;
    let batch = submit(&store, "uqpay", orders("a", 3)).await;
    let claimed = claim(&store, "w1", 3, NOW).await;
    let call = AttemptRecord {
        kind: Some(AttemptKind::Create),
        attempt_no: 1,
        started_at_ms: NOW,
        duration_ms: 42,
        http_status: Some(400),
        provider_code: Some("card.invalid".into()),
        outcome: AttemptOutcome::Permanent,
        message: Some("bad holder".into()),
    };
    let mut rejected = done(claimed[0].id, OrderState::Rejected);
    rejected.error = Some(("card.invalid".into(), "bad holder".into()));
    rejected.attempts = vec![call.clone()];
    let mut submitted = done(claimed[1].id, OrderState::Submitted);
    submitted.provider_refs = Some(ProviderRefs::new().with("card_order_id", "co-1"));
    let dead = done(claimed[2].id, OrderState::Dead);

    // Act
    store
        .order_complete_many("w1", &[rejected, submitted, dead], NOW)
        .await
        .unwrap();

    // Assert
    assert_eq!(store.attempt_list(claimed[0].id).await.unwrap(), vec![call]);
    let status = store.batch_status(batch.batch_id).await.unwrap();
    let failing: Vec<(&str, OrderState)> = status
        .failing
        .iter()
        .map(|o| (o.order_ref.as_str(), o.state))
        .collect();
    assert_eq!(
        failing,
        vec![("a-0", OrderState::Rejected), ("a-2", OrderState::Dead)]
    );
    assert_eq!(
        status.failing[0].last_error_code.as_deref(),
        Some("card.invalid")
    );
    let sub = store.order_get(claimed[1].id).await.unwrap().unwrap();
    assert_eq!(
        sub.provider_refs,
        Some(ProviderRefs::new().with("card_order_id", "co-1"))
    );
    let only_dead = store
        .order_list(batch.batch_id, Some(OrderState::Dead))
        .await
        .unwrap();
    assert_eq!(only_dead.len(), 1);
}

async fn an_order_cannot_be_completed_back_into_the_queue(db: TestDb) {
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 1)).await;
    let o = claim(&store, "w1", 1, NOW).await.remove(0);

    let err = store
        .order_complete_many("w1", &[done(o.id, OrderState::Queued)], NOW)
        .await;

    assert!(err.is_err());
    assert_eq!(
        store.order_get(o.id).await.unwrap().unwrap().state,
        OrderState::InFlight
    );
}

async fn an_extended_lease_keeps_the_order_from_a_takeover(db: TestDb) {
    // Arrange: w1 holds two orders; its lease would end at NOW + 60 s.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 2)).await;
    claim(&store, "w1", 2, NOW).await;
    let lease_ms = LEASE.as_millis() as i64;

    // Act: at NOW + 50 s, w1 extends to NOW + 110 s.
    let extended = store
        .order_lease_extend("uqpay", "w1", NOW + 50_000 + lease_ms)
        .await
        .unwrap();
    let other_worker = store
        .order_lease_extend("uqpay", "w2", NOW + 999_999)
        .await
        .unwrap();

    // Assert: nobody takes them at the old deadline; at the new one, they are taken over.
    assert_eq!((extended, other_worker), (2, 0));
    assert!(claim(&store, "w2", 10, NOW + lease_ms).await.is_empty());
    assert_eq!(
        claim(&store, "w2", 10, NOW + 50_000 + lease_ms).await.len(),
        2
    );
}

/// The heartbeat never waits for a row another transaction is writing (on Postgres). Before, it
/// locked the rows it had extended and waited for the one a completion group held, while the
/// group waited for one of those: a deadlock, one of them failed after `deadlock_timeout`. Here
/// the "group" holds the second order's row and, after the heartbeat, writes the first one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_heartbeat_skips_a_row_being_written_instead_of_deadlocking_with_it() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // Arrange: w1 holds two orders; another transaction holds the second one's row.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 2)).await;
    let held = claim(&store, "w1", 2, NOW).await;
    let (first, second) = (held[0].id, held[1].id);
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let mut group = pool.begin().await.unwrap();
    // language=PostgreSQL
    const TOUCH: &str = "UPDATE orders SET updated_at = updated_at + 1 WHERE id = $1";
    sqlx::query(TOUCH)
        .bind(second)
        .execute(&mut *group)
        .await
        .unwrap();
    let later = NOW + 50_000;

    // Act: the heartbeat runs while the second row is held (a hang here is the bug: it would
    // wait for the group, which only ends after it); then the group writes the first row too.
    let extended = tokio::time::timeout(
        Duration::from_secs(60),
        store.order_lease_extend("uqpay", "w1", later),
    )
    .await
    .expect("the heartbeat waited for a row being written")
    .unwrap();
    sqlx::query(TOUCH)
        .bind(first)
        .execute(&mut *group)
        .await
        .expect("the group's write of the first row goes through");
    group.commit().await.unwrap();

    // Assert: the first order's lease was extended, the second (held) is left to the next beat.
    assert_eq!(extended, 1);
    let lease = |id: i64| {
        let pool = pool.clone();
        async move {
            // language=PostgreSQL
            const SQL: &str = "SELECT lease_expires_at FROM orders WHERE id = $1";
            let (at,): (Option<i64>,) =
                sqlx::query_as(SQL).bind(id).fetch_one(&pool).await.unwrap();
            at
        }
    };
    assert_eq!(lease(first).await, Some(later));
    assert_ne!(lease(second).await, Some(later));
    assert_eq!(
        store
            .order_lease_extend("uqpay", "w1", later)
            .await
            .unwrap(),
        2
    );
}

async fn a_waiting_worker_is_woken_when_orders_are_queued(db: TestDb) {
    // Arrange: on Postgres the orders come from another store (another process, as far as the
    // database can tell), so only LISTEN/NOTIFY can wake the waiter; on SQLite, which has no
    // cross-process notification, they come from the same store.
    let store = db.store().await;
    let mut signal = store.work_signal();
    let writer_store = match store.engine() {
        Engine::Postgres => {
            // The listener announces itself once it is listening.
            assert!(
                signal.wait(Duration::from_secs(60)).await,
                "the LISTEN connection came up"
            );
            db.store().await
        }
        Engine::Sqlite => store.clone(),
    };
    signal.mark_seen();

    // Act
    submit(&writer_store, "uqpay", orders("w", 1)).await;
    let woken = signal.wait(Duration::from_secs(60)).await;

    // Assert
    assert!(woken);
}

async fn calls_made_outside_a_completion_are_recorded_too(db: TestDb) {
    // Arrange: an order in doubt, and a reconciler's two lookups.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 1)).await;
    let o = claim(&store, "w1", 1, NOW).await.remove(0);
    let lookup = |n: u32, status: Option<u16>| AttemptRecord {
        kind: Some(AttemptKind::Lookup),
        attempt_no: n,
        started_at_ms: NOW + i64::from(n),
        duration_ms: 5,
        http_status: status,
        provider_code: None,
        outcome: AttemptOutcome::Unknown,
        message: None,
    };
    let calls = vec![lookup(1, None), lookup(1, Some(404))];

    // Act
    store.attempt_insert_many(o.id, &calls).await.unwrap();

    // Assert
    assert_eq!(store.attempt_list(o.id).await.unwrap(), calls);
}

async fn requeued_dead_orders_are_due_again_and_needs_review_ones_are_resolved_first(db: TestDb) {
    // Arrange: one order dead, one needing review.
    let store = db.store().await;
    let batch = submit(&store, "uqpay", orders("rq", 2)).await;
    let claimed = claim(&store, "w1", 2, NOW).await;
    let id_of = |r: &str| claimed.iter().find(|o| o.order.order_ref == r).unwrap().id;
    let (dead, review) = (id_of("rq-0"), id_of("rq-1"));
    store
        .order_complete_many(
            "w1",
            &[
                done(dead, OrderState::Dead),
                done(review, OrderState::NeedsReview),
            ],
            NOW,
        )
        .await
        .unwrap();

    // Act
    let requeued_dead = store
        .order_requeue(batch.batch_id, OrderState::Dead, NOW + 1)
        .await
        .unwrap();
    let requeued_review = store
        .order_requeue(batch.batch_id, OrderState::NeedsReview, NOW + 1)
        .await
        .unwrap();
    let refused = store
        .order_requeue(batch.batch_id, OrderState::Issued, NOW + 1)
        .await;

    // Assert: dead -> queued, needs_review -> in doubt, both with their attempts counted afresh;
    // claimed again, the one that needed review is flagged for resolution before any re-send.
    assert_eq!((requeued_dead, requeued_review), (1, 1));
    assert!(refused.is_err());
    let rows = store.order_list(batch.batch_id, None).await.unwrap();
    let state_of = |id: i64| rows.iter().find(|r| r.id == id).unwrap();
    assert_eq!(state_of(dead).state, OrderState::Queued);
    assert_eq!(state_of(review).state, OrderState::InDoubt);
    assert!(rows.iter().all(|r| r.attempts == 0));
    let again = claim(&store, "w2", 2, NOW + 1).await;
    assert_eq!(again.len(), 2);
    for order in &again {
        assert_eq!(order.attempt, 1);
        assert_eq!(
            order.previous_outcome_unknown,
            order.id == review,
            "{order:?}"
        );
    }
}

async fn a_providers_message_is_shown_with_personal_data_masked(db: TestDb) {
    // Arrange: a refusal whose message echoes what was sent.
    let store = db.store().await;
    let batch = submit(&store, "uqpay", orders("m", 1)).await;
    let claimed = claim(&store, "w1", 1, NOW).await;
    let mut refused = done(claimed[0].id, OrderState::Rejected);
    refused.error = Some((
        "QIT000001".into(),
        "document 529.982.247-25 of joao.silva@example.com is invalid".into(),
    ));
    store
        .order_complete_many("w1", &[refused], NOW)
        .await
        .unwrap();

    // Act
    let status = store.batch_status(batch.batch_id).await.unwrap();

    // Assert: `status`, `orders`, `export` and the report read it masked.
    let shown = status.failing[0].last_error_message.clone().unwrap();
    assert_eq!(
        shown,
        "document ***.***.***-25 of j***@example.com is invalid"
    );
    assert_eq!(
        status.failing[0].last_error_code.as_deref(),
        Some("QIT000001")
    );
}
