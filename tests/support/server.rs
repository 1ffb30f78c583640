//! cardbatch's HTTP server in a test: the one place the tests assemble it.

use cardbatch::providers::alchemypay::CheckKeys;
use cardbatch::store::Store;
use cardbatch::webhooks::WebhookState;
use std::future::Future;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Serves cardbatch's routes over `store` on `listener` until `shutdown` resolves: health, Alchemy
/// Pay's reverse validation signed with `check_keys`, and, given their state, the webhook
/// endpoints (as `cardbatch run` serves them).
pub fn serve(
    listener: TcpListener,
    store: &Store,
    check_keys: CheckKeys,
    webhooks: Option<WebhookState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    let app = match webhooks {
        Some(state) => cardbatch::server::app_with_webhooks(store.clone(), check_keys, state),
        None => cardbatch::server::app(store.clone(), check_keys),
    };
    tokio::spawn(async move {
        cardbatch::server::serve(listener, app, shutdown)
            .await
            .expect("the server runs");
    })
}
