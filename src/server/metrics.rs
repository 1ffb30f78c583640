//! `GET /metrics`: every metric in the Prometheus text format. The state gauges (orders per
//! profile and state, the oldest due order's age per profile, the lanes' rates) are refreshed
//! from the store and the lanes first. Served on the main address, and also on
//! `metrics.listen` when that is configured ([`serve_separately`]).

use crate::providers::ProfileClients;
use crate::store::Store;
use crate::telemetry;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// What the metrics route reads.
#[derive(Clone)]
pub struct MetricsState {
    pub store: Store,
    pub clients: ProfileClients,
}

/// 503 for a scrape whose gauges could not be refreshed (what failed is logged): a scrape must
/// not report stale numbers as current.
fn unreadable(what: &str, e: &crate::store::Error) -> Response {
    tracing::warn!(error = %e, "metrics: {what} failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the store cannot be read\n",
    )
        .into_response()
}

/// The `/metrics` route.
pub fn routes(state: MetricsState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<MetricsState>) -> Response {
    // Installs the recorder when nothing recorded before this first scrape.
    telemetry::handle();
    match state.store.order_count_by_profile_and_state().await {
        Ok(counts) => {
            // Every state of every profile is set, 0 included: a state a profile's orders all
            // left must not keep showing its last number.
            let mut profiles: std::collections::BTreeSet<String> =
                counts.keys().map(|(p, _)| p.clone()).collect();
            profiles.extend(state.clients.names());
            for profile in profiles {
                for order_state in crate::domain::OrderState::ALL {
                    let n = counts
                        .get(&(profile.clone(), order_state))
                        .copied()
                        .unwrap_or(0);
                    metrics::gauge!(telemetry::ORDERS, "profile" => profile.clone(), "state" => order_state.as_str())
                        .set(n as f64);
                }
            }
        }
        Err(e) => return unreadable("counting orders", &e),
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    for client in state.clients.iter() {
        let age = match state.store.order_oldest_due(client.name(), now_ms).await {
            Ok(oldest) => oldest.map_or(0, |due| (now_ms - due).max(0)),
            Err(e) => return unreadable("reading the oldest due order", &e),
        };
        metrics::gauge!(telemetry::OLDEST_DUE_ORDER_AGE, "profile" => client.name().to_string())
            .set(age as f64 / 1000.0);
        let stats = client.lane().stats();
        let profile = client.name().to_string();
        metrics::gauge!(telemetry::LANE_RATE, "profile" => profile.clone())
            .set(stats.effective_rate);
        metrics::gauge!(telemetry::LANE_CONFIGURED_RATE, "profile" => profile.clone())
            .set(stats.configured_rate);
        metrics::counter!(telemetry::LANE_RATE_LIMITED, "profile" => profile.clone())
            .absolute(stats.rate_limited);
        metrics::counter!(telemetry::LANE_PERMITS, "profile" => profile).absolute(stats.permits);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        telemetry::render(),
    )
        .into_response()
}
