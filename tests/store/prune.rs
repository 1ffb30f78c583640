//! Retention in the store: the personal data of settled orders (payloads, webhook bodies) is
//! replaced and everything else kept; a dry run only counts; a pruned or a deleted batch's file
//! re-uploaded ingests nothing.

use crate::support::{TestDb, completion, orders, settlement, submit};
use cardbatch::config::{DEFAULT_SANDBOX_ADDR, Profile};
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::ingest::{SubmitOptions, SubmitOutcome, SubmitReport, submit as submit_csv};
use cardbatch::store::{
    Completion, EventOutcome, EventSettlement, NewWebhookEvent, PRUNED, PruneCount, Store,
};
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

const LEASE: Duration = Duration::from_secs(60);
const NOW: i64 = 10_000;

on_both_engines!(
    prune_replaces_the_personal_data_of_settled_orders_and_keeps_the_rest,
    a_pruned_batchs_file_reuploaded_ingests_nothing,
    a_deleted_batchs_file_reuploaded_ingests_nothing,
);

fn event(key: &str) -> NewWebhookEvent {
    NewWebhookEvent {
        endpoint: "uqpay".into(),
        event_key: key.into(),
        event_type: "card.create.succeeded".into(),
        profile: Some("uqpay".into()),
        body: format!(r#"{{"id":"{key}","cardholder":"Ana Souza","email":"ana@example.com"}}"#),
    }
}

async fn payload(store: &Store, order_id: i64) -> serde_json::Value {
    store
        .order_provider_view(order_id)
        .await
        .unwrap()
        .unwrap()
        .payload
}

async fn prune_replaces_the_personal_data_of_settled_orders_and_keeps_the_rest(db: TestDb) {
    // Arrange: six orders: two issued by webhook, one rejected (settled: pruned); one dead, one
    // waiting for a retry, one submitted (not settled: kept); one unmatched event.
    let store = db.store().await;
    submit(&store, "uqpay", orders("a", 6)).await;
    let claimed = store
        .order_claim_due("uqpay", "w1", 6, LEASE, NOW)
        .await
        .unwrap();
    let ids: Vec<i64> = claimed.iter().map(|o| o.id).collect();
    let outcomes = [
        OrderState::Submitted,
        OrderState::Submitted,
        OrderState::Rejected,
        OrderState::Dead,
        OrderState::RetryWait,
        OrderState::Submitted,
    ];
    let completions: Vec<Completion> = ids
        .iter()
        .zip(outcomes)
        .map(|(&id, s)| completion(id, s))
        .collect();
    store
        .order_complete_many("w1", &completions, NOW)
        .await
        .unwrap();
    let written = store
        .webhook_event_insert_many(&[event("e1"), event("e2"), event("e3")], NOW + 1_000)
        .await
        .unwrap();
    assert_eq!(written, vec![true; 3]);
    let pending = store.webhook_event_due(NOW + 1_000, 10).await.unwrap();
    let settlements: Vec<EventSettlement> = pending
        .iter()
        .zip([Some(ids[0]), Some(ids[1]), None])
        .map(|(e, order)| settlement(e.id, order))
        .collect();
    store
        .webhook_event_settle_many(&settlements, NOW + 2_000)
        .await
        .unwrap();
    let mut before = Vec::new();
    for &id in &ids {
        before.push(store.order_get(id).await.unwrap().unwrap());
    }
    assert_eq!(before[0].state, OrderState::Issued);
    let original = payload(&store, ids[0]).await;
    let counts_before = store.batch_list().await.unwrap();

    // Act: a cutoff before anything settled, a dry run, the prune, and the prune again.
    let too_early = store
        .order_prune_personal(NOW - 1, NOW + 100_000, false)
        .await
        .unwrap();
    let cutoff = NOW + 50_000;
    let dry = store
        .order_prune_personal(cutoff, NOW + 100_000, true)
        .await
        .unwrap();
    let untouched = payload(&store, ids[0]).await;
    let pruned = store
        .order_prune_personal(cutoff, NOW + 100_000, false)
        .await
        .unwrap();
    let again = store
        .order_prune_personal(cutoff, NOW + 100_000, false)
        .await
        .unwrap();

    // Assert: the dry run counted exactly what the prune then took, and changed nothing.
    assert_eq!(too_early, PruneCount::default());
    let expected = PruneCount {
        orders: 3,
        webhook_events: 3,
    };
    assert_eq!(dry, expected);
    assert_eq!(untouched, original);
    assert_eq!(pruned, expected);
    assert_eq!(again, PruneCount::default());
    let marker: serde_json::Value = serde_json::from_str(PRUNED).unwrap();
    for (i, &id) in ids.iter().enumerate() {
        let p = payload(&store, id).await;
        if i < 3 {
            assert_eq!(p, marker, "order {i}");
            assert!(!p.to_string().contains("holder"), "order {i}");
        } else {
            assert_ne!(p, marker, "order {i} is not settled");
            assert!(p["card_holder"].is_string(), "order {i}: {p}");
        }
        // Everything but the payload is as it was: order_ref, refs, amounts, state, times.
        let after = store.order_get(id).await.unwrap().unwrap();
        assert_eq!(after, before[i], "order {i}");
    }
    let mut events = store
        .webhook_event_list(EventOutcome::Matched)
        .await
        .unwrap();
    events.extend(
        store
            .webhook_event_list(EventOutcome::Unmatched)
            .await
            .unwrap(),
    );
    let mut keys: Vec<&str> = events.iter().map(|e| e.event_key.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["e1", "e2", "e3"], "the events stay, with their keys");
    for e in &events {
        assert_eq!(e.body, PRUNED, "{}", e.event_key);
    }
    let view = store.order_provider_view(ids[0]).await.unwrap().unwrap();
    assert_eq!(view.idempotency_key, "idem-a-0");
    assert_eq!(view.amount_minor, Some(1_250));
    assert_eq!(store.batch_list().await.unwrap(), counts_before);
}

async fn submit_file(store: &Store, path: &Path) -> SubmitReport {
    let provider = ProviderKind::AlchemypayVcc;
    let profile = Profile::sandbox(provider, DEFAULT_SANDBOX_ADDR);
    let file = std::fs::File::open(path).unwrap();
    submit_csv(
        store,
        provider.as_str(),
        &profile,
        path,
        file,
        SubmitOptions::default(),
    )
    .await
    .unwrap()
}

/// A file of `n` Alchemy Pay orders, submitted, and every order then rejected by the provider
/// (settled). Returns the file and the batch.
async fn settled_batch(
    store: &Store,
    dir: &tempfile::TempDir,
    n: u64,
) -> (std::path::PathBuf, Uuid) {
    let mut csv = String::from("order_ref,first_name,last_name,deposit\n");
    for i in 0..n {
        csv.push_str(&format!("P-{i},Ana,Souza,{}\n", 10 + i));
    }
    let path = dir.path().join("night.csv");
    std::fs::write(&path, csv).unwrap();
    let report = submit_file(store, &path).await;
    assert_eq!(report.insert.inserted, n);
    let now = chrono::Utc::now().timestamp_millis() + 1_000;
    let profile = ProviderKind::AlchemypayVcc.as_str();
    let claimed = store
        .order_claim_due(profile, "w1", n as u32, LEASE, now)
        .await
        .unwrap();
    assert_eq!(claimed.len() as u64, n);
    let completions: Vec<Completion> = claimed
        .iter()
        .map(|o| completion(o.id, OrderState::Rejected))
        .collect();
    store
        .order_complete_many("w1", &completions, now)
        .await
        .unwrap();
    (path, report.batch_id)
}

async fn a_pruned_batchs_file_reuploaded_ingests_nothing(db: TestDb) {
    // Arrange: a settled batch whose personal data is pruned.
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, batch) = settled_batch(&store, &dir, 40).await;
    let far = chrono::Utc::now().timestamp_millis() + 86_400_000;
    let pruned = store.order_prune_personal(far, far, false).await.unwrap();
    assert_eq!(pruned.orders, 40);

    // Act
    let again = submit_file(&store, &path).await;

    // Assert: every row a plain duplicate of the pruned batch (its content cannot be compared
    // any more, so none is reported as conflicting); nothing written.
    assert_eq!(again.outcome, SubmitOutcome::NothingNew);
    assert_eq!(again.insert.inserted, 0);
    assert_eq!(again.insert.duplicates, 40);
    assert_eq!(again.insert.conflicting, 0);
    assert_eq!(again.insert.duplicates_by_batch.get(&batch), Some(&40));
    assert_eq!(store.batch_list().await.unwrap().len(), 1);
}

