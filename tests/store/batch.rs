//! The batch writer: one transaction per batch, duplicates reported by owner.

use crate::support::{TestDb, duplicate_samples, new_batch, order, orders, submit};
use cardbatch::domain::OrderState;
use cardbatch::store::{BatchInsertReport, DuplicateOf};

on_both_engines!(
    a_batch_of_orders_is_written_in_one_transaction,
    a_rolled_back_batch_leaves_nothing_behind,
    resubmitting_a_file_creates_no_order_and_names_the_earlier_batch,
    overlapping_refs_are_split_between_new_and_duplicate,
    a_ref_repeated_within_the_file_points_at_its_earlier_line,
    duplicate_samples_stop_at_the_limit_but_counts_do_not,
    batch_reports_count_states_and_sum_amounts_per_currency,
);

async fn a_batch_of_orders_is_written_in_one_transaction(db: TestDb) {
    // Arrange: 2,345 rows cross every chunk size of both engines' write paths.
    let store = db.store().await;
    let batch = new_batch("uqpay");
    let mut writer = store.batch_writer(&batch).await.unwrap();

    // Act
    for o in orders("a", 2_345) {
        writer.push(o).await.unwrap();
    }
    let before_commit = store.order_count_by_state().await.unwrap();
    let report = writer.commit().await.unwrap();

    // Assert: invisible to others until the commit, then all queued.
    assert!(before_commit.is_empty(), "{before_commit:?}");
    assert_eq!(report.inserted, 2_345);
    assert_eq!(report.duplicates, 0);
    let counts = store.order_count_by_state().await.unwrap();
    assert_eq!(counts.get(&OrderState::Queued), Some(&2_345));
    let rows = store.order_list(batch.id, None).await.unwrap();
    assert_eq!(rows.len(), 2_345);
    assert_eq!(rows[0].order_ref, "a-0");
    assert_eq!(rows[0].line, 2);
    assert_eq!(rows[2_344].order_ref, "a-2344");
}

async fn a_rolled_back_batch_leaves_nothing_behind(db: TestDb) {
    // Arrange
    let store = db.store().await;
    let batch = new_batch("uqpay");
    let mut writer = store.batch_writer(&batch).await.unwrap();
    for o in orders("r", 1_200) {
        writer.push(o).await.unwrap();
    }

    // Act
    writer.rollback().await.unwrap();

    // Assert: no orders, no batch, and the refs are free to be used again.
    assert!(store.order_count_by_state().await.unwrap().is_empty());
    assert!(store.batch_list().await.unwrap().is_empty());
    let again = submit(&store, "uqpay", orders("r", 10)).await;
    assert_eq!(again.inserted, 10);
}

async fn resubmitting_a_file_creates_no_order_and_names_the_earlier_batch(db: TestDb) {
    // Arrange
    let store = db.store().await;
    let first = submit(&store, "uqpay", orders("f", 600)).await;

    // Act
    let second = submit(&store, "uqpay", orders("f", 600)).await;

    // Assert
    assert_eq!(second.inserted, 0);
    assert_eq!(second.duplicates, 600);
    assert_eq!(second.duplicates_by_batch.get(&first.batch_id), Some(&600));
    assert_eq!(second.duplicates_within_file, 0);
    assert_eq!(
        second.samples[0].duplicate_of,
        DuplicateOf::Batch(first.batch_id)
    );
    assert_eq!(second.samples[0].order_ref, "f-0");
    let counts = store.order_count_by_state().await.unwrap();
    assert_eq!(counts.get(&OrderState::Queued), Some(&600));
}

