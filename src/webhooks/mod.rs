//! Stage 5: webhook endpoints, one per provider: verify, persist the raw event, answer.
//!
//! `POST /webhooks/uqpay` (HMAC-SHA512 `x-wk-signature`), `POST /webhooks/qitech` (ES512 JWT
//! over the body's MD5, method, URI and timestamp) and `POST /webhooks/alchemypay` (unsigned:
//! accepted only for an `orderNo` we issued, and confirmed by a card-info lookup before it is
//! trusted, see `reconcile`). A refused webhook changes nothing. An accepted one is committed to
//! the `webhook_events` inbox before the 200 goes out, keyed so a redelivery adds no row; the
//! event processor (`reconcile::events`) matches it to its order afterwards.

mod alchemypay;
mod error;
mod inbox;
mod keys;
mod qitech;
mod uqpay;
mod writer;

pub use error::Error;
pub use inbox::{ENDPOINT_ALCHEMYPAY, ENDPOINT_QITECH, ENDPOINT_UQPAY, event_key_hash};
pub use keys::{DEFAULT_TOLERANCE, KeyError, QITECH_PUBLIC_KEY, UQPAY_WEBHOOK_SECRET, WebhookKeys};
pub use qitech::verify as verify_qitech;
pub use uqpay::{sign as sign_uqpay, verify as verify_uqpay};

use crate::store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use std::sync::Arc;
use tokio::sync::Notify;

/// The largest webhook body accepted. Card events are one or two kilobytes.
pub const MAX_WEBHOOK_BODY_BYTES: usize = 64 * 1024;

/// The UQPAY endpoint.
pub const UQPAY_PATH: &str = "/webhooks/uqpay";
/// The QI Tech endpoint (both products).
pub const QITECH_PATH: &str = "/webhooks/qitech";
/// The Alchemy Pay endpoint; the `callbackUrl` of every create is this plus the order's tag.
pub const ALCHEMYPAY_PATH: &str = "/webhooks/alchemypay";
/// The route of tagged Alchemy Pay callbacks (`/webhooks/alchemypay/<tag>`).
const ALCHEMYPAY_TAGGED_PATH: &str = "/webhooks/alchemypay/{tag}";

/// What the endpoints share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct WebhookState {
    pub(crate) store: Store,
    pub(crate) keys: Arc<WebhookKeys>,
    pub(crate) writer: writer::InboxWriter,
}

impl WebhookState {
    /// Endpoints writing to `store`, verifying with `keys`; `wake` is notified after new
    /// events are committed (the event processor waits on it). Starts the inbox writer, so it
    /// must be called inside a Tokio runtime.
    pub fn new(store: Store, keys: WebhookKeys, wake: Arc<Notify>) -> WebhookState {
        WebhookState {
            writer: writer::InboxWriter::start(store.clone(), wake),
            store,
            keys: Arc::new(keys),
        }
    }
}

/// The three webhook routes, each limited to [`MAX_WEBHOOK_BODY_BYTES`].
pub fn routes(state: WebhookState) -> Router {
    Router::new()
        .route(UQPAY_PATH, post(uqpay::receive))
        .route(QITECH_PATH, post(qitech::receive))
        .route(ALCHEMYPAY_PATH, post(alchemypay::refuse_untagged))
        .route(ALCHEMYPAY_TAGGED_PATH, post(alchemypay::receive))
        .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BODY_BYTES))
        .with_state(state)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
