//! Submitting CSV files end to end: file -> validated orders -> one batch transaction, on both
//! engines. (The reader's own rules are covered in `ingest_rows.rs` and `ingest_header.rs`;
//! the writer's in `batch.rs`.)

use crate::support::{TestDb, data_rows, example};
use cardbatch::config::{DEFAULT_SANDBOX_ADDR, Profile};
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::ingest::{
    FileError, SubmitError, SubmitOptions, SubmitOutcome, SubmitReport, submit,
};
use cardbatch::store::Store;
use std::path::{Path, PathBuf};

on_both_engines!(
    each_providers_example_csv_becomes_one_batch_of_queued_orders,
    a_file_with_errors_reports_every_bad_line_and_writes_nothing,
    skip_invalid_queues_the_valid_rows_and_writes_the_rejects_file,
    a_dry_run_writes_nothing_but_reports_what_would_happen,
    resubmitting_a_file_creates_no_batch_and_names_the_first_one,
    overlapping_files_queue_only_the_new_refs,
    an_unreadable_file_is_refused_naming_the_problem_before_anything_is_written,
    a_header_without_orders_is_refused_not_reported_as_nothing_new,
    a_reference_reused_for_different_content_is_an_error_on_its_line,
    a_quote_never_closed_refuses_the_file_naming_its_line_even_when_skipping_invalid_rows,
    a_clean_file_leaves_no_rejects_file_behind,
);

async fn submit_file(
    store: &Store,
    provider: ProviderKind,
    path: &Path,
    options: SubmitOptions,
) -> Result<SubmitReport, SubmitError> {
    let profile = Profile::sandbox(provider, DEFAULT_SANDBOX_ADDR);
    let file = std::fs::File::open(path).unwrap();
    submit(store, provider.as_str(), &profile, path, file, options).await
}

async fn batches(store: &Store) -> usize {
    store.batch_list().await.unwrap().len()
}

async fn queued(store: &Store) -> u64 {
    let counts = store.order_count_by_state().await.unwrap();
    counts.values().sum()
}

fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// An Alchemy Pay file `name` in `dir` with these `rows` under the minimal header.
fn alchemy_file(dir: &tempfile::TempDir, name: &str, rows: &str) -> PathBuf {
    let head = "order_ref,first_name,last_name,deposit\n";
    write_temp(dir, name, format!("{head}{rows}").as_bytes())
}

async fn each_providers_example_csv_becomes_one_batch_of_queued_orders(db: TestDb) {
    let store = db.store().await;
    for provider in ProviderKind::ALL {
        // Arrange
        let path = example(provider);
        let expected = data_rows(&path) as u64;
        assert!(expected >= 20, "{provider}: only {expected} example rows");

        // Act
        let report = submit_file(&store, provider, &path, SubmitOptions::default())
            .await
            .unwrap();

        // Assert
        assert_eq!(
            report.outcome,
            SubmitOutcome::Queued,
            "{provider}: {:?}",
            report.errors
        );
        assert_eq!(report.insert.inserted, expected, "{provider}");
        let status = store.batch_status(report.batch_id).await.unwrap();
        assert_eq!(status.summary.provider, provider);
        assert_eq!(
            status.summary.counts.get(&OrderState::Queued),
            Some(&expected)
        );
        assert_eq!(status.summary.total(), expected);
    }
    assert_eq!(batches(&store).await, 4);
}

