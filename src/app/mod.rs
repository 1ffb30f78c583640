//! The composition root: the one place that assembles cardbatch from its configuration.
//!
//! [`App::with_store`] takes the open store, reads every profile's credentials once, and builds one
//! provider client and one lane per profile ([`ProfileClients`](crate::providers::ProfileClients)),
//! plus the webhook verification keys and Alchemy Pay's reverse-validation keys. The same clients
//! serve the workers, the reconciler and the webhook event processor, so every call a profile
//! makes goes through its lane. [`App::start`] starts the [`Services`] a command asks for and
//! returns a [`Running`] application, which stops them in one order (see [`Running::run_until`]).
//!
//! Every command that runs something (`run`, `worker`, `serve`, `demo`) and the end-to-end tests
//! go through here; nothing else assembles parts.

mod build;
mod running;

pub use build::{App, AppError, Services};
pub use running::Running;
