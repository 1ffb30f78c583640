//! The batch writer's bulk path (Postgres: `COPY` into a staging table, then one `INSERT ...
//! SELECT` per stage, again with `ON CONFLICT` when a reference is taken): text arrives byte for
//! byte, duplicates within the file and
//! against earlier batches are reported on their lines across `COPY` chunks, the counters count
//! only what was inserted, and a failure in the middle leaves no batch.

use crate::support::{TestDb, duplicate_samples, new_batch, order, orders, submit};
use cardbatch::domain::NewOrder;
use cardbatch::store::{DuplicateOf, Store};

on_both_engines!(
    text_with_tabs_newlines_and_backslashes_is_stored_byte_for_byte,
    duplicates_across_copy_chunks_are_reported_on_their_lines_and_counted_once,
);

/// Rows enough for three `COPY` chunks (10,000 rows each).
const ROWS: u64 = 25_000;

/// The payload and idempotency key stored for `order_ref`, read with plain SQL.
async fn stored(db: &TestDb, order_ref: &str) -> (String, String) {
    // language=SQL
    const SQL: &str = "SELECT payload, idempotency_key FROM orders WHERE order_ref = $1";
    if db.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query_as(SQL)
            .bind(order_ref)
            .fetch_one(&pool)
            .await
            .unwrap()
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query_as(SQL)
            .bind(order_ref)
            .fetch_one(&pool)
            .await
            .unwrap()
    }
}

async fn text_with_tabs_newlines_and_backslashes_is_stored_byte_for_byte(db: TestDb) {
    // Arrange: the characters `COPY`'s text format escapes, in the reference, the key and the
    // payload (a JSON string holding a tab, a newline, a backslash and a `\N`).
    let store = db.store().await;
    let awkward = "tab\there\\N back\\slash\r\nline é ✓";
    let mut rows = orders("plain", 3);
    rows.push(NewOrder {
        line: 5,
        order_ref: "odd\\ref\tx".to_string(),
        idempotency_key: "key\\N\n".to_string(),
        payload: serde_json::json!({ "card_holder": awkward, "raw": "\\t" }).into(),
        amount_minor: None,
        currency: None,
    });
    let payload = rows[3].payload.json().to_string();

    // Act
    let report = submit(&store, "uqpay", rows).await;

    // Assert
    assert_eq!(report.inserted, 4);
    assert_eq!(
        stored(&db, "odd\\ref\tx").await,
        (payload, "key\\N\n".to_string())
    );
    let listed = store.order_list(report.batch_id, None).await.unwrap();
    assert_eq!(listed[3].order_ref, "odd\\ref\tx");
    assert_eq!(listed[3].line, 5);
    assert_eq!(listed[3].amount_minor, None);
}

async fn duplicates_across_copy_chunks_are_reported_on_their_lines_and_counted_once(db: TestDb) {
    // Arrange: an earlier batch holds e-0..e-99. The new file's lines 2..=ROWS+1 are new rows
    // (one in EUR), except: line 15,000 repeats line 3's reference (another COPY chunk),
    // line 24,000 repeats line 14,999's (both with other content: the payload holds the line),
    // and lines 20,000..20,009 repeat e-0..e-9 with the same content.
    let store = db.store().await;
    let earlier = submit(&store, "uqpay", orders("e", 100)).await;
    let mut rows: Vec<NewOrder> = orders("n", ROWS);
    rows[1].currency = Some("EUR".to_string());
    let at = |line: u64| (line - 2) as usize;
    rows[at(15_000)] = order(15_000, "n-1");
    rows[at(24_000)] = order(24_000, &rows[at(14_999)].order_ref.clone());
    for i in 0..10 {
        let mut same = order(i + 2, &format!("e-{i}"));
        same.line = 20_000 + i;
        rows[at(20_000 + i)] = same;
    }

    // Act
    let batch = new_batch("uqpay");
    let mut writer = store.batch_writer(&batch).await.unwrap();
    for o in rows {
        writer.push(o).await.unwrap();
    }
    let report = writer.commit().await.unwrap();

    // Assert: every duplicate on its own line, naming its owner; nothing else missing.
    assert_eq!(report.inserted, ROWS - 12);
    assert_eq!(report.duplicates, 12);
    assert_eq!(report.conflicting, 2);
    let conflicts: Vec<u64> = report.conflicts.iter().map(|c| c.line).collect();
    assert_eq!(conflicts, vec![15_000, 24_000]);
    assert_eq!(report.duplicates_within_file, 2);
    assert_eq!(report.duplicates_by_batch.get(&earlier.batch_id), Some(&10));
    let samples = duplicate_samples(&report);
    let mut expected = vec![(15_000, DuplicateOf::EarlierLine(3))];
    expected.extend((0..10).map(|i| (20_000 + i, DuplicateOf::Batch(earlier.batch_id))));
    expected.push((24_000, DuplicateOf::EarlierLine(14_999)));
    assert_eq!(samples, expected);
    // The counters count the inserted rows only, and equal a full recount.
    assert_counters_match_a_recount(&store).await;
    let summary = store.batch_status(batch.id).await.unwrap().summary;
    assert_eq!(summary.total(), ROWS - 12);
    let usd = summary.totals_minor.get("USD").copied();
    assert_eq!(usd, Some(1_250 * (ROWS - 13) as i64));
}

