//! `GET /api/v1/reconcile`, `GET /api/v1/audit`, and the admin's token routes.

use super::ApiState;
use super::auth::Caller;
use super::batches::{MAX_PAGE, batch_id};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::json::{AuditRecord, NewToken, TokenInfo, time};
use crate::control::tokens;
use crate::domain::Role;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

/// The query of `GET /api/v1/reconcile`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconcileQuery {
    /// Only this batch.
    batch: Option<String>,
}

/// The reconciliation report (as `cardbatch reconcile --json`).
#[utoipa::path(get, path = "/api/v1/reconcile", tag = "reports",
    security(("bearer" = [])),
    params(ReconcileQuery),
    responses(
        (status = 200, description = "Per batch: confirmed by webhook and by lookup, awaiting, failed, mismatches, needing review; unmatched events", body = Object),
        (status = 400, description = "A query parameter that does not parse", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
    ))]
pub async fn reconcile(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ReconcileQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let batch = match query.batch.as_deref().filter(|b| !b.is_empty()) {
        Some(given) => {
            let id = batch_id(given)?;
            state.store.batch_control(id).await?;
            Some(id)
        }
        None => None,
    };
    let report = crate::reconcile::report(&state.store, batch).await?;
    let value = serde_json::to_value(&report).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(value))
}

/// The query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Rows (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Only rows older than this id (the last `id` of the previous page).
    before: Option<i64>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "reports",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "Actions, newest first", body = [AuditRecord]),
        (status = 400, description = "A limit out of range, or a query parameter that does not parse", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    ))]
pub async fn audit(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    caller.require(Role::Viewer)?;
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let rows = state.store.audit_list(limit, query.before).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| AuditRecord {
                id: r.id,
                at: time(r.entry.at_ms),
                actor: r.entry.actor,
                action: r.entry.action,
                batch_id: r.entry.batch_id.map(|b| b.to_string()),
                order_id: r.entry.order_id,
                outcome: r.entry.outcome,
                detail: r.entry.detail,
            })
            .collect(),
    ))
}

/// Every token (admin).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Tokens by name (never the tokens)", body = [TokenInfo]),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
    ))]
pub async fn list_tokens(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    caller.require(Role::Admin)?;
    let list = state.store.api_token_list().await?;
    Ok(Json(
        list.into_iter()
            .map(|t| TokenInfo {
                name: t.name,
                role: t.role.to_string(),
                created_at: time(t.created_at_ms),
                revoked_at: t.revoked_at_ms.map(time),
            })
            .collect(),
    ))
}

/// The body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// A unique name.
    #[schema(min_length = 1)]
    name: String,
    /// `viewer`, `operator`, `approver` or `admin`.
    #[schema(pattern = "^(viewer|operator|approver|admin)$")]
    role: String,
}

/// Makes a token (admin); it is in the answer, once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens",
    security(("bearer" = [])),
    request_body = TokenRequest,
    responses(
        (status = 201, description = "The new token, shown once", body = NewToken),
        (status = 400, description = "An unknown role or an empty name, or a body that is not the documented JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ))]
pub async fn create_token(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    caller.require(Role::Admin)?;
    let role: Role = request.role.parse().map_err(ApiError::BadRequest)?;
    let now = chrono::Utc::now().timestamp_millis();
    let token = tokens::create(&state.store, &caller.actor(), &request.name, role, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewToken {
            name: request.name,
            role: role.to_string(),
            token,
        }),
    ))
}

/// Revokes a token (admin).
#[utoipa::path(delete, path = "/api/v1/tokens/{name}", tag = "tokens",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The token's name")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "No unrevoked token of that name", body = ErrorBody),
    ))]
pub async fn revoke_token(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let now = chrono::Utc::now().timestamp_millis();
    if tokens::revoke(&state.store, &caller.actor(), &name, now).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "no unrevoked token named `{name}`"
        )))
    }
}
