//! Fills a store with `orders` small UQPAY orders in `batches` batches through the store's own
//! batch writer (the API and dashboard benchmarks' store). Returns the batch ids in order.

use cardbatch::domain::{NewBatch, NewOrder, ProviderKind};
use cardbatch::store::Store;

/// `currency(b)` is the currency of every order of batch `b`.
pub async fn fill_batches(
    store: &Store,
    orders: u64,
    batches: u64,
    currency: impl Fn(u64) -> &'static str,
) -> anyhow::Result<Vec<uuid::Uuid>> {
    let per_batch = orders / batches;
    let mut ids = Vec::new();
    for b in 0..batches {
        let batch = NewBatch {
            id: uuid::Uuid::new_v4(),
            profile: "bench".into(),
            provider: ProviderKind::Uqpay,
            source: format!("bench-{b}.csv"),
            created_at_ms: 1_000 + b as i64,
        };
        let mut writer = store.batch_writer(&batch).await?;
        for i in 0..per_batch {
            writer
                .push(NewOrder {
                    line: i + 2,
                    order_ref: format!("b{b}-{i}"),
                    idempotency_key: format!("idem-b{b}-{i}"),
                    payload: serde_json::json!({ "card_holder": "Bench Holder" }).into(),
                    amount_minor: Some(10_000),
                    currency: Some(currency(b).into()),
                })
                .await?;
        }
        ids.push(writer.commit().await?.batch_id);
    }
    Ok(ids)
}
