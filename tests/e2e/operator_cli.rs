//! The operator's commands as users run them: `token create|list|revoke`, `pause`, `resume`,
//! `cancel`, `approve`, `requeue`, `audit`, each recorded in the audit log.

use crate::support::{PG_URL_VAR, TestDb, orders, submit};
use serde_json::Value;

on_both_engines!(
    the_operators_commands_act_refuse_and_are_audited,
    a_batch_held_for_approval_is_approved_by_someone_else,
);

/// Runs `cardbatch --database-url URL <args>` as user `ana`; returns (success, stdout, stderr).
async fn cardbatch(url: &str, args: &[&str]) -> (bool, String, String) {
    cardbatch_as("ana", url, args).await
}

/// [`cardbatch`] as `user`, with batches of more than 2 UQPAY orders held for approval.
async fn cardbatch_as(user: &str, url: &str, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cardbatch"))
        .env_remove(PG_URL_VAR)
        .env("CARDBATCH_PROFILES__UQPAY__APPROVAL_OVER_ORDERS", "2")
        .env("USER", user)
        .arg("--database-url")
        .arg(url)
        .args(args)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn the_operators_commands_act_refuse_and_are_audited(db: TestDb) {
    // Arrange
    let store = db.store().await;
    let batch = submit(&store, "uqpay", orders("cli", 2)).await.batch_id;
    store.close().await;
    let id = batch.to_string();
    let url = db.url.as_str();

    // Act + Assert: a token, printed once and alone on stdout.
    let (ok, token, note) = cardbatch(
        url,
        &["token", "create", "--name", "ops", "--role", "operator"],
    )
    .await;
    assert!(ok, "{note}");
    let token = token.trim();
    assert!(token.starts_with("cbt_") && token.len() == 68, "{token}");
    assert!(note.contains("only this once"), "{note}");
    let (ok, listed, _) = cardbatch(url, &["token", "list", "--json"]).await;
    assert!(ok);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["name"], "ops");
    assert_eq!(listed[0]["role"], "operator");
    assert!(
        !listed.to_string().contains(&token[4..]),
        "the token was stored as given"
    );
    let (ok, _, why) = cardbatch(url, &["token", "create", "--name", "x", "--role", "root"]).await;
    assert!(!ok && why.contains("role"), "{why}");

    // Pause, refused twice, shown in `batches`.
    let (ok, out, err) = cardbatch(url, &["pause", &id[..8]]).await;
    assert!(ok && out.contains("paused"), "{out}{err}");
    let (ok, _, why) = cardbatch(url, &["pause", &id]).await;
    assert!(!ok && why.contains("paused"), "{why}");
    let (_, batches, _) = cardbatch(url, &["batches", "--json"]).await;
    let batches: Value = serde_json::from_str(&batches).unwrap();
    assert_eq!(batches[0]["state"], "paused");
    assert_eq!(batches[0]["submitted_by"], Value::Null);

    // Resume, cancel, and what a canceled batch refuses.
    assert!(cardbatch(url, &["resume", &id]).await.0);
    let (ok, out, _) = cardbatch(url, &["cancel", &id]).await;
    assert!(ok && out.contains("2 unsent orders canceled"), "{out}");
    let (ok, _, why) = cardbatch(url, &["approve", &id]).await;
    assert!(!ok && why.contains("canceled"), "{why}");
    let (ok, _, why) = cardbatch(url, &["requeue", &id]).await;
    assert!(!ok && why.contains("canceled"), "{why}");
    let (_, status, _) = cardbatch(url, &["status", &id]).await;
    assert!(status.contains("state canceled"), "{status}");

    // Revoke.
    assert!(cardbatch(url, &["token", "revoke", "ops"]).await.0);
    assert!(!cardbatch(url, &["token", "revoke", "ops"]).await.0);

    // Every action is in the audit log, newest first, with who did it.
    let (ok, audit, _) = cardbatch(url, &["audit", "--json"]).await;
    assert!(ok);
    let audit: Vec<Value> = serde_json::from_str(&audit).unwrap();
    let seen: Vec<(String, String)> = audit
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("token_revoke", "refused"),
        ("token_revoke", "ok"),
        ("requeue", "refused"),
        ("approve", "refused"),
        ("cancel", "ok"),
        ("resume", "ok"),
        ("pause", "refused"),
        ("pause", "ok"),
        ("token_create", "ok"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, o)| (a.to_string(), o.to_string()))
        .collect();
    assert_eq!(seen, expected);
    assert!(audit.iter().all(|r| r["actor"] == "cli:ana"));
    assert_eq!(audit[4]["batch_id"], id.as_str());
    let (_, table, _) = cardbatch(url, &["audit"]).await;
    assert!(
        table.contains("cli:ana") && table.contains("cancel"),
        "{table}"
    );
}

async fn a_batch_held_for_approval_is_approved_by_someone_else(db: TestDb) {
    // Arrange: a file of 3 UQPAY orders, over the profile's approval_over_orders = 2.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("held.csv");
    std::fs::write(
        &file,
        crate::support::csv(cardbatch::domain::ProviderKind::Uqpay, "h", 3, &[]),
    )
    .unwrap();
    let url = db.url.as_str();

    // Act
    let file = file.to_str().unwrap();
    let (ok, out, err) = cardbatch_as("maker", url, &["submit", file, "--provider", "uqpay"]).await;

    // Assert: queued, held, and said so.
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("awaiting approval (3 orders is over approval_over_orders = 2)"),
        "{out}"
    );
    let (_, batches, _) = cardbatch(url, &["batches", "--json"]).await;
    let batches: Value = serde_json::from_str(&batches).unwrap();
    assert_eq!(batches[0]["state"], "awaiting_approval");
    assert_eq!(batches[0]["submitted_by"], "cli:maker");
    let id = batches[0]["id"].as_str().unwrap().to_string();

    // Act + Assert: the maker may not approve; someone else may.
    let (ok, _, why) = cardbatch_as("maker", url, &["approve", &id]).await;
    assert!(!ok && why.contains("submitted"), "{why}");
    let (ok, out, err) = cardbatch_as("checker", url, &["approve", &id]).await;
    assert!(ok && out.contains("approved"), "{out}{err}");
    let (_, batches, _) = cardbatch(url, &["batches", "--json"]).await;
    let batches: Value = serde_json::from_str(&batches).unwrap();
    assert_eq!(batches[0]["state"], "active");
}
