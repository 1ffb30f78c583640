//! `POST /api/v1/batches/{id}/{pause|resume|cancel|approve|requeue}`: the same actions as the
//! CLI's, through [`crate::control::perform`], which records each in the audit log.

use super::ApiState;
use super::auth::Caller;
use super::batches::batch_id;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::json::{ActionResult, Batch};
use crate::control::{Action, perform};
use crate::domain::{OrderState, Role};
use crate::store::AuditEntry;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

/// One action as `caller`: the role check (a refusal is audited), then
/// [`crate::control::perform`]. The dashboard's buttons come here too.
pub(crate) async fn act(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    action: Action,
    needed: Role,
) -> Result<Json<ActionResult>, ApiError> {
    let id = batch_id(id)?;
    let now = chrono::Utc::now().timestamp_millis();
    if let Err(refused) = caller.require(needed) {
        // A refusal for the role is an action too: the audit log shows who tried.
        crate::control::audit(
            &state.store,
            AuditEntry {
                at_ms: now,
                actor: caller.actor(),
                action: action.name().into(),
                batch_id: Some(id),
                order_id: None,
                outcome: "refused".into(),
                detail: Some(refused.to_string()),
            },
        )
        .await?;
        return Err(refused);
    }
    let done = perform(&state.store, &caller.actor(), id, &action, now).await?;
    let batch = Batch::from(&state.store.batch_summary(id).await?);
    Ok(Json(ActionResult {
        batch,
        action: done.action.into(),
        moved: done.orders,
    }))
}

/// Pauses a batch: its orders are not claimed; calls in flight finish.
#[utoipa::path(post, path = "/api/v1/batches/{id}/pause", tag = "actions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Batch id")),
    responses(
        (status = 200, description = "Paused", body = ActionResult),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not (operator or above)", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 409, description = "The batch is not active", body = ErrorBody),
    ))]
pub async fn pause(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ActionResult>, ApiError> {
    act(&state, &caller, &id, Action::Pause, Role::Operator).await
}

/// Resumes a paused batch.
#[utoipa::path(post, path = "/api/v1/batches/{id}/resume", tag = "actions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Batch id")),
    responses(
        (status = 200, description = "Resumed", body = ActionResult),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not (operator or above)", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 409, description = "The batch is not paused", body = ErrorBody),
    ))]
pub async fn resume(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ActionResult>, ApiError> {
    act(&state, &caller, &id, Action::Resume, Role::Operator).await
}

/// Cancels a batch: its queued and retry_wait orders become canceled; orders in flight or sent
/// are kept.
#[utoipa::path(post, path = "/api/v1/batches/{id}/cancel", tag = "actions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Batch id")),
    responses(
        (status = 200, description = "Canceled; `moved` says how many orders", body = ActionResult),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not (operator or above)", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 409, description = "The batch is canceled already", body = ErrorBody),
    ))]
pub async fn cancel(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ActionResult>, ApiError> {
    act(&state, &caller, &id, Action::Cancel, Role::Operator).await
}

/// Approves a batch awaiting approval; its submitter may not.
#[utoipa::path(post, path = "/api/v1/batches/{id}/approve", tag = "actions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Batch id")),
    responses(
        (status = 200, description = "Approved: its orders are claimed (or, for an active batch the spend cap holds back, released past the cap: `moved`)", body = ActionResult),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not (approver or above), or it submitted the batch", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 409, description = "The batch is not awaiting approval", body = ErrorBody),
    ))]
pub async fn approve(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ActionResult>, ApiError> {
    act(&state, &caller, &id, Action::Approve, Role::Approver).await
}

/// The query of `POST /api/v1/batches/{id}/requeue`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequeueQuery {
    /// `dead` (default) or `needs_review`.
    #[param(pattern = "^(dead|needs_review)$")]
    state: Option<String>,
    /// Must be true for `needs_review`.
    confirm: Option<bool>,
}

/// Requeues a batch's dead (or, confirmed, needs_review) orders with the same idempotency key.
#[utoipa::path(post, path = "/api/v1/batches/{id}/requeue", tag = "actions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Batch id"), RequeueQuery),
    responses(
        (status = 200, description = "Requeued; `moved` says how many orders", body = ActionResult),
        (status = 400, description = "A state that cannot be requeued", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not (operator or above)", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 409, description = "The batch is canceled, or needs_review without confirm", body = ErrorBody),
    ))]
pub async fn requeue(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RequeueQuery>,
) -> Result<Json<ActionResult>, ApiError> {
    let order_state = match query.state.as_deref() {
        None | Some("") => OrderState::Dead,
        Some(s) => s.parse().map_err(ApiError::BadRequest)?,
    };
    let action = Action::Requeue {
        state: order_state,
        confirm: query.confirm.unwrap_or(false),
    };
    act(&state, &caller, &id, action, Role::Operator).await
}

/// The body of `POST /api/v1/orders/{id}/attach`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AttachRequest {
    /// The refs found by hand, e.g. `{"card_id": "c-123"}`: at least one.
    #[schema(schema_with = refs_schema)]
    refs: std::collections::BTreeMap<String, String>,
}

/// `refs`: a map of strings with at least one entry (an empty one is refused).
fn refs_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
        .min_properties(Some(1))
        .description(Some(
            "The refs found by hand, e.g. `{\"card_id\": \"c-123\"}`: at least one.",
        ))
        .build()
}

/// Attaches card refs found by hand to an order that needs review: it becomes submitted, and
/// the reconciler confirms the card at the provider.
#[utoipa::path(post, path = "/api/v1/orders/{id}/attach", tag = "actions",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    request_body = AttachRequest,
    responses(
        (status = 200, description = "Attached; the order as it is now", body = super::json::Order),
        (status = 400, description = "No refs, a body that is not the documented JSON, or an id that is not a number", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not (operator or above)", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "The order does not need review", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ))]
pub async fn attach(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<AttachRequest>,
) -> Result<Json<super::json::Order>, ApiError> {
    caller.require(Role::Operator)?;
    let refs = request
        .refs
        .iter()
        .fold(crate::domain::ProviderRefs::new(), |r, (k, v)| r.with(k, v));
    let now = chrono::Utc::now().timestamp_millis();
    crate::control::attach(&state.store, &caller.actor(), id, &refs, now).await?;
    let order = state
        .store
        .order_get(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no order with id {id}")))?;
    Ok(Json(super::json::Order::from(&order)))
}
