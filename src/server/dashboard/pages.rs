//! The pages: batches, one batch (its orders, reconciliation summary and controls). Every read
//! is O(batches) or indexed: counts and totals come from the per-batch counters, orders a page
//! at a time by index, mismatches through their partial index.

use super::session::{CsrfForm, User, login_page, poster, user};
use crate::control::Action;
use crate::domain::{BatchState, OrderState, Role};
use crate::server::api::{ApiError, ApiQuery, ApiState};
use crate::store::{BatchSummary, ConfirmedBy};
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
    /// Sum of the orders' amounts per currency (`USD 1,234.50`), from the counters.
    pub totals: Vec<String>,
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
            totals: b
                .totals_minor
                .iter()
                .map(|(currency, minor)| {
                    format!("{currency} {}", crate::domain::money::format_minor(*minor))
                })
                .collect(),
        }
    }
}

/// A control button of the batch page: the action posted, its label, the confirmation asked.
pub struct Control {
    pub action: &'static str,
    pub label: String,
    pub question: String,
}

/// The batch's reconciliation summary, as `cardbatch reconcile` reports it.
pub struct Reconciliation {
    pub by_webhook: u64,
    pub by_lookup: u64,
    pub issued_unconfirmed: u64,
    pub awaiting: u64,
    pub needs_review: u64,
    pub mismatches: u64,
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
    reconciliation: Reconciliation,
    controls: Vec<Control>,
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

/// The actions `role` may take on `batch` (the requeues only when it has such orders).
fn controls(role: Role, batch: &BatchSummary) -> Vec<Control> {
    let state = batch.state;
    let count = |s: OrderState| batch.counts.get(&s).copied().unwrap_or(0);
    let plain = |action: &'static str| Control {
        action,
        label: action.to_string(),
        question: format!("{action} this batch?"),
    };
    let mut out = Vec::new();
    if role.allows(Role::Operator) {
        match state {
            BatchState::Active => out.push(plain("pause")),
            BatchState::Paused => out.push(plain("resume")),
            _ => {}
        }
        if state != BatchState::Canceled {
            let (dead, review) = (count(OrderState::Dead), count(OrderState::NeedsReview));
            if dead > 0 {
                out.push(Control {
                    action: "requeue",
                    label: format!("requeue {dead} dead"),
                    question: format!(
                        "Requeue the {dead} dead orders (same idempotency key, no duplicate card)?"
                    ),
                });
            }
            if review > 0 {
                out.push(Control {
                    action: "requeue_review",
                    label: format!("requeue {review} needs_review"),
                    question: format!(
                        "Requeue the {review} orders needing review? Each is looked up at the provider before anything is sent again."
                    ),
                });
            }
            out.push(plain("cancel"));
        }
    }
    if role.allows(Role::Approver) && state == BatchState::AwaitingApproval {
        out.push(plain("approve"));
    }
    out
}

/// The reconciliation summary of `batch`: the per-batch counters and the mismatch index.
async fn reconciliation(
    state: &ApiState,
    batch: &BatchSummary,
) -> Result<Reconciliation, ApiError> {
    let counts = state
        .store
        .order_count_by_confirmation(Some(batch.id))
        .await?;
    let issued = |by: Option<ConfirmedBy>| {
        counts
            .iter()
            .filter(|c| c.state == OrderState::Issued && c.confirmed_by == by)
            .map(|c| c.count)
            .sum::<u64>()
    };
    let count = |s: OrderState| batch.counts.get(&s).copied().unwrap_or(0);
    Ok(Reconciliation {
        by_webhook: issued(Some(ConfirmedBy::Webhook)),
        by_lookup: issued(Some(ConfirmedBy::Lookup)),
        issued_unconfirmed: issued(None),
        awaiting: count(OrderState::Submitted),
        needs_review: count(OrderState::NeedsReview),
        mismatches: state.store.order_count_mismatches(batch.id).await?,
    })
}

/// `GET /batches/{id}`: one batch and the controls the user's role allows.
pub async fn batch(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(filter): ApiQuery<OrderFilter>,
) -> Result<Response, ApiError> {
    let Some(user) = user(&state, &headers).await? else {
        return Ok(Redirect::to("/").into_response());
    };
    let id = crate::server::api::batch_id(&id)?;
    let summary = state.store.batch_summary(id).await?;
    let controls = controls(user.role, &summary);
    let reconciliation = reconciliation(&state, &summary).await?;
    let batch = BatchView::from(&summary);
    let state_filter = match filter.state.as_str() {
        "" => None,
        s => Some(
            s.parse::<OrderState>()
                .map_err(|e| ApiError::BadRequest(e.to_string()))?,
        ),
    };
    let q = Some(filter.q.trim()).filter(|q| !q.is_empty());
    // A search is by exact `order_ref` (one read of the unique index), never a walk of the
    // batch's orders.
    let rows = match q {
        Some(q) => {
            state
                .store
                .order_find_in_batch(id, &summary.profile, state_filter, q)
                .await?
        }
        None => {
            state
                .store
                .order_page(id, state_filter, None, filter.after, ORDERS_PER_PAGE)
                .await?
        }
    };
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
            reconciliation,
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
        "requeue" => (
            Action::Requeue {
                state: OrderState::Dead,
                confirm: false,
            },
            Role::Operator,
        ),
        // The page's confirmation dialog is the confirmation the API asks for.
        "requeue_review" => (
            Action::Requeue {
                state: OrderState::NeedsReview,
                confirm: true,
            },
            Role::Operator,
        ),
        other => return Err(ApiError::NotFound(format!("no action `{other}`"))),
    };
    let _done = crate::server::api::act(&state, &user.caller, &id, action, needed).await?;
    Ok(Redirect::to(&format!("/batches/{id}")).into_response())
}