async fn a_deleted_batchs_file_reuploaded_ingests_nothing(db: TestDb) {
    // Arrange: a settled batch, and a batch of another profile with orders still queued.
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, batch) = settled_batch(&store, &dir, 30).await;
    let open = submit(&store, "uqpay", orders("u", 3)).await.batch_id;
    let far = chrono::Utc::now().timestamp_millis() + 86_400_000;

    // Act: list what a batch retention may delete, delete it, upload its file again.
    let before_creation = store.batch_list_expired(0).await.unwrap();
    let expired = store.batch_list_expired(far).await.unwrap();
    let deleted = store.batch_delete(batch).await.unwrap();
    let again = submit_file(&store, &path).await;

    // Assert: only the settled batch was eligible; it went whole; its references still make
    // every row of its file a duplicate of it.
    assert!(before_creation.is_empty());
    assert_eq!(expired, vec![batch]);
    assert_eq!(deleted, 30);
    assert!(store.batch_status(batch).await.is_err());
    assert_eq!(again.outcome, SubmitOutcome::NothingNew);
    assert_eq!(again.insert.inserted, 0);
    assert_eq!(again.insert.duplicates, 30);
    assert_eq!(again.insert.conflicting, 0);
    assert_eq!(again.insert.duplicates_by_batch.get(&batch), Some(&30));
    let left = store.batch_list().await.unwrap();
    assert_eq!(left.iter().map(|b| b.id).collect::<Vec<_>>(), vec![open]);
    assert_eq!(left, store.batch_list_recounted().await.unwrap());
}
