//! `GET /api/v1/batches`, `GET /api/v1/batches/{id}`, `GET /api/v1/batches/{id}/orders`,
//! `POST /api/v1/batches?profile=` (a CSV upload through the same ingest path as
//! `cardbatch submit`).

use super::ApiState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody, LineError, LineErrors};
use super::extract::{ApiPath, ApiQuery};
use super::json::{Batch, IngestCounts, Order, OrdersPage, Submitted};
use crate::control::audit;
use crate::domain::{OrderState, Role};
use crate::ingest::{SubmitError, SubmitOptions, SubmitOutcome, submit_by};
use crate::store::{AuditEntry, DuplicateOf};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use axum::response::IntoResponse;
use serde::Deserialize;
use uuid::Uuid;

/// The most orders one page returns.
pub const MAX_PAGE: u32 = 1_000;
const DEFAULT_PAGE: u32 = 100;

/// Every batch, newest first.
#[utoipa::path(get, path = "/api/v1/batches", tag = "batches",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every batch, newest first", body = [Batch]),
        (status = 401, description = "No valid token", body = ErrorBody),
    ))]
pub async fn list_batches(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<Batch>>, ApiError> {
    caller.require(Role::Viewer)?;
    let list = state.store.batch_list().await?;
    Ok(Json(list.iter().map(Batch::from).collect()))
}

/// One batch.
#[utoipa::path(get, path = "/api/v1/batches/{id}", tag = "batches",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Batch id")),
    responses(
        (status = 200, description = "The batch", body = Batch),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
    ))]
pub async fn get_batch(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Batch>, ApiError> {
    caller.require(Role::Viewer)?;
    let id = batch_id(&id)?;
    Ok(Json(Batch::from(&state.store.batch_summary(id).await?)))
}

/// The query of `GET /api/v1/batches/{id}/orders`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    /// Only orders in this state.
    #[param(
        pattern = "^(queued|in_flight|retry_wait|submitted|in_doubt|issued|failed|rejected|dead|canceled|needs_review)?$"
    )]
    state: Option<String>,
    /// Only orders whose order_ref contains this text.
    q: Option<String>,
    /// Orders per page (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next_after` of the previous page.
    after: Option<i64>,
}

/// A batch's orders, a page at a time (keyset pagination by order id).
#[utoipa::path(get, path = "/api/v1/batches/{id}/orders", tag = "batches",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Batch id"), OrdersQuery),
    responses(
        (status = 200, description = "One page of orders", body = OrdersPage),
        (status = 400, description = "A bad state or limit", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
    ))]
pub async fn list_orders(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<OrdersQuery>,
) -> Result<Json<OrdersPage>, ApiError> {
    caller.require(Role::Viewer)?;
    let id = batch_id(&id)?;
    let order_state = query
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse::<OrderState>)
        .transpose()
        .map_err(ApiError::BadRequest)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    // A batch with no orders on this page and no batch at all differ: 404 for the latter.
    state.store.batch_control(id).await?;
    let q = query.q.as_deref().filter(|q| !q.is_empty());
    let rows = state
        .store
        .order_page(id, order_state, q, query.after, limit)
        .await?;
    let next_after = (rows.len() == limit as usize)
        .then(|| rows.last().map(|o| o.id))
        .flatten();
    Ok(Json(OrdersPage {
        orders: rows.iter().map(Order::from).collect(),
        next_after,
    }))
}

/// The query of `POST /api/v1/batches`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubmitQuery {
    /// The profile to issue through.
    profile: String,
}

/// Submits a CSV (`text/csv` body) as one batch, through the same validation and dedupe as
/// `cardbatch submit`: nothing is written unless every row is valid.
#[utoipa::path(post, path = "/api/v1/batches", tag = "batches",
    security(("bearer" = [])),
    params(SubmitQuery),
    request_body(content = String, content_type = "text/csv", description = "The orders"),
    responses(
        (status = 201, description = "Queued: the new batch, with how the file was read", body = Submitted),
        (status = 200, description = "Every row was already ingested; no batch was made", body = IngestCounts),
        (status = 400, description = "No `profile`, or a query parameter that does not parse", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not submit", body = ErrorBody),
        (status = 404, description = "No such profile", body = ErrorBody),
        (status = 409, description = "An order_ref already names different content", body = LineErrors),
        (status = 415, description = "The body is not text/csv", body = ErrorBody),
        (status = 422, description = "The file is refused; every line error", body = LineErrors),
    ))]