async fn a_file_with_errors_reports_every_bad_line_and_writes_nothing(db: TestDb) {
    // Arrange: lines 3 and 5 are bad (a name with digits, a deposit below 10 USD); 2 and 4 good.
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(
        &dir,
        "bad.csv",
        b"order_ref,first_name,last_name,deposit\nA-1,Milton,Schmitt,10.00\nA-2,R2D2,Droid,50\nA-3,Ana,Souza,4999.99\nA-4,Bia,Lima,9.99\n",
    );

    // Act
    let report = submit_file(
        &store,
        ProviderKind::AlchemypayVcc,
        &path,
        SubmitOptions::default(),
    )
    .await
    .unwrap();

    // Assert
    assert_eq!(report.outcome, SubmitOutcome::Refused);
    let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 5]);
    assert_eq!(report.errors[0].column.as_deref(), Some("first_name"));
    assert_eq!(report.errors[1].column.as_deref(), Some("deposit"));
    assert_eq!(batches(&store).await, 0);
    assert_eq!(queued(&store).await, 0);
    assert!(!dir.path().join("bad.rejected.csv").exists());
}

async fn skip_invalid_queues_the_valid_rows_and_writes_the_rejects_file(db: TestDb) {
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(
        &dir,
        "mixed.csv",
        b"order_ref,first_name,last_name,deposit\nA-1,Milton,Schmitt,10.00\nA-2,R2D2,Droid,50\nA-3,Ana,Souza,4999.99\n",
    );
    let options = SubmitOptions {
        skip_invalid: true,
        ..Default::default()
    };

    let report = submit_file(&store, ProviderKind::AlchemypayVcc, &path, options)
        .await
        .unwrap();

    assert_eq!(report.outcome, SubmitOutcome::Queued);
    assert_eq!(report.insert.inserted, 2);
    assert_eq!(report.invalid, 1);
    let rejects = std::fs::read_to_string(dir.path().join("mixed.rejected.csv")).unwrap();
    let mut lines = rejects.lines();
    assert_eq!(
        lines.next(),
        Some("order_ref,first_name,last_name,deposit,reason")
    );
    let rejected = lines.next().unwrap();
    assert!(rejected.starts_with("A-2,R2D2,Droid,50,"), "{rejected}");
    assert!(rejected.contains("line 3"), "{rejected}");
    assert_eq!(lines.next(), None);
    let rows = store.order_list(report.batch_id, None).await.unwrap();
    let refs: Vec<_> = rows.iter().map(|o| o.order_ref.as_str()).collect();
    assert_eq!(refs, vec!["A-1", "A-3"]);
}

async fn a_dry_run_writes_nothing_but_reports_what_would_happen(db: TestDb) {
    let store = db.store().await;
    let path = example(ProviderKind::Uqpay);
    let first = submit_file(&store, ProviderKind::Uqpay, &path, SubmitOptions::default())
        .await
        .unwrap();
    let options = SubmitOptions {
        dry_run: true,
        ..Default::default()
    };

    let dry = submit_file(&store, ProviderKind::Uqpay, &path, options)
        .await
        .unwrap();

    assert_eq!(dry.outcome, SubmitOutcome::DryRun);
    assert_eq!(dry.insert.inserted, 0);
    assert_eq!(dry.insert.duplicates, first.insert.inserted);
    assert_eq!(batches(&store).await, 1);
}

async fn resubmitting_a_file_creates_no_batch_and_names_the_first_one(db: TestDb) {
    let store = db.store().await;
    let path = example(ProviderKind::QitechPrepaid);
    let first = submit_file(
        &store,
        ProviderKind::QitechPrepaid,
        &path,
        SubmitOptions::default(),
    )
    .await
    .unwrap();

    let again = submit_file(
        &store,
        ProviderKind::QitechPrepaid,
        &path,
        SubmitOptions::default(),
    )
    .await
    .unwrap();

    assert_eq!(again.outcome, SubmitOutcome::NothingNew);
    assert_eq!(again.insert.inserted, 0);
    assert_eq!(again.insert.duplicates, first.insert.inserted);
    assert_eq!(
        again.insert.duplicates_by_batch.get(&first.batch_id),
        Some(&first.insert.inserted)
    );
    assert_eq!(batches(&store).await, 1);
    assert_eq!(queued(&store).await, first.insert.inserted);
}

