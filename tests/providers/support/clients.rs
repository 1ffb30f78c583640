//! What every provider client is built with.

use cardbatch::providers::{ProviderEnv, http};
use cardbatch::store::Store;

/// The environment `cardbatch run` gives a client: the shared HTTP client, the store (tokens,
/// Alchemy Pay's reverse validation) and the public URL providers call back.
pub fn provider_env(store: &Store, public_url: &str) -> ProviderEnv {
    ProviderEnv {
        http: http::client(),
        store: store.clone(),
        public_url: public_url.to_string(),
    }
}