pub async fn submit_batch(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SubmitQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    caller.require(Role::Operator)?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // A client that names no type (curl --data-binary) is taken at its word that this is CSV;
    // one that names another (JSON, a form) is told.
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let csv_like = [
        "",
        "text/csv",
        "application/csv",
        "text/plain",
        "application/octet-stream",
    ];
    if !csv_like.contains(&essence.to_ascii_lowercase().as_str()) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "the body must be text/csv, not `{content_type}`"
        )));
    }
    match submit_as(&state, &caller, &query.profile, body).await? {
        (counts, None) => Ok((StatusCode::OK, Json(counts)).into_response()),
        (counts, Some(batch)) => Ok((
            StatusCode::CREATED,
            Json(Submitted {
                batch: Batch::from(&batch),
                ingest: counts,
            }),
        )
            .into_response()),
    }
}

/// Submits `body` (CSV) to profile `profile_name` as `caller` (an operator or above) through
/// the ingest path, with its audit row: the counts, and the batch when one was queued. The
/// API's upload and the dashboard's both come here.
pub(crate) async fn submit_as(
    state: &ApiState,
    caller: &Caller,
    profile_name: &str,
    body: Bytes,
) -> Result<(IngestCounts, Option<crate::store::BatchSummary>), ApiError> {
    caller.require(Role::Operator)?;
    let query = SubmitQuery {
        profile: profile_name.to_string(),
    };
    let profile = state
        .config
        .profiles
        .get(&query.profile)
        .ok_or_else(|| ApiError::NotFound(format!("no profile named `{}`", query.profile)))?;
    let actor = caller.actor();
    let source = format!("api:{}", caller.name);
    let result = submit_by(
        &state.store,
        &query.profile,
        profile,
        std::path::Path::new(&source),
        std::io::Cursor::new(body),
        SubmitOptions::default(),
        &actor,
    )
    .await;
    let now = chrono::Utc::now().timestamp_millis();
    let mut entry = AuditEntry {
        at_ms: now,
        actor,
        action: "submit".into(),
        batch_id: None,
        order_id: None,
        outcome: "refused".into(),
        detail: Some(format!("profile {}", query.profile)),
    };
    let report = match result {
        Ok(report) => report,
        Err(SubmitError::File { source, .. }) => {
            entry.detail = Some(source.to_string());
            audit(&state.store, entry).await?;
            return Err(ApiError::Unprocessable(vec![LineError {
                line: None,
                column: None,
                reason: source.to_string(),
            }]));
        }
        Err(SubmitError::Unreadable { source, .. }) => {
            entry.detail = Some(source.reason.clone());
            audit(&state.store, entry).await?;
            return Err(ApiError::Unprocessable(vec![LineError {
                line: Some(source.line),
                column: source.column.clone(),
                reason: source.reason,
            }]));
        }
        Err(e) => return Err(ApiError::Internal(e.to_string())),
    };
    let errors: Vec<LineError> = report
        .errors
        .iter()
        .map(|e| LineError {
            line: Some(e.line),
            column: e.column.clone(),
            reason: e.reason.clone(),
        })
        .collect();
    match report.outcome {
        SubmitOutcome::Refused => {
            entry.detail = Some(format!(
                "{} of {} rows refused",
                report.invalid, report.rows
            ));
            audit(&state.store, entry).await?;
            // 409 only where an earlier batch holds a reference for other content; a file
            // that repeats a reference of its own is refused like any other bad row (422).
            let clashes_with_stored = report
                .insert
                .conflicts
                .iter()
                .any(|c| matches!(c.duplicate_of, DuplicateOf::Batch(_)));
            if clashes_with_stored {
                Err(ApiError::ConflictLines(errors))
            } else {
                Err(ApiError::Unprocessable(errors))
            }
        }
        SubmitOutcome::Queued | SubmitOutcome::NothingNew | SubmitOutcome::DryRun => {
            let queued = report.outcome == SubmitOutcome::Queued;
            entry.outcome = "ok".into();
            entry.batch_id = queued.then_some(report.batch_id);
            entry.detail = Some(format!(
                "profile {}: {} new orders, {} duplicates",
                query.profile, report.insert.inserted, report.insert.duplicates
            ));
            audit(&state.store, entry).await?;
            let counts = IngestCounts {
                outcome: if queued { "queued" } else { "nothing_new" }.into(),
                rows: report.rows,
                queued: if queued { report.insert.inserted } else { 0 },
                duplicates: report.insert.duplicates,
            };
            if !queued {
                return Ok((counts, None));
            }
            let batch = state.store.batch_summary(report.batch_id).await?;
            Ok((counts, Some(batch)))
        }
    }
}

/// A batch id from the path; a malformed one names no batch (404).
pub fn batch_id(given: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(given).map_err(|_| ApiError::NotFound(format!("no batch with id {given}")))
}
