//! The sandbox's own control routes, beside the providers':
//!
//! - `GET /_sandbox/faults`: every provider's faults;
//! - `PUT /_sandbox/faults`: `{provider: FaultConfig}` replaces the faults of the listed providers;
//! - `PATCH /_sandbox/faults`: `{provider: {field: value}}` changes only the given fields;
//! - `GET /_sandbox/ledger[?provider=uqpay]`: every card created, counts per reference, and the
//!   duplicates: order-identifying references with more than one card;
//! - `GET /_sandbox/stats`: counters per provider;
//! - `POST /_sandbox/clock/advance` `{"secs": 1800}`: moves the sandbox clock forward;
//! - `GET /_sandbox/health`: `ok`.

use super::core::{Core, FaultConfig};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cardbatch_types::ProviderKind;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The `/_sandbox/...` routes.
pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route(
            "/_sandbox/faults",
            get(get_faults).put(put_faults).patch(patch_faults),
        )
        .route("/_sandbox/ledger", get(get_ledger))
        .route("/_sandbox/stats", get(get_stats))
        .route("/_sandbox/clock/advance", post(advance_clock))
        .route("/_sandbox/health", get(|| async { "ok" }))
        .with_state(core)
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

async fn get_faults(State(core): State<Arc<Core>>) -> Json<BTreeMap<String, FaultConfig>> {
    Json(core.fault_board.all())
}

fn check_provider(name: &str) -> Result<(), String> {
    name.parse::<ProviderKind>().map(|_| ())
}

async fn put_faults(
    State(core): State<Arc<Core>>,
    Json(body): Json<BTreeMap<String, FaultConfig>>,
) -> Response {
    for (provider, faults) in &body {
        if let Err(e) = check_provider(provider) {
            return bad_request(e);
        }
        if let Err(e) = faults.validate() {
            return bad_request(format!("{provider}: {e}"));
        }
    }
    for (provider, faults) in body {
        core.set_faults(&provider, faults);
    }
    Json(core.fault_board.all()).into_response()
}

async fn patch_faults(
    State(core): State<Arc<Core>>,
    Json(body): Json<BTreeMap<String, Value>>,
) -> Response {
    let mut updated = Vec::new();
    for (provider, patch) in body {
        if let Err(e) = check_provider(&provider) {
            return bad_request(e);
        }
        let Value::Object(patch) = patch else {
            return bad_request(format!("{provider}: expected an object of fault fields"));
        };
        let mut current = serde_json::to_value(core.faults(&provider)).expect("faults serialise");
        for (field, value) in patch {
            current[field] = value;
        }
        let faults: FaultConfig = match serde_json::from_value(current) {
            Ok(f) => f,
            Err(e) => return bad_request(format!("{provider}: {e}")),
        };
        if let Err(e) = faults.validate() {
            return bad_request(format!("{provider}: {e}"));
        }
        updated.push((provider, faults));
    }
    for (provider, faults) in updated {
        core.set_faults(&provider, faults);
    }
    Json(core.fault_board.all()).into_response()
}

#[derive(Deserialize)]
struct LedgerQuery {
    provider: Option<String>,
}

async fn get_ledger(State(core): State<Arc<Core>>, Query(q): Query<LedgerQuery>) -> Response {
    Json(core.ledger.snapshot(q.provider.as_deref())).into_response()
}

async fn get_stats(State(core): State<Arc<Core>>) -> Response {
    Json(core.stats.snapshot()).into_response()
}

#[derive(Deserialize)]
struct Advance {
    secs: u64,
}

async fn advance_clock(State(core): State<Arc<Core>>, Json(a): Json<Advance>) -> Response {
    core.clock.advance(Duration::from_secs(a.secs));
    Json(json!({ "offset_ms": core.clock.offset_ms(), "now": core.clock.now().to_rfc3339() }))
        .into_response()
}
