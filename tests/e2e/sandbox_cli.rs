//! `cardbatch sandbox --sandbox-config FILE`, the real binary: the file's faults, credentials
//! and webhook target are the ones in force (the option once shared the global `--config`'s
//! clap id, and the file was silently ignored), and the guide printed at start says so.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const CONFIG: &str = r#"
seed = 7
cardbatch_url = ""

[providers.uqpay]
webhook_url = "http://127.0.0.1:9/hooks/uqpay"
credentials = { "cli-client" = "cli-key" }

[providers.uqpay.faults]
transient_error_rate = 0.25
rate_limit_per_minute = 42

[providers.qitech_prepaid.faults]
lost_response_rate = 0.5
"#;

#[tokio::test]
async fn the_sandbox_command_runs_with_the_faults_credentials_and_webhook_target_of_its_file() {
    // Arrange: the file, and a free loopback port (bound, then released for the binary).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cardbatch"))
        .arg("sandbox")
        .arg("--sandbox-config")
        .arg(&path)
        .arg("--listen")
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // The guide is printed once the sandbox listens; its last line names the admin routes.
    // The reader keeps draining stderr afterwards: the pipe stays open while the child runs.
    let stderr = child.stderr.take().unwrap();
    let (guide_tx, guide_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut guide = String::new();
        let mut guide_tx = Some(guide_tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if guide_tx.is_some() {
                guide.push_str(&line);
                guide.push('\n');
            }
            if line.contains("admin:")
                && let Some(tx) = guide_tx.take()
            {
                let _ = tx.send(std::mem::take(&mut guide));
            }
        }
        if let Some(tx) = guide_tx.take() {
            let _ = tx.send(guide);
        }
    });
    let guide = guide_rx.await.unwrap();
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let token = |client_id: &'static str, api_key: &'static str| {
        http.post(format!("{base}/uqpay/api/v1/connect/token"))
            .header("x-client-id", client_id)
            .header("x-api-key", api_key)
            .send()
    };

    // Act
    let faults = http.get(format!("{base}/_sandbox/faults")).send().await;
    let configured = token("cli-client", "cli-key").await;
    child.kill().unwrap();
    child.wait().unwrap();

    // Assert
    assert!(guide.contains(&format!("sandbox on {base}")), "{guide}");
    assert!(
        guide.contains("callbacks -> http://127.0.0.1:9/hooks/uqpay"),
        "{guide}"
    );
    assert!(
        guide.contains("also accepted: the credentials in providers.uqpay.credentials"),
        "{guide}"
    );
    let faults: Value = faults.expect("the sandbox answers").json().await.unwrap();
    assert_eq!(faults["uqpay"]["transient_error_rate"], 0.25);
    assert_eq!(faults["uqpay"]["rate_limit_per_minute"], 42);
    assert_eq!(faults["qitech_prepaid"]["lost_response_rate"], 0.5);
    assert_eq!(faults["alchemypay_vcc"]["transient_error_rate"], 0.0);
    assert_eq!(
        configured.unwrap().status(),
        200,
        "a client only the file names"
    );
}
