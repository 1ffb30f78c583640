//! An order as the provider layer sees it: what a client sends, and what it looks the card up
//! by. The store builds it from the order row; nothing here knows about leases or attempts.

use super::{ProviderKind, ProviderRefs};

/// The order a provider client creates, resolves or looks up.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderOrder {
    /// The provider profile the order is issued through.
    pub profile: String,
    /// The profile's provider.
    pub provider: ProviderKind,
    /// The customer's reference, unique per profile.
    pub order_ref: String,
    /// The same key on every attempt (see [`super::NewOrder::idempotency_key`]).
    pub idempotency_key: String,
    /// The provider-specific order as ingest validated it.
    pub payload: serde_json::Value,
    /// Money amount in integer minor units, when the provider has one.
    pub amount_minor: Option<i64>,
    /// ISO 4217 currency of `amount_minor`.
    pub currency: Option<String>,
    /// Keys the provider gave on an earlier call (empty before the first answer).
    pub refs: ProviderRefs,
    /// When the order was queued (Unix ms): no call for it can be older. UQPAY replays a key's
    /// answer for 24 hours only, so an order older than that is resolved by other means.
    pub queued_at_ms: i64,
}
