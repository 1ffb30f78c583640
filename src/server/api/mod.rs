//! The operator's HTTP API under `/api/v1`: JSON, `Authorization: Bearer <token>`, roles
//! `viewer < operator < approver < admin`. Each route is registered together with its OpenAPI
//! description (`utoipa-axum`'s `routes!`), so `GET /api/v1/openapi.json` lists exactly the
//! routes served.

mod actions;
mod auth;
mod batches;
mod error;
mod extract;
mod json;
mod reads;

pub(crate) use actions::act;
pub use auth::Caller;
pub(crate) use batches::{batch_id, submit_as};
pub use error::{ApiError, LineError};
pub(crate) use extract::ApiQuery;

use crate::config::Config;
use crate::store::Store;
use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The largest CSV upload accepted (the API's other bodies are small).
pub const MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

/// What the API's handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The store.
    pub store: Store,
    /// The configuration (its profiles, for uploads).
    pub config: Arc<Config>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cardbatch",
        description = "Issue payment cards in bulk: batches, their orders, the operator's controls."
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn documented() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(batches::list_batches, batches::submit_batch))
        .routes(routes!(batches::get_batch))
        .routes(routes!(batches::list_orders))
        .routes(routes!(actions::pause))
        .routes(routes!(actions::resume))
        .routes(routes!(actions::cancel))
        .routes(routes!(actions::approve))
        .routes(routes!(actions::requeue))
        .routes(routes!(actions::attach))
        .routes(routes!(reads::reconcile))
        .routes(routes!(reads::audit))
        .routes(routes!(reads::list_tokens, reads::create_token))
        .routes(routes!(reads::revoke_token))
}

/// The OpenAPI document of every API route (generated from the handlers).
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().into_openapi()
}

/// The API's routes over `state`, with `GET /api/v1/openapi.json` (readable without a token:
/// it describes the API and holds no data).
pub fn routes(state: ApiState) -> Router {
    let (router, mut doc) = documented().split_for_parts();
    doc.paths.paths.insert(
        "/api/v1/openapi.json".into(),
        utoipa::openapi::path::PathItem::new(
            utoipa::openapi::HttpMethod::Get,
            utoipa::openapi::path::OperationBuilder::new()
                .summary(Some("This document"))
                .response(
                    "200",
                    utoipa::openapi::Response::new("The OpenAPI document"),
                ),
        ),
    );
    let doc = Arc::new(doc);
    router
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        .with_state(state)
}
