//! Stage 7: cardbatch's HTTP server. Providers call it (Alchemy Pay's reverse validation now,
//! webhooks next), operators probe it (`GET /health`). It runs beside the workers in
//! `cardbatch run` and listens on loopback unless configured otherwise.

pub mod api;
mod app;

pub use app::{MAX_BODY_BYTES, app, app_with_webhooks, serve};
