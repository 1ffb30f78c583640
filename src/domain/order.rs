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
    pub payload: Payload,
    /// Money amount of the order in integer minor units, when the provider has one.
    pub amount_minor: Option<i64>,
    /// ISO 4217 currency of `amount_minor`.
    pub currency: Option<String>,
}

/// An order's provider-specific payload, serialised to JSON once, at ingest.
///
/// Ingest writes millions of these and never reads them back: keeping the text (instead of a
/// `serde_json::Value` tree that the store would serialise again) saves an allocation per field
/// and a second serialisation per row.
#[derive(Debug, Clone)]
pub struct Payload(Box<serde_json::value::RawValue>);

impl Payload {
    /// Serialises `value`.
    pub fn new<T: serde::Serialize + ?Sized>(value: &T) -> Payload {
        Payload(
            serde_json::value::to_raw_value(value)
                .expect("a payload is plain data and always serialises"),
        )
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The payload parsed back into a tree (for tests and tools, not the ingest path).
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(self.json()).expect("a payload holds valid JSON")
    }
}

impl From<serde_json::Value> for Payload {
    fn from(value: serde_json::Value) -> Payload {
        Payload::new(&value)
    }
}

impl PartialEq for Payload {
    /// Equal as JSON (not as text).
    fn eq(&self, other: &Payload) -> bool {
        self.value() == other.value()
    }
}
