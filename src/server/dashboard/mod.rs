//! The dashboard at `/`: server-rendered pages (askama templates compiled into the binary) over
//! the same store reads, role checks and control actions as the API. Log-in with an API token,
//! kept in an `HttpOnly`, `SameSite=Strict` cookie; every form of a logged-in page carries a
//! CSRF token derived from the session, checked before anything is done.

mod lanes;
mod pages;
mod schedules;
mod session;
mod upload;

use crate::providers::ProfileClients;
use crate::server::api::ApiState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Extension, Router};

/// The dashboard's routes; `clients` are this process's provider clients (their lanes).
pub fn routes(state: ApiState, clients: ProfileClients) -> Router {
    Router::new()
        .route("/schedules", get(schedules::schedules))
        .route("/lanes", get(lanes::lanes).layer(Extension(clients)))
        .route("/", get(pages::batches))
        .route("/login", post(session::login))
        .route("/logout", post(session::logout))
        .route("/batches/{id}", get(pages::batch))
        .route("/batches/{id}/{action}", post(pages::act))
        .route(
            "/upload",
            get(upload::form)
                .post(upload::submit)
                .layer(DefaultBodyLimit::max(crate::server::api::MAX_UPLOAD_BYTES)),
        )
        .with_state(state)
}
