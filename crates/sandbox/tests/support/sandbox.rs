//! Starting a sandbox, waiting for a condition, reading answers.

use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use cardbatch_sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use serde_json::Value;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long a test waits for something that should happen quickly.
pub const WAIT: Duration = Duration::from_secs(20);

/// Starts a sandbox on an ephemeral loopback port.
pub async fn start(config: SandboxConfig) -> RunningSandbox {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Sandbox::start(config, listener).expect("sandbox starts")
}

/// Polls `cond` until it holds, panicking after [`WAIT`].
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Reads an answer's JSON as HTTP clients do: only when the answer says `application/json`
/// (parameters such as `charset` aside). `None` for any other media type.
pub fn json_by_content_type(headers: &HeaderMap, body: &[u8]) -> Option<Value> {
    let media = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = media.split(';').next()?.trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return None;
    }
    serde_json::from_slice(body).ok()
}
