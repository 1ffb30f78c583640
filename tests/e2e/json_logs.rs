//! `--log-format json`: every line a `cardbatch run` writes to stderr is one JSON object with
//! its level and message, for log collectors. The config's `log_format` does the same, and the
//! flag wins over it. `metrics.listen` serves `/metrics` from a `cardbatch worker`, which has
//! no server of its own.

use crate::support::{RunProcess, TestDb, wait_until, write_config};
use cardbatch::domain::ProviderKind;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

on_both_engines!(
    run_logs_one_json_object_a_line,
    the_config_key_sets_the_log_format_and_the_flag_wins,
    a_worker_serves_metrics_on_metrics_listen,
);

/// Appends `toml` (top-level keys, before the tables) to the config at `path`.
fn prepend(path: &Path, toml: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, format!("{toml}\n{text}")).unwrap();
}

/// `cardbatch run --until-idle` with `flags`: its stderr.
async fn until_idle(config: &Path, dir: &Path, flags: &str) -> String {
    let log = dir.join(format!("run-{}.log", uuid::Uuid::new_v4().simple()));
    let command = format!("run --until-idle {flags}");
    let mut run = RunProcess::command(config, &command, &[ProviderKind::Uqpay], log.clone());
    let status = run.child.wait().await.unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {text}");
    text
}

async fn the_config_key_sets_the_log_format_and_the_flag_wins(db: TestDb) {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let profile = crate::support::profile(ProviderKind::Uqpay, "127.0.0.1:9");
    let config = write_config(dir.path(), &db.url, &profile, 30);
    prepend(&config, "log_format = \"json\"");

    // Act
    let from_config = until_idle(&config, dir.path(), "").await;
    let from_flag = until_idle(&config, dir.path(), "--log-format text").await;

    // Assert
    let is_json = |line: &str| serde_json::from_str::<Value>(line).is_ok();
    assert!(!from_config.is_empty());
    assert!(from_config.lines().all(is_json), "{from_config}");
    assert!(from_flag.contains("cardbatch started"), "{from_flag}");
    assert!(!from_flag.lines().any(is_json), "{from_flag}");
}

async fn a_worker_serves_metrics_on_metrics_listen(db: TestDb) {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let profile = crate::support::profile(ProviderKind::Uqpay, "127.0.0.1:9");
    let config = write_config(dir.path(), &db.url, &profile, 30);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut toml: toml::Value = toml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let mut metrics = toml::Table::new();
    metrics.insert(
        "listen".into(),
        toml::Value::String(format!("127.0.0.1:{port}")),
    );
    toml.as_table_mut()
        .unwrap()
        .insert("metrics".into(), toml::Value::Table(metrics));
    std::fs::write(&config, toml::to_string(&toml).unwrap()).unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");

    // Act
    let _worker = RunProcess::command(
        &config,
        "worker",
        &[ProviderKind::Uqpay],
        dir.path().join("worker.log"),
    );
    let body = std::sync::Mutex::new(String::new());
    wait_until("the worker's metrics", Duration::from_secs(60), || async {
        match reqwest::get(&url).await {
            Ok(r) if r.status().is_success() => {
                *body.lock().unwrap() = r.text().await.unwrap_or_default();
                true
            }
            _ => false,
        }
    })
    .await;

    // Assert
    let body = body.into_inner().unwrap();
    assert!(
        body.contains("cardbatch_oldest_due_order_age_seconds{profile=\"uqpay\"} 0"),
        "{body}"
    );
}

async fn run_logs_one_json_object_a_line(db: TestDb) {
    // Arrange
    let kind = ProviderKind::Uqpay;
    let dir = tempfile::tempdir().unwrap();
    // No order is ever sent: the provider's address is never called.
    let profile = crate::support::profile(kind, "127.0.0.1:9");
    let config = write_config(dir.path(), &db.url, &profile, 30);
    let log = dir.path().join("run.log");

    // Act
    let command = "run --until-idle --log-format json";
    let mut run = RunProcess::command(&config, command, &[kind], log.clone());
    let status = run.child.wait().await.unwrap();

    // Assert
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {text}");
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    assert!(messages.contains(&"cardbatch started"), "{text}");
    assert!(messages.contains(&"run --until-idle finished"), "{text}");
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string()),
        "{text}"
    );
}
