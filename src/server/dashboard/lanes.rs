//! The provider lanes page: each profile's current and configured rate, calls in flight, 429s,
//! permits, whether its calls are paused because the provider cannot be reached, and its last
//! failed calls (kept in memory by this process's client; messages masked).

use super::session::{User, user};
use crate::providers::ProfileClients;
use crate::server::api::{ApiError, ApiState};
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

struct LaneView {
    profile: String,
    rate: String,
    configured: String,
    in_flight: usize,
    rate_limited: u64,
    permits: u64,
    paused: bool,
    errors: Vec<ErrorView>,
}

struct ErrorView {
    at: String,
    outcome: &'static str,
    code: String,
    message: String,
}

#[derive(Template)]
#[template(path = "dashboard/lanes.html")]
struct LanesPage {
    user: User,
    lanes: Vec<LaneView>,
}

/// `GET /lanes`.
pub async fn lanes(
    State(state): State<ApiState>,
    Extension(clients): Extension<ProfileClients>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(user) = user(&state, &headers).await? else {
        return Ok(Redirect::to("/").into_response());
    };
    let lanes = clients
        .iter()
        .map(|c| {
            let stats = c.lane().stats();
            LaneView {
                profile: c.name().to_string(),
                rate: format!("{:.2}", stats.effective_rate),
                configured: format!("{:.2}", stats.configured_rate),
                in_flight: c.in_flight(),
                rate_limited: stats.rate_limited,
                permits: stats.permits,
                paused: c.breaker_open(),
                errors: c
                    .recent_errors()
                    .into_iter()
                    .map(|e| ErrorView {
                        at: chrono::DateTime::from_timestamp_millis(e.at_ms)
                            .map(|t| t.format("%H:%M:%S").to_string())
                            .unwrap_or_default(),
                        outcome: e.outcome,
                        code: e.code,
                        message: e.message,
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(match (LanesPage { user, lanes }).render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    })
}
