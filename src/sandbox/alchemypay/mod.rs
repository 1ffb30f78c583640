//! alchemypay simulator (being built).

use super::core::Core;
use std::sync::Arc;

/// The alchemypay routes.
pub fn router(_core: Arc<Core>) -> axum::Router {
    axum::Router::new()
}
