//! The schedules page: each schedule of the jobs directory with its last run and next slot,
//! as `cardbatch schedules` lists them.

use super::session::{User, user};
use crate::server::api::{ApiError, ApiState};
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

struct ScheduleView {
    name: String,
    cron: String,
    timezone: String,
    profile: String,
    source: String,
    last: String,
    outcome: String,
    rows: String,
    next: String,
}

#[derive(Template)]
#[template(path = "dashboard/schedules.html")]
struct SchedulesPage {
    user: User,
    schedules: Vec<ScheduleView>,
    errors: Vec<String>,
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// `GET /schedules`.
pub async fn schedules(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(user) = user(&state, &headers).await? else {
        return Ok(Redirect::to("/").into_response());
    };
    let (found, errors) = match crate::jobs::load_usable(&state.config) {
        Ok((found, errors)) => (found, errors.iter().map(|e| e.to_string()).collect()),
        Err(e) => (Vec::new(), vec![e.to_string()]),
    };
    let now = chrono::Utc::now();
    let mut schedules = Vec::with_capacity(found.len());
    for s in &found {
        let last = state.store.schedule_run_latest(&s.name).await?;
        let next = match (s.enabled, s.cadence.next_after(now)) {
            (false, _) => "disabled".to_string(),
            (true, Some(t)) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            (true, None) => "none".to_string(),
        };
        schedules.push(ScheduleView {
            name: s.name.clone(),
            cron: s.cadence.expression().to_string(),
            timezone: s.cadence.timezone().to_string(),
            profile: s.profile.clone(),
            source: s.source.describe(),
            last: last.as_ref().map_or("never".into(), |r| time(r.slot)),
            outcome: last.as_ref().map(|r| r.outcome.clone()).unwrap_or_default(),
            rows: last
                .as_ref()
                .map(|r| r.rows.to_string())
                .unwrap_or_default(),
            next,
        });
    }
    let page = SchedulesPage {
        user,
        schedules,
        errors,
    };
    Ok(match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    })
}
