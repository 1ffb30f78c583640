//! The pages: batches, one batch, and its controls.

use super::session::{CsrfForm, User, login_page, poster, user};
use crate::control::Action;
use crate::domain::{BatchState, Role};
use crate::server::api::{ApiError, ApiState};
use crate::store::BatchSummary;
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// One state's share of a batch.
pub struct Count {
    pub state: &'static str,
    pub count: u64,
    pub percent: String,
}

/// A batch as the pages show it.
pub struct BatchView {
    pub id: String,
    pub short_id: String,
    pub profile: String,
    pub source: String,
    pub created: String,
    pub state: &'static str,
    pub total: u64,
    pub counts: Vec<Count>,
}

impl From<&BatchSummary> for BatchView {
    fn from(b: &BatchSummary) -> BatchView {
        let total = b.total();
        let counts = b
            .counts
            .iter()
            .map(|(state, n)| Count {
                state: state.as_str(),
                count: *n,
                percent: format!("{:.1}", *n as f64 * 100.0 / total.max(1) as f64),
            })
            .collect();
        let id = b.id.to_string();
        BatchView {
            short_id: id[..8].to_string(),
            id,
            profile: b.profile.clone(),
            source: b.source.clone(),
            created: chrono::DateTime::from_timestamp_millis(b.created_at_ms)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default(),
            state: b.state.as_str(),
            total,
            counts,
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/batches.html")]
struct BatchesPage {
    user: User,
    batches: Vec<BatchView>,
}

#[derive(Template)]
#[template(path = "dashboard/batch.html")]
struct BatchPage {
    user: User,
    batch: BatchView,
    controls: Vec<&'static str>,
}

fn html(page: Result<String, askama::Error>) -> Response {
    match page {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `GET /`: the batches, or the log-in form without a session.
pub async fn batches(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(user) = user(&state, &headers).await? else {
        return Ok(login_page(StatusCode::OK, None));
    };
    let batches = state.store.batch_list().await?;
    let batches = batches.iter().map(BatchView::from).collect();
    Ok(html(BatchesPage { user, batches }.render()))
}

/// The actions `role` may take on a batch in `state`.
fn controls(role: Role, state: BatchState) -> Vec<&'static str> {
    let mut out = Vec::new();
    if role.allows(Role::Operator) {
        match state {
            BatchState::Active => out.push("pause"),
            BatchState::Paused => out.push("resume"),
            _ => {}
        }
        if state != BatchState::Canceled {
            out.push("cancel");
        }
    }
    if role.allows(Role::Approver) && state == BatchState::AwaitingApproval {
        out.push("approve");
    }
    out
}

/// `GET /batches/{id}`: one batch and the controls the user's role allows.
pub async fn batch(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Some(user) = user(&state, &headers).await? else {
        return Ok(Redirect::to("/").into_response());
    };
    let id = crate::server::api::batch_id(&id)?;
    let summary = state.store.batch_summary(id).await?;
    let controls = controls(user.role, summary.state);
    let batch = BatchView::from(&summary);
    Ok(html(
        BatchPage {
            user,
            batch,
            controls,
        }
        .render(),
    ))
}

/// `POST /batches/{id}/{action}`: the API's action (same role check, audit and control
/// function), then back to the batch page.
pub async fn act(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    let user = poster(&state, &headers, &form.csrf).await?;
    let (action, needed) = match action.as_str() {
        "pause" => (Action::Pause, Role::Operator),
        "resume" => (Action::Resume, Role::Operator),
        "cancel" => (Action::Cancel, Role::Operator),
        "approve" => (Action::Approve, Role::Approver),
        other => return Err(ApiError::NotFound(format!("no action `{other}`"))),
    };
    let _done = crate::server::api::act(&state, &user.caller, &id, action, needed).await?;
    Ok(Redirect::to(&format!("/batches/{id}")).into_response())
}