async fn overlapping_files_queue_only_the_new_refs(db: TestDb) {
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let one = alchemy_file(&dir, "one.csv", "B-1,Ana,Souza,10\nB-2,Bia,Lima,20\n");
    let two = alchemy_file(&dir, "two.csv", "B-2,Bia,Lima,20\nB-3,Caio,Reis,30\n");
    let first = submit_file(
        &store,
        ProviderKind::AlchemypayVcc,
        &one,
        SubmitOptions::default(),
    )
    .await
    .unwrap();

    let second = submit_file(
        &store,
        ProviderKind::AlchemypayVcc,
        &two,
        SubmitOptions::default(),
    )
    .await
    .unwrap();

    assert_eq!(second.outcome, SubmitOutcome::Queued);
    assert_eq!(second.insert.inserted, 1);
    assert_eq!(
        second.insert.duplicates_by_batch.get(&first.batch_id),
        Some(&1)
    );
    assert_eq!(second.insert.samples[0].line, 2);
    assert_eq!(second.insert.samples[0].order_ref, "B-2");
    assert_eq!(queued(&store).await, 3);
}

/// A file refused whole, and what the refusal must say.
struct Unreadable {
    name: &'static str,
    provider: ProviderKind,
    contents: &'static [u8],
    /// Parts of the error message.
    says: &'static [&'static str],
    /// The columns a missing-column error names (none: another error).
    missing: &'static [&'static str],
}

/// A file that cannot be read (an encoding it is not in, a column it lacks) is refused whole,
/// with a message naming the problem, before anything is written.
async fn an_unreadable_file_is_refused_naming_the_problem_before_anything_is_written(db: TestDb) {
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        Unreadable {
            // "Jo\xe3o" is João in Latin-1 / Windows-1252.
            name: "latin1.csv",
            provider: ProviderKind::QitechPrepaid,
            contents: b"order_ref;account_key;printed_name\nP-1;5294ed8d-08fc-4397-b15f-6d9aa07b0041;Ana Souza\nP-2;5294ed8d-08fc-4397-b15f-6d9aa07b0041;Jo\xe3o Silva\n",
            says: &["line 3", "UTF-8", "Latin-1"],
            missing: &[],
        },
        Unreadable {
            name: "nocol.csv",
            provider: ProviderKind::AlchemypayVcc,
            contents: b"order_ref,first_name,deposit\nA-1,Milton,10\n",
            says: &["last_name"],
            missing: &["last_name"],
        },
    ];
    for case in cases {
        // Arrange
        let name = case.name;
        let path = write_temp(&dir, name, case.contents);

        // Act
        let err = submit_file(&store, case.provider, &path, SubmitOptions::default())
            .await
            .unwrap_err();

        // Assert
        let message = err.to_string();
        for part in case.says {
            assert!(message.contains(part), "{name}: {message}");
        }
        if !case.missing.is_empty() {
            match &err {
                SubmitError::File {
                    source: FileError::MissingColumns { columns, .. },
                    ..
                } => assert_eq!(columns, case.missing, "{name}"),
                other => panic!("{name}: expected a missing-column error, got {other:?}"),
            }
        }
        assert_eq!(batches(&store).await, 0, "{name}");
        assert_eq!(queued(&store).await, 0, "{name}");
    }
}

async fn a_header_without_orders_is_refused_not_reported_as_nothing_new(db: TestDb) {
    // Arrange: a header, blank lines, no order (the wrong export, or a cut file).
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "empty.csv", b"order_ref,cardholder_id\n\n\n");

    // Act
    let skipping = SubmitOptions {
        skip_invalid: true,
        ..SubmitOptions::default()
    };
    let result = submit_file(&store, ProviderKind::Uqpay, &path, skipping).await;

    // Assert: refused as a file error (the CLI's exit 3), nothing written, no rejects file left.
    let Err(SubmitError::File { source, .. }) = result else {
        panic!("{result:?}")
    };
    assert!(matches!(source, FileError::NoOrders), "{source:?}");
    assert_eq!(batches(&store).await, 0);
    assert!(!dir.path().join("empty.rejected.csv").exists());
}

