//! QI Tech prepaid and postpaid simulators (helper S2 builds them here).

use super::core::Core;
use std::sync::Arc;

/// The QI Tech routes, nested under `/qitech`.
pub fn router(_core: Arc<Core>) -> axum::Router {
    axum::Router::new()
}
