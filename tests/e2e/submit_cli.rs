//! `cardbatch submit` as users run it, on input it must refuse: the exit code says which kind of
//! refusal (2 a bad command line, 3 refused input), stderr says why, and no batch is created.
//! On Postgres the orders go through the COPY staging path, on SQLite through inserts.

use crate::support::{TestDb, cardbatch_output};
use serde_json::Value;
use std::path::Path;

on_both_engines!(
    skip_invalid_with_no_valid_row_is_refused_and_creates_no_batch,
    an_unknown_provider_is_a_usage_error_listing_the_profiles,
    a_missing_file_or_a_directory_is_refused_naming_the_path,
    a_row_repeated_in_the_file_refuses_it_or_is_skipped_and_reported,
);

const HEADER: &str = "order_ref,first_name,last_name,deposit\n";

/// Runs `cardbatch --database-url URL <args>`; returns (exit code, stdout, stderr).
async fn cardbatch(url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    cardbatch_output(["--database-url", url].iter().chain(args)).await
}

/// The batches `cardbatch batches --json` lists.
async fn batches(url: &str) -> usize {
    let (code, out, err) = cardbatch(url, &["batches", "--json"]).await;
    assert_eq!(code, Some(0), "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    list.as_array().unwrap().len()
}

fn submit_args<'a>(file: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "submit",
        file.to_str().unwrap(),
        "--provider",
        "alchemypay_vcc",
    ];
    args.extend_from_slice(extra);
    args
}

async fn skip_invalid_with_no_valid_row_is_refused_and_creates_no_batch(db: TestDb) {
    // Arrange: deposits of 1 are below Alchemy Pay's single-load minimum.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, format!("{HEADER}A-1,Ana,Lima,1\nA-2,Bia,Lima,2\n")).unwrap();
    let url = db.url.as_str();

    // Act
    let (code, _, err) = cardbatch(url, &submit_args(&bad, &["--skip-invalid"])).await;

    // Assert
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("line 2: deposit") && err.contains("line 3: deposit"),
        "{err}"
    );
    assert!(err.contains("refused: all 2 rows are invalid"), "{err}");
    assert_eq!(batches(url).await, 0);
    // The rejects file is there to fix the rows in.
    let rejects = std::fs::read_to_string(dir.path().join("bad.rejected.csv")).unwrap();
    assert_eq!(rejects.lines().count(), 3, "{rejects}");

    // The same rows with one valid among them: queued, so the count above could see a batch.
    let mixed = dir.path().join("mixed.csv");
    std::fs::write(&mixed, format!("{HEADER}A-1,Ana,Lima,1\nA-3,Ana,Lima,10\n")).unwrap();
    let (code, _, err) = cardbatch(url, &submit_args(&mixed, &["--skip-invalid"])).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(batches(url).await, 1);
}

async fn an_unknown_provider_is_a_usage_error_listing_the_profiles(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(&good, format!("{HEADER}A-1,Ana,Lima,10\n")).unwrap();
    let url = db.url.as_str();

    let (code, _, err) = cardbatch(
        url,
        &["submit", good.to_str().unwrap(), "--provider", "uqpai"],
    )
    .await;

    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--provider uqpai: no such profile"), "{err}");
    for profile in [
        "alchemypay_vcc",
        "qitech_postpaid",
        "qitech_prepaid",
        "uqpay",
    ] {
        assert!(err.contains(profile), "{profile} not listed: {err}");
    }
    assert_eq!(batches(url).await, 0);
}

async fn a_missing_file_or_a_directory_is_refused_naming_the_path(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.csv");
    let url = db.url.as_str();

    let (code, _, err) = cardbatch(url, &submit_args(&missing, &[])).await;
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains(&format!("{}: no such file", missing.display())),
        "{err}"
    );

    let (code, _, err) = cardbatch(url, &submit_args(dir.path(), &["--skip-invalid"])).await;
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains(&format!("{}: is a directory", dir.path().display())),
        "{err}"
    );
    assert_eq!(batches(url).await, 0);
}

async fn a_row_repeated_in_the_file_refuses_it_or_is_skipped_and_reported(db: TestDb) {
    // Arrange: line 4 is line 2 again, character for character.
    let dir = tempfile::tempdir().unwrap();
    let twice = dir.path().join("twice.csv");
    std::fs::write(
        &twice,
        format!("{HEADER}A-1,Ana,Lima,10\nA-2,Bia,Lima,20\nA-1,Ana,Lima,10\n"),
    )
    .unwrap();
    let url = db.url.as_str();

    // Act + Assert: refused whole, naming both lines.
    let (code, _, err) = cardbatch(url, &submit_args(&twice, &[])).await;
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("line 4: order_ref: `A-1` repeats line 2 of this file"),
        "{err}"
    );
    assert!(err.contains("refused: 1 of 3 rows are invalid"), "{err}");
    assert_eq!(batches(url).await, 0);

    // With --skip-invalid: the first occurrence is queued, the repeat reported and rejected.
    let (code, out, err) =
        cardbatch(url, &submit_args(&twice, &["--skip-invalid", "--json"])).await;
    assert_eq!(code, Some(0), "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["outcome"], "queued", "{summary}");
    assert_eq!(summary["queued"], 2, "{summary}");
    assert_eq!(summary["invalid"], 1, "{summary}");
    assert_eq!(summary["errors"][0]["line"], 4, "{summary}");
    assert_eq!(summary["errors"][0]["column"], "order_ref", "{summary}");
    let rejects = std::fs::read_to_string(dir.path().join("twice.rejected.csv")).unwrap();
    let rejected: Vec<&str> = rejects.lines().skip(1).collect();
    assert_eq!(rejected.len(), 1, "{rejects}");
    // The store finds the repeat, after the row's cells are gone: the reason names the line.
    assert!(
        rejected[0].contains("\"line 4, order_ref: `A-1` repeats line 2 of this file"),
        "{rejects}"
    );
    assert_eq!(batches(url).await, 1);

    // A repeat after an invalid row is found in the same pass: both lines are reported.
    let both = dir.path().join("both.csv");
    std::fs::write(
        &both,
        format!("{HEADER}B-1,Ana,Lima,10\nB-2,Bia,Lima,1\nB-1,Ana,Lima,10\n"),
    )
    .unwrap();
    let (code, _, err) = cardbatch(url, &submit_args(&both, &[])).await;
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("line 3: deposit"), "{err}");
    assert!(
        err.contains("line 4: order_ref: `B-1` repeats line 2 of this file"),
        "{err}"
    );
    assert_eq!(batches(url).await, 1);
}
