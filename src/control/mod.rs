//! The operator's controls, shared by the CLI and the HTTP API: pause, resume, cancel, approve
//! and requeue a batch ([`perform`]), and the API's tokens ([`tokens`]). Every action, whatever
//! its outcome, leaves one row in the audit log.

mod actions;
pub mod tokens;

pub use actions::{Action, ActionDone, ControlError, attach, audit, cli_actor, perform};
