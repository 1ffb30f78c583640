//! Scheduled issuance on the store: the once-per-slot claim (two processes on one database),
//! the CSV-glob source (new, re-dropped, renamed files) and the database source (valid and
//! invalid rows, skip_invalid, cursor, re-runs, conflicting duplicates, max_orders), on both
//! engines. For the database source, the upstream table lives in the test's own database.

use crate::support::TestDb;
use cardbatch::config::Config;
use cardbatch::jobs::{RunOutcome, RunReport, Schedule, Scheduler, load_one, run_slot};
use cardbatch::store::{RunRetake, Store};
use chrono::{DateTime, TimeZone, Utc};
use std::path::Path;

on_both_engines!(
    a_slot_is_claimed_once_and_a_finished_run_only_by_an_operator,
    a_run_whose_process_died_is_taken_over,
    two_processes_claim_each_slot_once,
    two_schedulers_fire_a_due_slot_once,
    a_csv_drop_becomes_one_batch_per_new_file,
    a_csv_file_dropped_again_or_renamed_is_not_ingested_twice,
    a_refused_csv_file_fails_the_run_and_is_read_again_once_fixed,
    db_source_valid_rows_become_one_batch_and_a_rerun_ingests_nothing_twice,
    db_source_invalid_rows_are_reported_by_order_ref_and_nothing_is_ingested,
    db_source_skip_invalid_queues_the_valid_rows_and_reports_the_others,
    db_source_cursor_reads_only_rows_above_the_last_one,
    db_source_reused_order_ref_with_other_content_fails_the_run,
    db_source_more_rows_than_max_orders_fails_and_ingests_nothing,
    db_source_password_never_shows_in_errors,
);

const PROFILE: &str = "alchemypay_vcc";
const HEADER: &str = "order_ref,first_name,last_name,deposit\n";

fn slot(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, day, 2, 0, 0).unwrap()
}

/// The built-in profiles on the test database, schedules in `jobs`.
fn config(db: &TestDb, jobs: &Path) -> Config {
    let mut config = Config::builtin();
    config.database_url = db.url.clone();
    config.jobs_dir = jobs.to_path_buf();
    config
}

/// Writes `jobs/<name>.toml` and loads it.
fn schedule(config: &Config, name: &str, toml: &str) -> Schedule {
    std::fs::create_dir_all(&config.jobs_dir).unwrap();
    std::fs::write(config.jobs_dir.join(format!("{name}.toml")), toml).unwrap();
    load_one(config, name).unwrap()
}

async fn run(store: &Store, config: &Config, s: &Schedule, day: u32) -> RunReport {
    run_slot(store, config, s, slot(day), "test", RunRetake::Finished)
        .await
        .unwrap()
}

async fn orders(store: &Store) -> u64 {
    store.order_count_by_state().await.unwrap().values().sum()
}

async fn a_slot_is_claimed_once_and_a_finished_run_only_by_an_operator(db: TestDb) {
    let store = db.store().await;
    let (now, lease) = (1_000, 61_000);
    let first = store
        .schedule_run_claim("nightly", 7, "a", now, lease, RunRetake::IfDead)
        .await
        .unwrap();
    let second = store
        .schedule_run_claim("nightly", 7, "b", now, lease, RunRetake::IfDead)
        .await
        .unwrap();
    let other_slot = store
        .schedule_run_claim("nightly", 8, "b", now, lease, RunRetake::IfDead)
        .await
        .unwrap();
    assert!(first.is_some() && other_slot.is_some());
    assert_eq!(second, None, "a slot in progress is not claimed twice");

    let claim = first.unwrap();
    let record = cardbatch::store::RunRecord {
        outcome: "queued".into(),
        batch: Some("b-1".into()),
        rows: 3,
        error: None,
        cursor: None,
        finished: 2_000,
    };
    assert!(
        store
            .schedule_run_finish(claim.id, "a", &record)
            .await
            .unwrap()
    );
    // The scheduler never runs a finished slot again; an operator's `schedules run` may.
    let scheduler = store
        .schedule_run_claim("nightly", 7, "c", 3_000, 63_000, RunRetake::IfDead)
        .await
        .unwrap();
    let operator = store
        .schedule_run_claim("nightly", 7, "d", 3_000, 63_000, RunRetake::Finished)
        .await
        .unwrap();
    assert_eq!(scheduler, None);
    assert_eq!(operator.map(|c| c.attempt), Some(2));
    let runs = store.schedule_run_list("nightly").await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].outcome, "running");
    assert_eq!(
        store.schedule_run_last_slot("nightly").await.unwrap(),
        Some(8)
    );
}

