//! The read commands write to stdout; when its reader goes away (`cardbatch orders B | head`),
//! they stop quietly with the shell's "killed by SIGPIPE" status instead of panicking.

use crate::support::{PG_URL_VAR, TestDb, orders, submit};
use std::process::Stdio;

/// Runs `cardbatch --database-url URL <args>` with stdout a pipe that is closed before anything
/// is read from it, and returns (exit code, stderr).
async fn run_with_closed_stdout(url: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cardbatch"))
        // The child reads CARDBATCH_* as configuration; the test database variable is not one.
        .env_remove(PG_URL_VAR)
        .arg("--database-url")
        .arg(url)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Closing our end: every write the child makes fails with EPIPE, whether it writes before or
    // after this point (the output is larger than a pipe's buffer, so it cannot all fit early).
    drop(child.stdout.take());
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_closed_stdout_ends_the_read_commands_quietly() {
    // Arrange: enough orders for each command's output to exceed a 64 KiB pipe buffer.
    let db = TestDb::sqlite().await;
    let store = db.store().await;
    let batch = submit(&store, "uqpay", orders("pipe", 3_000))
        .await
        .batch_id;
    store.close().await;
    let batch = batch.to_string();

    for args in [
        vec!["orders", batch.as_str()],
        vec!["orders", batch.as_str(), "--json"],
        vec!["export", batch.as_str()],
    ] {
        // Act
        let (code, stderr) = run_with_closed_stdout(&db.url, &args).await;

        // Assert
        assert_eq!(code, Some(141), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("error"), "{args:?}: {stderr}");
    }
}
