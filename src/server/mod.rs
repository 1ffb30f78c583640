//! Stage 7: cardbatch's HTTP server. Providers call it (Alchemy Pay's reverse validation,
//! webhooks), operators probe it (`GET /health`) and act through its API ([`api`], under
//! `/api/v1`, bearer tokens). It runs beside the workers in `cardbatch run` and listens on
//! loopback unless configured otherwise (and then only once an API token exists).

pub mod api;
mod app;
pub mod dashboard;
pub mod metrics;

pub use app::{MAX_BODY_BYTES, app, app_with_webhooks, serve};