async fn a_run_whose_process_died_is_taken_over(db: TestDb) {
    let store = db.store().await;
    store
        .schedule_run_claim("nightly", 7, "dead", 1_000, 2_000, RunRetake::IfDead)
        .await
        .unwrap()
        .unwrap();
    // Still within its lease: not taken over, not listed as dead.
    let early = store
        .schedule_run_claim("nightly", 7, "b", 1_500, 9_000, RunRetake::IfDead)
        .await
        .unwrap();
    assert_eq!(early, None);
    assert!(store.schedule_run_dead(1_500).await.unwrap().is_empty());
    // Its lease over: listed, and taken over once.
    assert_eq!(
        store.schedule_run_dead(2_500).await.unwrap(),
        vec![("nightly".to_string(), 7)]
    );
    let late = store
        .schedule_run_claim("nightly", 7, "b", 2_500, 9_000, RunRetake::IfDead)
        .await
        .unwrap();
    let again = store
        .schedule_run_claim("nightly", 7, "c", 2_600, 9_000, RunRetake::IfDead)
        .await
        .unwrap();
    assert_eq!(late.map(|c| c.attempt), Some(2));
    assert_eq!(again, None);
    // The dead owner can no longer record anything.
    assert!(
        !store
            .schedule_run_heartbeat(late.unwrap().id, "dead", 10_000)
            .await
            .unwrap()
    );
}

async fn two_processes_claim_each_slot_once(db: TestDb) {
    // Two stores are two processes' pools on one database.
    let (a, b) = (db.store().await, db.store().await);
    let claims = |store: Store, owner: &'static str| async move {
        let mut won = Vec::new();
        for slot in 0..40 {
            if store
                .schedule_run_claim("nightly", slot, owner, 1_000, 61_000, RunRetake::IfDead)
                .await
                .unwrap()
                .is_some()
            {
                won.push(slot);
            }
        }
        won
    };
    let (won_a, won_b) = tokio::join!(
        tokio::spawn(claims(a.clone(), "a")),
        tokio::spawn(claims(b.clone(), "b"))
    );
    let (won_a, won_b) = (won_a.unwrap(), won_b.unwrap());
    let mut all: Vec<i64> = won_a.iter().chain(&won_b).copied().collect();
    all.sort();
    assert_eq!(all, (0..40).collect::<Vec<_>>(), "each slot exactly once");
    assert_eq!(a.schedule_run_list("nightly").await.unwrap().len(), 40);
}

async fn two_schedulers_fire_a_due_slot_once(db: TestDb) {
    // Arrange: a drop folder with one file, and two processes' schedulers.
    let jobs = tempfile::tempdir().unwrap();
    let config = config(&db, jobs.path());
    std::fs::create_dir_all(jobs.path().join("drop")).unwrap();
    std::fs::write(
        jobs.path().join("drop/a.csv"),
        format!("{HEADER}S-1,Ana,Souza,10\nS-2,Bia,Lima,20\n"),
    )
    .unwrap();
    let s = schedule(
        &config,
        "nightly",
        &format!("cron = \"0 2 * * *\"\nprofile = \"{PROFILE}\"\n[source]\ncsv = \"drop/*.csv\"\n"),
    );
    let (a, b) = (db.store().await, db.store().await);
    let first = Scheduler::new(a.clone(), config.clone(), vec![s.clone()]);
    let second = Scheduler::new(b.clone(), config.clone(), vec![s]);
    let now = slot(3) + chrono::TimeDelta::seconds(2);

    // Act: both tick at the slot, at once, then again.
    let (ra, rb) = tokio::join!(first.tick(now), second.tick(now));
    let again = first
        .tick(now + chrono::TimeDelta::seconds(30))
        .await
        .unwrap();

    // Assert: one run, one batch.
    let reports: Vec<RunReport> = ra.unwrap().into_iter().chain(rb.unwrap()).collect();
    let ran: Vec<_> = reports
        .iter()
        .filter(|r| r.outcome != RunOutcome::Claimed)
        .collect();
    assert_eq!(ran.len(), 1, "{reports:?}");
    assert_eq!(ran[0].outcome, RunOutcome::Queued);
    assert_eq!(ran[0].slot, slot(3));
    assert!(again.is_empty());
    let runs = a.schedule_run_list("nightly").await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].outcome, "queued");
    assert_eq!(runs[0].rows, 2);
    assert!(runs[0].finished.is_some());
    assert_eq!(a.batch_list().await.unwrap().len(), 1);
    assert_eq!(orders(&a).await, 2);
}

