use super::ProviderKind;
use uuid::Uuid;

/// A batch as ingest creates it: one uploaded file (or one pull from a source table).
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub id: Uuid,
    /// The provider profile from `cardbatch.toml` the orders are issued through.
    pub profile: String,
    pub provider: ProviderKind,
    /// Where the orders came from: the file name as given, or `table:<name>`.
    pub source: String,
    pub created_at_ms: i64,
}

/// One validated order, ready to be written as a queued job.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    /// Physical line of the row in the source file (the header is line 1).
    pub line: u64,
    /// The customer's own reference, unique per provider profile.
    pub order_ref: String,
    /// Made once at ingest and sent on every attempt: UQPAY `x-idempotency-key`, QI postpaid
    /// `request_control_key`, Alchemy `orderNo`, QI prepaid `card_name`.
    pub idempotency_key: String,
    /// The provider-specific order, validated, with profile defaults already applied.
    pub payload: serde_json::Value,
    /// Money amount of the order in integer minor units, when the provider has one.
    pub amount_minor: Option<i64>,
    /// ISO 4217 currency of `amount_minor`.
    pub currency: Option<String>,
}