async fn overlapping_refs_are_split_between_new_and_duplicate(db: TestDb) {
    // Arrange: o-0..o-99 exist; the new file has o-50..o-149.
    let store = db.store().await;
    let first = submit(&store, "uqpay", orders("o", 100)).await;
    let overlapping: Vec<_> = (50..150).map(|i| order(i + 2, &format!("o-{i}"))).collect();

    // Act
    let report = submit(&store, "uqpay", overlapping).await;

    // Assert
    assert_eq!(report.inserted, 50);
    assert_eq!(report.duplicates, 50);
    assert_eq!(report.duplicates_by_batch.len(), 1);
    assert_eq!(report.duplicates_by_batch[&first.batch_id], 50);
    let lines: Vec<u64> = report.samples.iter().map(|s| s.line).collect();
    assert_eq!(lines, (52..102).collect::<Vec<_>>());
    // The same refs under another profile are different orders.
    let other = submit(&store, "uqpay_eu", orders("o", 100)).await;
    assert_eq!(other.inserted, 100);
}

async fn a_ref_repeated_within_the_file_points_at_its_earlier_line(db: TestDb) {
    // Arrange: line 5 repeats line 2 exactly; line 900 repeats line 3 exactly (another chunk
    // on SQLite).
    let store = db.store().await;
    let at = |line: u64, mut o: cardbatch::domain::NewOrder| {
        o.line = line;
        o
    };
    let mut rows = vec![
        order(2, "x-1"),
        order(3, "x-2"),
        order(4, "x-3"),
        at(5, order(2, "x-1")),
    ];
    rows.extend((6..900).map(|l| order(l, &format!("y-{l}"))));
    rows.push(at(900, order(3, "x-2")));

    // Act
    let report = submit(&store, "uqpay", rows).await;

    // Assert
    assert_eq!(report.duplicates, 2);
    assert_eq!(report.duplicates_within_file, 2);
    assert!(report.duplicates_by_batch.is_empty());
    let samples = duplicate_samples(&report);
    assert_eq!(
        samples,
        vec![
            (5, DuplicateOf::EarlierLine(2)),
            (900, DuplicateOf::EarlierLine(3))
        ]
    );
    assert_eq!(report.inserted, 3 + 894);
    // Even with the same content, a repeat within the file is an error for the caller.
    assert_eq!(report.conflicting, 2);
    let errors: Vec<u64> = report.conflicts.iter().map(|c| c.line).collect();
    assert_eq!(errors, vec![5, 900]);
}

async fn duplicate_samples_stop_at_the_limit_but_counts_do_not(db: TestDb) {
    let store = db.store().await;
    submit(&store, "uqpay", orders("s", 250)).await;

    let report = submit(&store, "uqpay", orders("s", 250)).await;

    assert_eq!(report.duplicates, 250);
    assert_eq!(report.samples.len(), BatchInsertReport::SAMPLE_LIMIT);
}

async fn batch_reports_count_states_and_sum_amounts_per_currency(db: TestDb) {
    // Arrange: 3 USD orders of 12.50 and 2 BRL orders of 7.00, one without an amount.
    let store = db.store().await;
    let mut rows = orders("t", 3);
    for (i, currency, amount) in [
        (3, "BRL", Some(700)),
        (4, "BRL", Some(700)),
        (5, "BRL", None),
    ] {
        let mut o = order(i + 2, &format!("t-{i}"));
        o.currency = Some(currency.into());
        o.amount_minor = amount;
        rows.push(o);
    }
    let report = submit(&store, "uqpay", rows).await;

    // Act
    let batches = store.batch_list().await.unwrap();
    let status = store.batch_status(report.batch_id).await.unwrap();
    let exported: Vec<_> =
        futures::TryStreamExt::try_collect::<Vec<_>>(store.order_export(report.batch_id))
            .await
            .unwrap();

    // Assert
    assert_eq!(batches.len(), 1);
    let summary = &batches[0];
    assert_eq!(summary.id, report.batch_id);
    assert_eq!(summary.total(), 6);
    assert_eq!(summary.counts.get(&OrderState::Queued), Some(&6));
    assert_eq!(summary.totals_minor.get("USD"), Some(&3_750));
    assert_eq!(summary.totals_minor.get("BRL"), Some(&1_400));
    assert_eq!(status.summary, *summary);
    assert!(status.failing.is_empty());
    assert_eq!(exported.len(), 6);
    assert_eq!(exported[5].order_ref, "t-5");
    assert!(store.batch_status(uuid::Uuid::new_v4()).await.is_err());
}
