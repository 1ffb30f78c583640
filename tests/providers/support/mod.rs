//! The providers binary's helpers: a database per test, the sandbox, cardbatch's server for
//! Alchemy Pay's reverse validation, and one bench per provider.

#[macro_use]
#[path = "../../support/db.rs"]
mod db;
#[path = "../../support/sandbox.rs"]
mod sandbox;
#[path = "../../support/server.rs"]
mod server;
#[path = "../../support/wait.rs"]
mod wait;

mod clients;

pub mod alchemypay;
pub mod qitech;
pub mod uqpay;

pub use clients::provider_env;
pub use db::TestDb;
pub use sandbox::{QI_API_KEY, dev_credentials, start_sandbox};
pub use server::serve;
pub use wait::wait_until;

/// Refs written as JSON, read as stored refs are read.
pub fn as_refs(json: serde_json::Value) -> cardbatch::domain::ProviderRefs {
    serde_json::from_value(json).expect("refs are a JSON object")
}