async fn a_reference_reused_for_different_content_is_an_error_on_its_line(db: TestDb) {
    // Arrange: B-1 queued earlier; the new file repeats it for another person, and repeats its
    // own line 2 with another amount.
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let one = alchemy_file(&dir, "one.csv", "B-1,Ana,Souza,10\n");
    let two = alchemy_file(
        &dir,
        "two.csv",
        "B-2,Bia,Lima,20\nB-1,Carla,Dias,10\nB-2,Bia,Lima,25\nB-3,Caio,Reis,30\n",
    );
    submit_file(
        &store,
        ProviderKind::AlchemypayVcc,
        &one,
        SubmitOptions::default(),
    )
    .await
    .unwrap();

    // Act
    let refused = submit_file(
        &store,
        ProviderKind::AlchemypayVcc,
        &two,
        SubmitOptions::default(),
    )
    .await
    .unwrap();
    let skipping = SubmitOptions {
        skip_invalid: true,
        ..SubmitOptions::default()
    };
    let skipped = submit_file(&store, ProviderKind::AlchemypayVcc, &two, skipping)
        .await
        .unwrap();

    // Assert: refused whole, naming both lines; with --skip-invalid the two other rows go in
    // and the conflicting ones to the rejects file.
    assert_eq!(refused.outcome, SubmitOutcome::Refused);
    assert_eq!(refused.invalid, 2);
    let lines: Vec<u64> = refused.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 4]);
    assert!(
        refused.errors[0].reason.contains("B-1"),
        "{}",
        refused.errors[0]
    );
    assert!(
        refused.errors[1].reason.contains("line 2 of this file"),
        "{}",
        refused.errors[1]
    );
    assert_eq!(skipped.outcome, SubmitOutcome::Queued);
    assert_eq!(skipped.insert.inserted, 2);
    assert_eq!(queued(&store).await, 3);
    let rejects = std::fs::read_to_string(skipped.rejects_file.unwrap()).unwrap();
    assert_eq!(rejects.lines().count(), 3, "{rejects}");
}

async fn a_quote_never_closed_refuses_the_file_naming_its_line_even_when_skipping_invalid_rows(
    db: TestDb,
) {
    // Arrange: 1,000 rows; the third opens a quote it never closes, which takes in every row
    // after it.
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("order_ref,first_name,last_name,deposit\n");
    for i in 0..1_000 {
        let opening = if i == 2 { "\"" } else { "" };
        text.push_str(&format!("{opening}Q-{i},Ana,Souza,10.00\n"));
    }
    let path = write_temp(&dir, "stray.csv", text.as_bytes());
    let options = SubmitOptions {
        skip_invalid: true,
        ..Default::default()
    };

    // Act
    let outcome = submit_file(&store, ProviderKind::AlchemypayVcc, &path, options).await;

    // Assert: refused at line 4 (the header is line 1), nothing written.
    let err = outcome.expect_err("the file is refused");
    let text = err.to_string();
    assert!(text.contains("line 4"), "{text}");
    assert!(text.contains("never closed"), "{text}");
    assert!(text.contains("line 1001"), "{text}");
    assert_eq!(batches(&store).await, 0);
    assert!(!dir.path().join("stray.rejected.csv").exists());
}

async fn a_clean_file_leaves_no_rejects_file_behind(db: TestDb) {
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(
        &dir,
        "clean.csv",
        b"order_ref,first_name,last_name,deposit\nC-1,Ana,Souza,10.00\n",
    );
    let options = SubmitOptions {
        skip_invalid: true,
        ..Default::default()
    };

    let report = submit_file(&store, ProviderKind::AlchemypayVcc, &path, options)
        .await
        .unwrap();

    assert_eq!(report.insert.inserted, 1);
    assert_eq!(report.rejects_file, None);
    assert!(!dir.path().join("clean.rejected.csv").exists());
}
