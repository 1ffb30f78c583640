//! Lost responses: the request was processed (the card exists), then the connection is closed
//! without a single byte of answer, as when a provider's gateway dies mid-flight.
//!
//! `server.rs` serves each connection itself and puts a [`ConnectionKill`] in every request's
//! extensions. A handler either returns [`LostResponse`] (a response marker the connection's
//! service recognises) or calls [`LostResponse::trigger`] with the request parts; either way the
//! connection task drops the socket before the response is written.

use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::sync::Notify;

/// The kill switch of one connection.
#[derive(Debug, Clone, Default)]
pub struct ConnectionKill {
    notify: Arc<Notify>,
}

impl ConnectionKill {
    /// Closes the connection with no answer.
    pub fn kill(&self) {
        // `notify_one` stores a permit, so the kill is not missed if the connection task is not
        // waiting at this instant.
        self.notify.notify_one();
    }

    /// Resolves when [`kill`](Self::kill) was called.
    pub async fn killed(&self) {
        self.notify.notified().await;
    }
}

/// Returned by a handler: no response is written and the connection is closed.
#[derive(Debug, Clone, Copy, Default)]
pub struct LostResponse;

impl LostResponse {
    /// Kills the connection a request arrived on, if it was served by the sandbox's server.
    /// Returns whether a kill switch was found.
    pub fn trigger(parts: &Parts) -> bool {
        match parts.extensions.get::<ConnectionKill>() {
            Some(kill) => {
                kill.kill();
                true
            }
            None => false,
        }
    }
}

impl IntoResponse for LostResponse {
    fn into_response(self) -> Response {
        // Outside the sandbox's server (e.g. `oneshot` in a unit test) this is an empty 500.
        let mut response = axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
        response.extensions_mut().insert(LostResponse);
        response
    }
}
