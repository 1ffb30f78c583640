//! The router and its serving loop.

use crate::providers::alchemypay;
use crate::store::Store;
use axum::Router;
use axum::routing::get;
use std::future::Future;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;

/// The largest request body accepted. Provider callbacks are a few kilobytes; anything much
/// bigger is refused before it is read, so a misbehaving caller cannot exhaust memory.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Every route of the server:
///
/// - `GET /health`: `ok` while the process serves;
/// - `GET /alchemypay/create-check?orderNo=`: Alchemy Pay's reverse validation, signed with the
///   keys of the Alchemy Pay profiles in `alchemy_keys`;
/// - webhooks: see [`app_with_webhooks`].
pub fn app(store: Store, alchemy_keys: alchemypay::CheckKeys) -> Router {
    Router::new()
        .route("/health", get(health))
        .merge(alchemypay::routes(store, alchemy_keys))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
}

/// [`app`] plus the webhook endpoints (`POST /webhooks/uqpay`, `/webhooks/qitech`,
/// `/webhooks/alchemypay`), which persist verified events for the event processor.
pub fn app_with_webhooks(
    store: Store,
    alchemy_keys: alchemypay::CheckKeys,
    webhooks: crate::webhooks::WebhookState,
) -> Router {
    Router::new()
        .route("/health", get(health))
        .merge(alchemypay::routes(store, alchemy_keys))
        .merge(crate::webhooks::routes(webhooks))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
}

async fn health() -> &'static str {
    "ok"
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in progress finish.
pub async fn serve<F>(listener: TcpListener, app: Router, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let store = Store::connect(&url).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn health_answers_ok() {
        let (_dir, store) = store().await;
        let response = app(store, alchemypay::CheckKeys::new())
            .oneshot(Request::get("/health").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn an_oversized_body_is_refused_before_it_is_read() {
        let (_dir, store) = store().await;
        let big = vec![b'x'; MAX_BODY_BYTES + 1];
        let response = app(store, alchemypay::CheckKeys::new())
            .oneshot(
                Request::post("/alchemypay/create-check")
                    .header("content-length", big.len())
                    .body(Body::from(big))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn an_unknown_order_is_refused_by_the_reverse_validation_route() {
        let (_dir, store) = store().await;
        let response = app(store, alchemypay::CheckKeys::new())
            .oneshot(
                Request::get("/alchemypay/create-check?orderNo=nope")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert!(!response.status().is_success(), "{}", response.status());
    }
}
