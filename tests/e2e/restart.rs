//! The real `cardbatch run` binary, killed with SIGKILL mid-batch and started again, still ends
//! with exactly one card per order; two `cardbatch run` processes on one Postgres database share
//! UQPAY's single valid token and never fail on an invalidated one.

use crate::support::{
    MOVING, PG_URL_VAR, RunProcess, SETTLE, TestDb, assert_one_card_per_order, completed_in_log,
    csv, profile, start_sandbox, submit_csv, wait_settled, wait_until, write_config,
};
use cardbatch::config::Profile;
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::sandbox::{FaultConfig, ProviderSettings, RunningSandbox, SandboxConfig};
use cardbatch::store::{OrderRow, Store};
use std::path::PathBuf;
use uuid::Uuid;

/// A batch of 200 orders of `kind` queued on `db`, for `cardbatch run` to issue against the
/// sandbox (seed 7, `latency_ms` per call) at 100 calls/s, 8 at once.
struct Queued {
    /// Kept for the test's length: the database goes when it is dropped.
    _db: TestDb,
    store: Store,
    sandbox: RunningSandbox,
    kind: ProviderKind,
    batch: Uuid,
    dir: tempfile::TempDir,
    /// A `cardbatch.toml` with the batch's profile, on `db`, with `lease_secs` leases.
    config: PathBuf,
}

impl Queued {
    /// Queues the batch (refs `{prefix}-0..200`) through the real ingest path and writes the
    /// config, with `lease_secs` leases so that a killed process's claims come back quickly.
    async fn start(
        kind: ProviderKind,
        db: TestDb,
        latency_ms: u64,
        prefix: &str,
        lease_secs: u64,
    ) -> Queued {
        let provider = ProviderSettings {
            faults: FaultConfig {
                latency_ms,
                ..FaultConfig::default()
            },
            ..ProviderSettings::default()
        };
        let config = SandboxConfig {
            seed: 7,
            ..SandboxConfig::default()
        }
        .with_provider(kind, provider);
        let sandbox = start_sandbox(config).await;
        let store = db.store().await;
        store.migrate().await.expect("migrate");
        let profile = Profile {
            rate_limit_per_sec: 100.0,
            concurrency: 8,
            ..profile(kind, &sandbox.addr().to_string())
        };
        let dir = tempfile::tempdir().unwrap();
        let batch = submit_csv(&store, &profile, dir.path(), &csv(kind, prefix, 200, &[])).await;
        let config = write_config(dir.path(), &db.url, &profile, lease_secs);
        Queued {
            _db: db,
            store,
            sandbox,
            kind,
            batch,
            dir,
            config,
        }
    }

    /// Starts `cardbatch run` on the batch, logging to `<name>.log`.
    fn spawn(&self, name: &str) -> RunProcess {
        let log = self.dir.path().join(format!("{name}.log"));
        RunProcess::spawn(&self.config, self.kind, log)
    }

    /// The batch's orders in line order.
    async fn orders(&self) -> Vec<OrderRow> {
        self.store.order_list(self.batch, None).await.unwrap()
    }

    /// See [`assert_one_card_per_order`].
    async fn assert_one_card_per_order(&self, expected: &[i64]) -> usize {
        assert_one_card_per_order(&self.sandbox, &self.store, self.kind, expected).await
    }
}

async fn a_run_killed_mid_batch_and_restarted_issues_exactly_one_card_per_order(db: TestDb) {
    // Arrange: QI Tech prepaid (no idempotency key: doubt is resolved by listing the account's
    // cards), 30 ms per call, 200 orders at 100/s.
    let kind = ProviderKind::QitechPrepaid;
    let e = Queued::start(kind, db, 30, "kill", 2).await;
    let ledger = || e.sandbox.ledger().snapshot(Some(kind.as_str())).total_cards;

    // Act: kill -9 once about a third of the cards exist, with calls in flight.
    let mut first = e.spawn("first");
    wait_until("a third of the cards", SETTLE, || {
        if let Some(status) = first.exited() {
            let log = std::fs::read_to_string(&first.log).unwrap_or_default();
            panic!("the first run stopped on its own ({status}): {log}");
        }
        std::future::ready(ledger() >= 70)
    })
    .await;
    first.kill9().await;
    let killed_at = ledger();
    let second = e.spawn("second");
    wait_settled(e.store.clone()).await;
    second.terminate().await;

    // Assert
    assert!(killed_at < 200, "the kill came after the batch was done");
    let orders = e.orders().await;
    assert!(
        orders.iter().all(|o| o.state == OrderState::Submitted),
        "{:?}",
        orders
            .iter()
            .filter(|o| o.state != OrderState::Submitted)
            .map(|o| (&o.order_ref, o.state, &o.last_error_code))
            .collect::<Vec<_>>()
    );
    // The killed process's claims were taken over after their lease: a second attempt.
    assert!(
        orders.iter().any(|o| o.attempts >= 2),
        "no order was taken over"
    );
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    assert_eq!(e.assert_one_card_per_order(&ids).await, 200);
}

on_both_engines!(a_run_killed_mid_batch_and_restarted_issues_exactly_one_card_per_order);

#[tokio::test]
async fn a_run_whose_profile_credentials_are_missing_fails_at_start_naming_the_variable() {
    // Arrange: a config naming E2E_UQPAY_* variables, and a child environment without them.
    let db = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    // An operator's own profile: no development fallback (`sandbox_credentials`).
    let profile = cardbatch::config::Profile {
        sandbox_credentials: false,
        ..cardbatch::config::Profile::sandbox(ProviderKind::Uqpay, "127.0.0.1:9")
    };
    let config = write_config(dir.path(), &db.url, &profile, 30);

    // Act
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cardbatch"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env_remove("E2E_UQPAY_CLIENT_ID")
        .env_remove("E2E_UQPAY_API_KEY")
        .env_remove(PG_URL_VAR)
        .output()
        .await
        .unwrap();

    // Assert
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("E2E_UQPAY_"), "{stderr}");
    assert!(
        stderr.contains("profiles.uqpay.credentials_env"),
        "{stderr}"
    );
}

/// Two processes, one Postgres database, one UQPAY client id: a token minted by one revokes the
/// other's unless they share it through the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_on_one_postgres_database_never_fail_on_an_invalidated_uqpay_token() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // Arrange
    let e = Queued::start(ProviderKind::Uqpay, db, 5, "two", 30).await;

    // Act
    let a = e.spawn("a");
    let b = e.spawn("b");
    wait_settled(e.store.clone()).await;
    let (log_a, log_b) = (a.terminate().await, b.terminate().await);

    // Assert: everything accepted, one card each, no call refused for its token.
    let orders = e.orders().await;
    for o in &orders {
        assert_eq!(
            o.state,
            OrderState::Submitted,
            "{} {:?}",
            o.order_ref,
            o.last_error_code
        );
        for attempt in e.store.attempt_list(o.id).await.unwrap() {
            assert_ne!(
                attempt.http_status,
                Some(401),
                "{}: {attempt:?}",
                o.order_ref
            );
        }
    }
    let counts = e.store.order_count_by_state().await.unwrap();
    assert!(MOVING.iter().all(|s| !counts.contains_key(s)));
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    assert_eq!(e.assert_one_card_per_order(&ids).await, 200);
    // Both processes issued cards.
    let (done_a, done_b) = (completed_in_log(&log_a), completed_in_log(&log_b));
    assert!(
        done_a > 0 && done_b > 0,
        "a: {done_a}, b: {done_b}\n{log_a}\n{log_b}"
    );
    assert_eq!(done_a + done_b, 200);
}