async fn a_csv_drop_becomes_one_batch_per_new_file(db: TestDb) {
    let store = db.store().await;
    let jobs = tempfile::tempdir().unwrap();
    let config = config(&db, jobs.path());
    let drop = jobs.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    std::fs::write(drop.join("a.csv"), format!("{HEADER}C-1,Ana,Souza,10\n")).unwrap();
    std::fs::write(
        drop.join("b.csv"),
        format!("{HEADER}C-2,Bia,Lima,20\nC-3,Caio,Reis,30\n"),
    )
    .unwrap();
    std::fs::write(drop.join("notes.txt"), "not an order file").unwrap();
    let s = schedule(
        &config,
        "drop",
        &format!(
            "cron = \"0 2 * * *\"\nprofile = \"{PROFILE}\"\n[source]\ncsv = \"drop/*.csv\"\narchive_dir = \"done\"\n"
        ),
    );

    let first = run(&store, &config, &s, 1).await;
    let empty = run(&store, &config, &s, 2).await;

    assert_eq!(first.outcome, RunOutcome::Queued, "{first:?}");
    assert_eq!(first.batches.len(), 2);
    assert_eq!((first.rows, first.inserted), (3, 3));
    assert_eq!(orders(&store).await, 3);
    // Archived: the drop folder is empty of CSV files, the archive holds both.
    assert!(!drop.join("a.csv").exists() && !drop.join("b.csv").exists());
    assert!(jobs.path().join("done/a.csv").exists() && jobs.path().join("done/b.csv").exists());
    assert_eq!(empty.outcome, RunOutcome::Empty);
    let last = store.schedule_run_latest("drop").await.unwrap().unwrap();
    assert_eq!(last.outcome, "empty");
    let runs = store.schedule_run_list("drop").await.unwrap();
    assert_eq!(
        runs[0].batch.as_deref().map(|b| b.split(',').count()),
        Some(2)
    );
}

async fn a_csv_file_dropped_again_or_renamed_is_not_ingested_twice(db: TestDb) {
    let store = db.store().await;
    let jobs = tempfile::tempdir().unwrap();
    let config = config(&db, jobs.path());
    let drop = jobs.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    let content = format!("{HEADER}R-1,Ana,Souza,10\nR-2,Bia,Lima,20\n");
    std::fs::write(drop.join("monday.csv"), &content).unwrap();
    let s = schedule(
        &config,
        "drop",
        &format!("cron = \"0 2 * * *\"\nprofile = \"{PROFILE}\"\n[source]\ncsv = \"drop/*.csv\"\n"),
    );
    let first = run(&store, &config, &s, 1).await;
    assert_eq!(first.outcome, RunOutcome::Queued);

    // The same file again, and renamed.
    std::fs::write(drop.join("monday.csv"), &content).unwrap();
    std::fs::rename(drop.join("monday.csv"), drop.join("monday-copy.csv")).unwrap();
    let renamed = run(&store, &config, &s, 2).await;
    // A new file sharing one order with the first.
    std::fs::write(
        drop.join("tuesday.csv"),
        format!("{HEADER}R-2,Bia,Lima,20\nR-3,Caio,Reis,30\n"),
    )
    .unwrap();
    let overlapping = run(&store, &config, &s, 3).await;

    assert_eq!(renamed.outcome, RunOutcome::Empty, "{renamed:?}");
    assert_eq!(renamed.rows, 0, "a known file is not even read");
    assert_eq!(overlapping.outcome, RunOutcome::Queued);
    assert_eq!((overlapping.inserted, overlapping.duplicates), (1, 1));
    assert_eq!(orders(&store).await, 3);
    assert_eq!(store.batch_list().await.unwrap().len(), 2);
}

