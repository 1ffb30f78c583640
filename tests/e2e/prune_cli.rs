//! `cardbatch prune` as an operator runs it, with a [retention] section: `--dry-run` says what
//! would go and changes nothing; then the old settled batch is exported and deleted, the
//! batch with orders still queued stays.

use crate::support::{TestDb, cardbatch_output, orders, submit};
use cardbatch::domain::OrderState;
use cardbatch::store::Completion;
use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

on_both_engines!(prune_dry_runs_then_exports_and_deletes_the_old_settled_batch);

/// Runs `cardbatch --config CONFIG <args>`; returns (exit code, stdout, stderr).
async fn cardbatch(config: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let config = ["--config".as_ref(), config.as_os_str()];
    cardbatch_output(config.into_iter().chain(args.iter().map(OsStr::new))).await
}

async fn prune_dry_runs_then_exports_and_deletes_the_old_settled_batch(db: TestDb) {
    // Arrange: two batches created in 1970 (support::new_batch): one whose 4 orders were all
    // rejected then, one with orders still queued.
    let store = db.store().await;
    let old = submit(&store, "uqpay", orders("old", 4)).await.batch_id;
    let claimed = store
        .order_claim_due("uqpay", "w1", 4, Duration::from_secs(60), 10_000)
        .await
        .unwrap();
    let completions: Vec<Completion> = claimed
        .iter()
        .map(|o| Completion {
            order_id: o.id,
            state: OrderState::Rejected,
            next_attempt_at: None,
            provider_refs: None,
            error: Some(("E1".into(), "refused".into())),
            attempts: Vec::new(),
            nothing_sent: false,
        })
        .collect();
    store
        .order_complete_many("w1", &completions, 10_000)
        .await
        .unwrap();
    let open = submit(&store, "uqpay", orders("open", 2)).await.batch_id;
    store.close().await;
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    let config = dir.path().join("cardbatch.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = {:?}\n[retention]\npersonal_data_days = 30\ndelete_batches_days = 365\nexport_dir = {:?}\n",
            db.url,
            exports.display().to_string()
        ),
    )
    .unwrap();

    // Act
    let (dry_code, dry_out, dry_err) = cardbatch(&config, &["prune", "--dry-run"]).await;
    let after_dry = db.store().await.batch_list().await.unwrap();
    let exported_by_dry = exports.exists();
    let (code, out, err) = cardbatch(&config, &["prune"]).await;

    // Assert: the dry run named the 4 orders and the batch, and wrote nothing.
    assert_eq!(dry_code, Some(0), "{dry_err}");
    assert!(
        dry_out.contains("personal data: 4 orders settled before"),
        "{dry_out}"
    );
    assert!(dry_out.contains("would be pruned"), "{dry_out}");
    assert!(
        dry_out.contains(&format!("{old}: 4 orders would be exported to")),
        "{dry_out}"
    );
    assert_eq!(after_dry.len(), 2);
    assert!(!exported_by_dry);
    // The prune exported the settled batch, then deleted it; the open one stays.
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("were pruned"), "{out}");
    assert!(out.contains("and deleted"), "{out}");
    let export = std::fs::read_to_string(exports.join(format!("{old}.csv"))).unwrap();
    let lines: Vec<&str> = export.lines().collect();
    assert_eq!(lines.len(), 5, "{export}");
    assert!(lines[0].starts_with("line,order_ref,state"), "{export}");
    assert!(
        lines[1].contains("old-0") && lines[1].contains("rejected"),
        "{export}"
    );
    let store = db.store().await;
    let left: Vec<_> = store
        .batch_list()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(left, vec![open]);
}
