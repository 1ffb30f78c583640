//! The pages: batches, one batch, and its controls.

use super::session::{CsrfForm, User, login_page, poster, user};
use crate::control::Action;
use crate::domain::{BatchState, OrderState, Role};
use crate::server::api::{ApiError, ApiState};
use crate::store::BatchSummary;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
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
    states: Vec<&'static str>,
    filter: OrderFilter,
    orders: Vec<OrderView>,
    next: Option<i64>,
}

/// Orders shown on a batch page at once (the next ones are a link away).
const ORDERS_PER_PAGE: u32 = 100;

/// The batch page's order filter: a state, an `order_ref` search, the page after an id.
#[derive(Debug, Default, serde::Deserialize)]
pub struct OrderFilter {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub q: String,
    pub after: Option<i64>,
}

/// One order as the batch page shows it (the message is masked by the store).
struct OrderView {
    order_ref: String,
    line: u64,
    state: &'static str,
    attempts: u32,
    code: String,
    message: String,
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
    Query(filter): Query<OrderFilter>,
) -> Result<Response, ApiError> {
    let Some(user) = user(&state, &headers).await? else {
        return Ok(Redirect::to("/").into_response());
    };
    let id = crate::server::api::batch_id(&id)?;
    let summary = state.store.batch_summary(id).await?;
    let controls = controls(user.role, summary.state);
    let batch = BatchView::from(&summary);
    let state_filter = match filter.state.as_str() {
        "" => None,
        s => Some(
            s.parse::<OrderState>()
                .map_err(|e| ApiError::BadRequest(e.to_string()))?,
        ),
    };
    let q = Some(filter.q.trim()).filter(|q| !q.is_empty());
    let rows = state
        .store
        .order_page(id, state_filter, q, filter.after, ORDERS_PER_PAGE)
        .await?;
    let next = (rows.len() == ORDERS_PER_PAGE as usize)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let orders = rows
        .into_iter()
        .map(|r| OrderView {
            order_ref: r.order_ref,
            line: r.line,
            state: r.state.as_str(),
            attempts: r.attempts,
            code: r.last_error_code.unwrap_or_default(),
            message: r.last_error_message.unwrap_or_default(),
        })
        .collect();
    let states = OrderState::ALL.iter().map(|s| s.as_str()).collect();
    Ok(html(
        BatchPage {
            user,
            batch,
            controls,
            states,
            filter,
            orders,
            next,
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