async fn a_refused_csv_file_fails_the_run_and_is_read_again_once_fixed(db: TestDb) {
    let store = db.store().await;
    let jobs = tempfile::tempdir().unwrap();
    let config = config(&db, jobs.path());
    let drop = jobs.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    std::fs::write(
        drop.join("bad.csv"),
        format!("{HEADER}F-1,Ana,Souza,10\nF-2,Bia,Lima,lots\n"),
    )
    .unwrap();
    let s = schedule(
        &config,
        "drop",
        &format!("cron = \"0 2 * * *\"\nprofile = \"{PROFILE}\"\n[source]\ncsv = \"drop/*.csv\"\n"),
    );
    let failed = run(&store, &config, &s, 1).await;
    assert_eq!(failed.outcome, RunOutcome::Failed);
    assert!(
        failed
            .problems
            .iter()
            .any(|p| p.contains("bad.csv") && p.contains("line 3")),
        "{:?}",
        failed.problems
    );
    assert_eq!(orders(&store).await, 0);
    let recorded = store.schedule_run_latest("drop").await.unwrap().unwrap();
    assert_eq!(recorded.outcome, "failed");
    assert!(recorded.error.unwrap().contains("deposit"));

    std::fs::write(
        drop.join("bad.csv"),
        format!("{HEADER}F-1,Ana,Souza,10\nF-2,Bia,Lima,20\n"),
    )
    .unwrap();
    let fixed = run(&store, &config, &s, 2).await;
    assert_eq!(fixed.outcome, RunOutcome::Queued);
    assert_eq!(orders(&store).await, 2);
}

// ---- The database source ----

/// Creates the upstream table in the test database and inserts `rows` (order_ref, first name,
/// last name, deposit).
async fn upstream(db: &TestDb, rows: &[(i64, &str, &str, &str, &str)]) {
    let create = "CREATE TABLE IF NOT EXISTS card_requests (id INTEGER PRIMARY KEY, order_ref TEXT, \
                  first_name TEXT, last_name TEXT, amount NUMERIC(12, 2))";
    let mut sql = vec![create.to_string()];
    for (id, r, f, l, amount) in rows {
        sql.push(format!(
            "INSERT INTO card_requests VALUES ({id}, '{r}', '{f}', '{l}', {amount})"
        ));
    }
    db.exec(&sql.join(";\n")).await;
}

const QUERY: &str = "SELECT order_ref, first_name, last_name, amount AS deposit FROM card_requests";
/// With the cursor column, which is not a provider column.
const QUERY_WITH_ID: &str =
    "SELECT id, order_ref, first_name, last_name, amount AS deposit FROM card_requests";

fn db_schedule(config: &Config, db: &TestDb, extra: &str, source_extra: &str) -> Schedule {
    schedule(
        config,
        "upstream",
        &format!(
            "cron = \"0 2 * * *\"\nprofile = \"{PROFILE}\"\n{extra}\n[source]\ndatabase_url = \"{}\"\nquery = \"{}\"\n{source_extra}\n",
            db.url,
            if source_extra.contains("cursor") {
                QUERY_WITH_ID
            } else {
                QUERY
            }
        ),
    )
}

