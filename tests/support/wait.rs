//! The one way tests wait for something that has no notification to wait on (a row changed in
//! another component's transaction, a sandbox counter, a child process's progress).

use std::future::Future;
use std::time::Duration;

/// Polls `check` every 10 ms until its future yields true; panics after `timeout`, naming
/// `what`. `check` may assert on its own to fail early (a process that died, say).
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
