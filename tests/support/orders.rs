//! Orders written straight through the store's batch writer, for tests that need a queue and no
//! CSV file: UQPAY-shaped orders with predictable references, keys and lines.

use cardbatch::domain::{NewBatch, NewOrder, ProviderKind};
use cardbatch::store::{BatchInsertReport, Store};
use uuid::Uuid;

/// A batch of `profile` (a UQPAY profile) created at 1,000 ms, so its orders are due from then.
pub fn new_batch(profile: &str) -> NewBatch {
    NewBatch {
        id: Uuid::new_v4(),
        profile: profile.to_string(),
        provider: ProviderKind::Uqpay,
        source: "orders.csv".to_string(),
        created_at_ms: 1_000,
    }
}

/// The order on physical line `line` with reference `order_ref` and key `idem-{order_ref}`.
pub fn order(line: u64, order_ref: &str) -> NewOrder {
    NewOrder {
        line,
        order_ref: order_ref.to_string(),
        idempotency_key: format!("idem-{order_ref}"),
        payload: serde_json::json!({ "card_holder": format!("holder {order_ref}"), "line": line })
            .into(),
        amount_minor: Some(1_250),
        currency: Some("USD".to_string()),
    }
}

/// `n` orders with references `{prefix}-0..n`, on lines 2..n+2 (line 1 is the header).
pub fn orders(prefix: &str, n: u64) -> Vec<NewOrder> {
    (0..n)
        .map(|i| order(i + 2, &format!("{prefix}-{i}")))
        .collect()
}

/// Writes `orders` as one committed batch of `profile`.
pub async fn submit(store: &Store, profile: &str, orders: Vec<NewOrder>) -> BatchInsertReport {
    let mut writer = store
        .batch_writer(&new_batch(profile))
        .await
        .expect("open a batch");
    for o in orders {
        writer.push(o).await.expect("push an order");
    }
    writer.commit().await.expect("commit the batch")
}