async fn db_source_valid_rows_become_one_batch_and_a_rerun_ingests_nothing_twice(db: TestDb) {
    let store = db.store().await;
    let jobs = tempfile::tempdir().unwrap();
    let config = config(&db, jobs.path());
    upstream(
        &db,
        &[
            (1, "D-1", "Ana", "Souza", "10.50"),
            (2, "D-2", "Bia", "Lima", "20"),
        ],
    )
    .await;
    let s = db_schedule(&config, &db, "", "");

    let first = run(&store, &config, &s, 1).await;
    let same_slot = run(&store, &config, &s, 1).await;
    let next_slot = run(&store, &config, &s, 2).await;

    assert_eq!(first.outcome, RunOutcome::Queued, "{first:?}");
    assert_eq!((first.rows, first.inserted), (2, 2));
    assert_eq!(first.batches.len(), 1);
    for again in [&same_slot, &next_slot] {
        assert_eq!(again.outcome, RunOutcome::NothingNew, "{again:?}");
        assert_eq!((again.rows, again.inserted, again.duplicates), (2, 0, 2));
    }
    assert_eq!(orders(&store).await, 2);
    let batches = store.batch_list().await.unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].source, "schedule:upstream");
    let runs = store.schedule_run_list("upstream").await.unwrap();
    assert_eq!(runs.len(), 2, "one row per slot");
    assert_eq!(runs[0].attempt, 2, "the slot was run twice");
}

async fn db_source_invalid_rows_are_reported_by_order_ref_and_nothing_is_ingested(db: TestDb) {
    let store = db.store().await;
    let jobs = tempfile::tempdir().unwrap();
    let config = config(&db, jobs.path());
    upstream(
        &db,
        &[
            (1, "I-1", "Ana", "Souza", "10"),
            (2, "I-2", "Bia", "Lima", "-5"),
            (3, "I-3", "Caio", "Reis", "30"),
        ],
    )
    .await;
    let s = db_schedule(&config, &db, "", "cursor = \"id\"");

    let report = run(&store, &config, &s, 1).await;

    assert_eq!(report.outcome, RunOutcome::Failed, "{report:?}");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = &report.problems[0];
    assert!(
        problem.contains("order_ref I-2")
            && problem.contains("cursor 2")
            && problem.contains("deposit"),
        "{problem}"
    );
    assert_eq!(orders(&store).await, 0);
    assert!(store.batch_list().await.unwrap().is_empty());
    let recorded = store
        .schedule_run_latest("upstream")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.outcome, "failed");
    assert!(recorded.error.unwrap().contains("I-2"));
    assert_eq!(
        recorded.cursor_value, None,
        "a failed run does not move the cursor"
    );
}

async fn db_source_skip_invalid_queues_the_valid_rows_and_reports_the_others(db: TestDb) {
    let store = db.store().await;
    let jobs = tempfile::tempdir().unwrap();
    let config = config(&db, jobs.path());
    upstream(
        &db,
        &[
            (1, "K-1", "Ana", "Souza", "10"),
            (2, "K-2", "", "Lima", "20"),
            (3, "K-3", "Caio", "Reis", "30"),
        ],
    )
    .await;
    let s = db_schedule(&config, &db, "skip_invalid = true", "");

    let report = run(&store, &config, &s, 1).await;

    assert_eq!(report.outcome, RunOutcome::Queued, "{report:?}");
    assert_eq!(report.inserted, 2);
    assert_eq!(report.problems.len(), 1);
    assert!(report.problems[0].contains("K-2"), "{:?}", report.problems);
    let recorded = store
        .schedule_run_latest("upstream")
        .await
        .unwrap()
        .unwrap();
    assert!(recorded.error.unwrap().contains("K-2"));
}

