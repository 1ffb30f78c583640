//! A frozen worker issues no second card. QI Tech prepaid has no idempotency key, so a create
//! sent twice is two cards. Worker A is stopped with SIGSTOP while its claimed orders wait for
//! the rate limiter; worker B takes them over once A's (short) leases run out and issues them;
//! A is resumed: its creates find their leases gone at the fence and are not sent.

use crate::support::{
    RunProcess, SETTLE, TestDb, assert_one_card_per_order, csv, profile, start_sandbox, submit_csv,
    wait_settled, wait_until, write_config,
};
use cardbatch::config::Profile;
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::sandbox::SandboxConfig;

/// The log line of a completion refused because another worker holds the order now.
const FENCED: &str = "lease was taken over; outcome not recorded";

fn signal(process: &RunProcess, name: &str) {
    let pid = process.child.id().expect("still running");
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// Whether a frozen process holds the database's write lock (SQLite) or a transaction open
/// (Postgres): the signal can land in the middle of a claim or a lease extension, and then no
/// other worker can write (SQLite) or take the locked orders (Postgres) until it is resumed.
async fn frozen_inside_a_write(db: &TestDb) -> bool {
    use sqlx::Connection;
    if db.url.starts_with("sqlite:") {
        let options: sqlx::sqlite::SqliteConnectOptions = db.url.parse().unwrap();
        let mut conn =
            sqlx::SqliteConnection::connect_with(&options.busy_timeout(std::time::Duration::ZERO))
                .await
                .unwrap();
        let locked = sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut conn)
            .await
            .is_err();
        if !locked {
            sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.unwrap();
        }
        locked
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND state LIKE 'idle in transaction%'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        open > 0
    }
}

/// Freezes `process` at a moment it holds no lock: stop, look, and resume and try again when
/// the stop caught it inside a write.
async fn freeze_outside_a_write(process: &RunProcess, db: &TestDb) {
    for _ in 0..100 {
        signal(process, "STOP");
        if !frozen_inside_a_write(db).await {
            return;
        }
        signal(process, "CONT");
        tokio::task::yield_now().await;
    }
    panic!("the worker was inside a write each of 100 times it was stopped");
}

fn log_of(process: &RunProcess) -> String {
    std::fs::read_to_string(&process.log).unwrap_or_default()
}

async fn a_worker_frozen_while_its_orders_wait_for_the_limiter_sends_nothing_once_resumed(
    db: TestDb,
) {
    // Arrange: three orders, 0.2 creates/s (one every 5 s), 3 s leases.
    let kind = ProviderKind::QitechPrepaid;
    let sandbox = start_sandbox(SandboxConfig {
        seed: 7,
        ..SandboxConfig::default()
    })
    .await;
    let store = db.store().await;
    store.migrate().await.expect("migrate");
    let profile = Profile {
        rate_limit_per_sec: 0.2,
        concurrency: 4,
        ..profile(kind, &sandbox.addr().to_string())
    };
    let dir = tempfile::tempdir().unwrap();
    let batch = submit_csv(&store, &profile, dir.path(), &csv(kind, "frozen", 3, &[])).await;
    let config = write_config(dir.path(), &db.url, &profile, 3);
    let cards = || sandbox.ledger().snapshot(Some(kind.as_str())).total_cards;

    // Act: A issues the first card and holds the other two (waiting for the limiter) when it
    // is frozen.
    let a = RunProcess::spawn(&config, kind, dir.path().join("a.log"));
    wait_until("A's first card, recorded", SETTLE, || async {
        let orders = store.order_list(batch, None).await.unwrap();
        let submitted = orders
            .iter()
            .filter(|o| o.state == OrderState::Submitted)
            .count();
        let held = orders
            .iter()
            .filter(|o| o.state == OrderState::InFlight)
            .count();
        submitted == 1 && held == 2
    })
    .await;
    freeze_outside_a_write(&a, &db).await;
    let b = RunProcess::spawn(&config, kind, dir.path().join("b.log"));
    wait_settled(store.clone()).await;
    let cards_before_resume = cards();
    signal(&a, "CONT");
    // A's two waiting creates reach the fence once the limiter lets them go; their outcome is
    // refused because B holds the orders now.
    wait_until("A to find both orders taken over", SETTLE, || {
        std::future::ready(log_of(&a).matches(FENCED).count() >= 2)
    })
    .await;
    let a_log = a.terminate().await;
    b.terminate().await;

    // Assert: three cards, one per order; A sent nothing after it was resumed.
    assert_eq!(cards_before_resume, 3);
    assert_eq!(
        cards(),
        3,
        "A sent creates after losing its leases: {a_log}"
    );
    let orders = store.order_list(batch, None).await.unwrap();
    assert!(orders.iter().all(|o| o.state == OrderState::Submitted));
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    assert_eq!(
        assert_one_card_per_order(&sandbox, &store, kind, &ids).await,
        3
    );
    assert!(
        orders.iter().all(|o| o.attempts == 1),
        "the orders A never sent were taken over without a counted attempt: {:?}",
        orders.iter().map(|o| o.attempts).collect::<Vec<_>>()
    );
}

on_both_engines!(a_worker_frozen_while_its_orders_wait_for_the_limiter_sends_nothing_once_resumed);