async fn assert_counters_match_a_recount(store: &Store) {
    assert_eq!(
        store.batch_list().await.unwrap(),
        store.batch_list_recounted().await.unwrap()
    );
}

/// A row Postgres cannot store (a NUL byte in text) fails the `COPY` of a later chunk: the
/// error reaches the caller and nothing of the batch remains, not even the chunks before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_copy_failing_mid_batch_leaves_no_batch() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // Arrange
    let store = db.store().await;
    let mut rows = orders("m", ROWS);
    rows[at_line(21_000)] = order(21_000, "bad\0ref");

    // Act: the first two chunks go through; the third fails.
    let batch = new_batch("uqpay");
    let mut writer = store.batch_writer(&batch).await.unwrap();
    let mut failed = None;
    for o in rows {
        if let Err(e) = writer.push(o).await {
            failed = Some(e);
            break;
        }
    }
    let failed = match failed {
        Some(e) => {
            drop(writer);
            Some(e)
        }
        None => writer.commit().await.err(),
    };

    // Assert
    assert!(failed.is_some(), "a NUL byte cannot be stored as text");
    assert!(store.batch_list().await.unwrap().is_empty());
    assert!(store.order_count_by_state().await.unwrap().is_empty());
    let again = submit(&store, "uqpay", orders("m", 10)).await;
    assert_eq!(again.inserted, 10);
}

/// Orders staged before they move into `orders` (the writer's `STAGE_ROWS`).
const STAGE: u64 = 100_000;

/// The first stage of a batch moves with a plain insert; the second meets references already
/// taken (by the first stage and by an earlier batch), so its plain insert is rolled back to its
/// savepoint and the stage moves again skipping them: every duplicate is reported on its line,
/// everything else is inserted once, and the counters equal a recount.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_later_stage_that_meets_taken_references_moves_again_and_reports_them() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // Arrange: lines 2..=STAGE+1 are the first stage, all new. In the second stage, line
    // STAGE+100 repeats line 2's reference and line STAGE+200 repeats e-5 of an earlier batch.
    let store = db.store().await;
    let earlier = submit(&store, "uqpay", orders("e", 10)).await;
    let total = STAGE + 1_000;
    let mut rows = orders("n", total);
    rows[at_line(STAGE + 100)] = order(STAGE + 100, "n-0");
    let mut same = order(7, "e-5");
    same.line = STAGE + 200;
    rows[at_line(STAGE + 200)] = same;

    // Act
    let report = submit(&store, "uqpay", rows).await;

    // Assert
    assert_eq!(report.inserted, total - 2);
    assert_eq!(report.duplicates, 2);
    let samples = duplicate_samples(&report);
    assert_eq!(
        samples,
        vec![
            (STAGE + 100, DuplicateOf::EarlierLine(2)),
            (STAGE + 200, DuplicateOf::Batch(earlier.batch_id)),
        ]
    );
    let summary = store.batch_status(report.batch_id).await.unwrap().summary;
    assert_eq!(summary.total(), total - 2);
    assert_counters_match_a_recount(&store).await;
}

fn at_line(line: u64) -> usize {
    (line - 2) as usize
}