async fn db_source_cursor_reads_only_rows_above_the_last_one(db: TestDb) {
    let store = db.store().await;
    let jobs = tempfile::tempdir().unwrap();
    let config = config(&db, jobs.path());
    upstream(
        &db,
        &[
            (1, "U-1", "Ana", "Souza", "10"),
            (2, "U-2", "Bia", "Lima", "20"),
        ],
    )
    .await;
    let s = db_schedule(&config, &db, "", "cursor = \"id\"");

    let first = run(&store, &config, &s, 1).await;
    let nothing = run(&store, &config, &s, 2).await;
    upstream(
        &db,
        &[
            (3, "U-3", "Caio", "Reis", "30"),
            (10, "U-10", "Dora", "Melo", "40"),
        ],
    )
    .await;
    let more = run(&store, &config, &s, 3).await;

    assert_eq!((first.outcome, first.rows), (RunOutcome::Queued, 2));
    assert_eq!(
        (nothing.outcome, nothing.rows),
        (RunOutcome::Empty, 0),
        "{nothing:?}"
    );
    assert_eq!(
        (more.outcome, more.rows, more.inserted),
        (RunOutcome::Queued, 2, 2),
        "{more:?}"
    );
    assert_eq!(orders(&store).await, 4);
    let last = store
        .schedule_run_latest("upstream")
        .await
        .unwrap()
        .unwrap();
    // Compared as a number: 10 is above 3.
    assert_eq!(last.cursor_value.as_deref(), Some("10"));
    assert_eq!(last.cursor_kind.as_deref(), Some("integer"));
    let after = run(&store, &config, &s, 4).await;
    assert_eq!(after.rows, 0);
}

async fn db_source_reused_order_ref_with_other_content_fails_the_run(db: TestDb) {
    let store = db.store().await;
    let jobs = tempfile::tempdir().unwrap();
    let config = config(&db, jobs.path());
    upstream(&db, &[(1, "X-1", "Ana", "Souza", "10")]).await;
    let s = db_schedule(&config, &db, "", "");
    assert_eq!(
        run(&store, &config, &s, 1).await.outcome,
        RunOutcome::Queued
    );
    // Upstream reuses the reference for someone else, beside a new order.
    upstream(
        &db,
        &[
            (2, "X-1", "Eva", "Costa", "99"),
            (3, "X-3", "Caio", "Reis", "30"),
        ],
    )
    .await;

    let report = run(&store, &config, &s, 2).await;

    assert_eq!(report.outcome, RunOutcome::Failed, "{report:?}");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("X-1") && p.contains("different content")),
        "{:?}",
        report.problems
    );
    assert_eq!(orders(&store).await, 1, "X-3 is not ingested either");
}

async fn db_source_more_rows_than_max_orders_fails_and_ingests_nothing(db: TestDb) {
    let store = db.store().await;
    let jobs = tempfile::tempdir().unwrap();
    let config = config(&db, jobs.path());
    upstream(
        &db,
        &[
            (1, "M-1", "Ana", "Souza", "10"),
            (2, "M-2", "Bia", "Lima", "20"),
            (3, "M-3", "Caio", "Reis", "30"),
        ],
    )
    .await;
    let s = db_schedule(&config, &db, "max_orders = 2", "");

    let report = run(&store, &config, &s, 1).await;

    assert_eq!(report.outcome, RunOutcome::Failed);
    assert!(
        report.error.as_deref().unwrap().contains("max_orders (2)"),
        "{report:?}"
    );
    assert_eq!(orders(&store).await, 0);
    assert!(store.batch_list().await.unwrap().is_empty());
}

async fn db_source_password_never_shows_in_errors(db: TestDb) {
    let store = db.store().await;
    let jobs = tempfile::tempdir().unwrap();
    let config = config(&db, jobs.path());
    let s = schedule(
        &config,
        "secret",
        &format!(
            "cron = \"0 2 * * *\"\nprofile = \"{PROFILE}\"\n[source]\ndatabase_url = \"postgres://reader:hunter2@127.0.0.1:1/erp\"\nquery = \"{QUERY}\"\n"
        ),
    );
    assert!(!format!("{s:?}").contains("hunter2"));
    assert!(!s.source.describe().contains("hunter2"));

    let report = run(&store, &config, &s, 1).await;

    assert_eq!(report.outcome, RunOutcome::Failed);
    let error = report.error.unwrap();
    assert!(error.contains("reader:***@127.0.0.1"), "{error}");
    assert!(!error.contains("hunter2"));
    let recorded = store.schedule_run_latest("secret").await.unwrap().unwrap();
    assert!(!recorded.error.unwrap().contains("hunter2"));
}
