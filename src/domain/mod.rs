//! Parsed, always-valid domain types shared by every stage: what a provider is, what state an
//! order is in, and the order as ingest hands it to the store.

mod order;
mod order_state;
mod provider_kind;

pub use order::{NewBatch, NewOrder};
pub use order_state::OrderState;
pub use provider_kind::ProviderKind;
