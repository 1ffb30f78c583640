//! Parsed, always-valid domain types shared by every stage: what a provider is, what state an
//! order is in, the order as ingest hands it to the store and as the provider layer sees it
//! (with its provider refs), and the Brazilian and money value
//! types ingest validates (CPF, CNPJ, UF, CEP, amounts) with the masking used in messages.

mod batch_state;
pub mod card_data;
mod cep;
mod cnpj;
mod cpf;
mod mask_message;
pub mod masking;
pub mod money;
mod order;
mod order_state;
mod provider_order;
mod provider_refs;
mod role;
pub mod text;
mod uf;

pub use batch_state::BatchState;
pub use cardbatch_types::ProviderKind;
pub use cep::Cep;
pub use cnpj::Cnpj;
pub use cpf::Cpf;
pub use mask_message::mask_message;
pub use order::{NewBatch, NewOrder, Payload};
pub use order_state::OrderState;
pub use provider_order::ProviderOrder;
pub use provider_refs::ProviderRefs;
pub use role::Role;
pub use uf::Uf;
