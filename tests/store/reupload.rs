//! Re-uploading large files: every row of a file already ingested is reported as a duplicate
//! of the batch that holds it and nothing is written; a file that adds a few rows to one
//! already ingested queues exactly those. The writer finds the owners of a chunk's duplicates in
//! one set-based statement, so this stays as fast as a fresh ingest (BENCHMARKS.md).

use crate::support::TestDb;
use cardbatch::config::{DEFAULT_SANDBOX_ADDR, Profile};
use cardbatch::domain::ProviderKind;
use cardbatch::ingest::{SubmitOptions, SubmitOutcome, SubmitReport, submit};
use cardbatch::store::{DuplicateOf, Store};
use std::path::{Path, PathBuf};

/// More rows than a few writer chunks on either engine (SQLite 500, Postgres 5,000).
const ROWS: u64 = 12_000;

on_both_engines!(
    a_reupload_of_a_large_file_reports_every_row_as_a_duplicate_and_ingests_nothing,
    a_large_file_with_a_few_new_rows_queues_exactly_those,
);

async fn submit_file(store: &Store, path: &Path) -> SubmitReport {
    let provider = ProviderKind::AlchemypayVcc;
    let profile = Profile::sandbox(provider, DEFAULT_SANDBOX_ADDR);
    let file = std::fs::File::open(path).unwrap();
    submit(
        store,
        provider.as_str(),
        &profile,
        path,
        file,
        SubmitOptions::default(),
    )
    .await
    .unwrap()
}

/// An Alchemy Pay file of the rows `from..to` (references `R-{i}`).
fn large_file(dir: &tempfile::TempDir, name: &str, from: u64, to: u64) -> PathBuf {
    let mut out = String::from("order_ref,first_name,last_name,deposit\n");
    for i in from..to {
        out.push_str(&format!("R-{i},Ana,Souza,{}\n", 10 + i % 90));
    }
    let path = dir.path().join(name);
    std::fs::write(&path, out).unwrap();
    path
}

async fn a_reupload_of_a_large_file_reports_every_row_as_a_duplicate_and_ingests_nothing(
    db: TestDb,
) {
    // Arrange
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = large_file(&dir, "night.csv", 0, ROWS);
    let first = submit_file(&store, &path).await;
    assert_eq!(first.insert.inserted, ROWS);
    let before = store.batch_list().await.unwrap();

    // Act: the same file again, under another name.
    let renamed = dir.path().join("night-again.csv");
    std::fs::copy(&path, &renamed).unwrap();
    let again = submit_file(&store, &renamed).await;

    // Assert: every row a duplicate of the first batch, at its own line; nothing written.
    assert_eq!(again.outcome, SubmitOutcome::NothingNew);
    assert_eq!(again.rows, ROWS);
    assert_eq!(again.insert.inserted, 0);
    assert_eq!(again.insert.duplicates, ROWS);
    assert_eq!(again.insert.conflicting, 0);
    assert_eq!(again.insert.duplicates_within_file, 0);
    assert_eq!(
        again.insert.duplicates_by_batch.get(&first.batch_id),
        Some(&ROWS)
    );
    assert_eq!(again.insert.duplicates_by_batch.len(), 1);
    for sample in &again.insert.samples {
        assert_eq!(sample.duplicate_of, DuplicateOf::Batch(first.batch_id));
        assert_eq!(sample.order_ref, format!("R-{}", sample.line - 2));
    }
    assert_eq!(store.batch_list().await.unwrap(), before);
}

async fn a_large_file_with_a_few_new_rows_queues_exactly_those(db: TestDb) {
    // Arrange: the first file, then one that repeats it with 7 new rows in the middle of a
    // chunk and 3 at the end.
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let first = submit_file(&store, &large_file(&dir, "one.csv", 0, ROWS)).await;
    let mut two = std::fs::read_to_string(large_file(&dir, "two.csv", 0, ROWS)).unwrap();
    let middle = two.match_indices('\n').nth(251).unwrap().0 + 1;
    two.insert_str(
        middle,
        &(0..7)
            .map(|i| format!("N-{i},Bia,Lima,20\n"))
            .collect::<String>(),
    );
    two.push_str("M-1,Caio,Reis,30\nM-2,Caio,Reis,30\nM-3,Caio,Reis,30\n");
    let path = dir.path().join("two.csv");
    std::fs::write(&path, two).unwrap();

    // Act
    let second = submit_file(&store, &path).await;

    // Assert
    assert_eq!(second.outcome, SubmitOutcome::Queued);
    assert_eq!(second.insert.inserted, 10);
    assert_eq!(second.insert.duplicates, ROWS);
    assert_eq!(
        second.insert.duplicates_by_batch.get(&first.batch_id),
        Some(&ROWS)
    );
    let status = store.batch_status(second.batch_id).await.unwrap();
    assert_eq!(status.summary.total(), 10);
    let refs: Vec<String> = store
        .order_list(second.batch_id, None)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.order_ref)
        .collect();
    let mut expected: Vec<String> = (0..7).map(|i| format!("N-{i}")).collect();
    expected.extend((1..=3).map(|i| format!("M-{i}")));
    assert_eq!(refs, expected);
}
