//! `cardbatch demo`: the whole system against the sandbox, with faults, on loopback.

use cardbatch::demo::{DemoOptions, run};
use cardbatch::domain::ProviderKind;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_settles_every_provider_and_matches_the_ledger_one_for_one() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let options = DemoOptions::new(dir.path().join("demo"));

    // Act
    let outcome = run(options).await.expect("the demo runs to the end");

    // Assert: every provider has a batch, every order settled, the ledger agrees.
    let report = outcome.report_text();
    assert!(outcome.is_reconciled(), "{report}");
    assert!(outcome.verification.mismatches.is_empty(), "{report}");
    for kind in ProviderKind::ALL {
        let batch = outcome
            .settlements
            .iter()
            .find(|r| r.profile == kind.as_str())
            .unwrap_or_else(|| panic!("no batch for {kind}: {report}"));
        assert!(batch.orders > 0, "{kind}: {report}");
        assert!(batch.is_complete(), "{kind}: {report}");
        assert!(
            batch.issued_by_webhook + batch.issued_by_lookup > 0,
            "{kind} issued nothing: {report}"
        );
        assert!(report.contains(kind.as_str()), "{report}");
    }
    // Every card the providers made is held by exactly one order, and there were cards.
    assert!(outcome.verification.cards > 0);
    assert_eq!(
        outcome.verification.cards, outcome.verification.carded_orders,
        "{report}"
    );
    // The faults were on: something was retried.
    let transient: u64 = outcome.faults.iter().map(|f| f.transient).sum();
    let retries: u64 = outcome.faults.iter().map(|f| f.retries).sum();
    assert!(transient > 0, "no transient fault fired: {report}");
    assert!(retries > 0, "nothing was retried: {report}");
    outcome.store.close().await;
}

#[test]
fn the_demo_command_exits_0_and_writes_one_results_csv_per_provider() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("out");

    // Act: the real binary, from a directory with no configuration.
    let output = Command::new(env!("CARGO_BIN_EXE_cardbatch"))
        .arg("demo")
        .arg("--dir")
        .arg(&demo_dir)
        .current_dir(dir.path())
        .env_remove("CARDBATCH_CONFIG")
        .env_remove("CARDBATCH_DATABASE_URL")
        .output()
        .unwrap();

    // Assert
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("match one for one"), "{stdout}");
    for kind in ProviderKind::ALL {
        let name = format!("results-{}.csv", kind.as_str().replace('_', "-"));
        let text =
            std::fs::read_to_string(demo_dir.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("line,order_ref,state"));
        assert!(lines.count() > 0, "{name} has no rows");
    }
    // Without --keep, only the results stay.
    assert!(!demo_dir.join("cardbatch.db").exists());
}
