//! `--log-format json`: every line a `cardbatch run` writes to stderr is one JSON object with
//! its level and message, for log collectors.

use crate::support::{RunProcess, TestDb, write_config};
use cardbatch::domain::ProviderKind;
use serde_json::Value;

on_both_engines!(run_logs_one_json_object_a_line);

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
