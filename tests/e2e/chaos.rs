//! Chaos: three `cardbatch worker` processes and one `cardbatch serve` on a private PostgreSQL
//! cluster (started here with `initdb` and `pg_ctl` on a port of its own, so no other test's
//! database is disturbed), against the sandbox with transient errors, lost answers, 429s and
//! duplicated, reordered, delayed and dropped webhooks. Every few seconds a random worker is
//! killed with SIGKILL and started again; PostgreSQL is restarted once mid-run. The run ends when
//! every order is final; then the sandbox's ledger must hold exactly one card per order that
//! got one, no order may be lost or left unreconciled, and the longest time an order waited
//! after its worker died is reported.
//!
//! `CARDBATCH_CHAOS_ORDERS` sets the size (default 2,000, over the four providers); the
//! benchmark in BENCHMARKS.md runs 10,000. Runs where Postgres tests run (`CARDBATCH_TEST_PG_URL`
//! set) and `initdb` is on the PATH.

use crate::support::{
    PG_URL_VAR, RunProcess, assert_counters_recount, assert_one_card_per_order, csv, profile,
    start_sandbox, submit_csv,
};
use cardbatch::config::{Config, Profile, ReconcileConfig, ServerConfig, WorkerConfig};
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::sandbox::config::DEV_UQPAY_WEBHOOK_SECRET;
use cardbatch::sandbox::{FaultConfig, ProviderSettings, RunningSandbox, SandboxConfig};
use cardbatch::store::Store;
use cardbatch::webhooks::{QITECH_PATH, UQPAY_PATH};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use uuid::Uuid;

const ORDERS_VAR: &str = "CARDBATCH_CHAOS_ORDERS";
const WORKERS: usize = 3;
/// The whole run, at most (the 10,000-order benchmark scales it).
const BUDGET_PER_1000_ORDERS: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_kills_and_a_database_restart_lose_no_order_and_issue_no_second_card() {
    if std::env::var(PG_URL_VAR).is_err() {
        eprintln!("skipped: {PG_URL_VAR} is not set (the chaos test runs with the Postgres tests)");
        return;
    }
    let Some(pg) = PrivatePostgres::start() else {
        eprintln!("skipped: initdb/pg_ctl are not on the PATH");
        return;
    };
    let _machine = crate::support::CLUSTER_MACHINE.lock().await;
    let total: usize = std::env::var(ORDERS_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let per_kind = total / ProviderKind::ALL.len();
    let report = run_chaos(&pg, per_kind).await;
    println!("{report}");
}

/// What a chaos run saw.
struct ChaosReport {
    orders: usize,
    states: BTreeMap<OrderState, u64>,
    cards: usize,
    kills: usize,
    orphans: Vec<Duration>,
    database_restarts: usize,
    elapsed: Duration,
}

impl std::fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut waits = self.orphans.clone();
        waits.sort_unstable();
        let pick = |q: f64| {
            waits
                .get(((waits.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or_default()
        };
        write!(
            f,
            "chaos: {} orders over {} workers + serve; {} SIGKILLs, {} database restart(s); \
             {} cards, 0 duplicates, 0 lost; states {:?}; orders held by a killed worker: {}, \
             waited p50 {:.2} s, max {:.2} s after the kill; total {:.1} s",
            self.orders,
            WORKERS,
            self.kills,
            self.database_restarts,
            self.cards,
            self.states,
            waits.len(),
            pick(0.5).as_secs_f64(),
            pick(1.0).as_secs_f64(),
            self.elapsed.as_secs_f64(),
        )
    }
}

async fn run_chaos(pg: &PrivatePostgres, per_kind: usize) -> ChaosReport {
    // Arrange: the sandbox calls the server back; the server's port is fixed before either
    // starts.
    let server_addr = free_port();
    let server_url = format!("http://{server_addr}");
    let sandbox = start_sandbox(sandbox_config(&server_url)).await;
    let store = Store::connect(&pg.url())
        .await
        .expect("the private cluster");
    store.migrate().await.expect("migrate");
    let dir = tempfile::tempdir().unwrap();
    let profiles: BTreeMap<String, Profile> = ProviderKind::ALL
        .into_iter()
        .map(|kind| (kind.as_str().to_string(), chaos_profile(kind, &sandbox)))
        .collect();
    let mut batches: Vec<(ProviderKind, Uuid)> = Vec::new();
    for (name, p) in &profiles {
        let csv = csv(p.provider, &format!("chaos-{name}"), per_kind, &[]);
        batches.push((p.provider, submit_csv(&store, p, dir.path(), &csv).await));
    }
    // The test's own look at leases: reconnects by itself after the restart.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_lazy(&pg.url())
        .unwrap();
    let orders = per_kind * ProviderKind::ALL.len();
    let config = write_config(dir.path(), &pg.url(), server_addr, &profiles);
    let spawn = |what: &str, n: usize| {
        let log = dir.path().join(format!("{what}-{n}.log"));
        RunProcess::command(&config, what, &ProviderKind::ALL, log)
    };

    // Act
    let started = Instant::now();
    let budget = BUDGET_PER_1000_ORDERS * (orders.div_ceil(1000) as u32).max(1);
    let mut incarnations = 0;
    let mut serve = spawn("serve", 0);
    let mut workers: Vec<RunProcess> = (0..WORKERS)
        .map(|_| {
            incarnations += 1;
            spawn("worker", incarnations)
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(11);
    let mut next_kill = Instant::now() + kill_gap(&mut rng);
    let mut restarted_db = false;
    let mut kills = 0;
    // Orders held by a killed worker: (order id, dead worker's pid) -> when it was killed.
    let mut orphans: HashMap<i64, (u32, Instant)> = HashMap::new();
    let mut waited = Vec::new();
    let states = loop {
        if started.elapsed() >= budget {
            let log = std::fs::read_to_string(&serve.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "not settled after {budget:?}: {:?}; serve's log ends with:\n{}",
                count_states(&store).await,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        for process in workers.iter_mut().chain(std::iter::once(&mut serve)) {
            if let Some(status) = process.exited() {
                let log = std::fs::read_to_string(&process.log).unwrap_or_default();
                panic!("a cardbatch process stopped on its own ({status}): {log}");
            }
        }
        let Some(states) = count_states(&store).await else {
            continue; // the database is restarting
        };
        let final_count: u64 = states
            .iter()
            .filter(|(s, _)| !moving(**s))
            .map(|(_, n)| n)
            .sum();
        // Takeovers: an orphan is recovered once the dead worker no longer holds it.
        if !orphans.is_empty()
            && let Some(owners) = lease_owners(&pool, orphans.keys().copied().collect()).await
        {
            orphans.retain(|id, (pid, killed_at)| {
                let held = owners
                    .get(id)
                    .is_some_and(|o| o.contains(&format!("/{pid}/")));
                if !held {
                    waited.push(killed_at.elapsed());
                }
                held
            });
        }
        if final_count as usize == orders && orphans.is_empty() {
            break states;
        }
        let work_left = states
            .iter()
            .any(|(s, n)| *n > 0 && matches!(s, OrderState::Queued | OrderState::RetryWait));
        if work_left && Instant::now() >= next_kill {
            let slot = rng.random_range(0..WORKERS);
            let pid = workers[slot].child.id().expect("running");
            workers[slot].child.kill().await.expect("SIGKILL");
            let killed_at = Instant::now();
            kills += 1;
            if let Some(held) = held_by(&pool, pid).await {
                for id in held {
                    orphans.insert(id, (pid, killed_at));
                }
            }
            incarnations += 1;
            workers[slot] = spawn("worker", incarnations);
            next_kill = Instant::now() + kill_gap(&mut rng);
        }
        if !restarted_db && final_count as usize * 3 >= orders {
            pg.restart();
            restarted_db = true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let elapsed = started.elapsed();
    for w in workers {
        w.terminate().await;
    }
    serve.terminate().await;

    // Assert: every order final and reconciled; one card per order that has one.
    let in_review = states.get(&OrderState::NeedsReview).copied().unwrap_or(0);
    assert_eq!(in_review, 0, "orders left for review: {states:?}");
    assert_eq!(
        states.get(&OrderState::Dead).copied().unwrap_or(0),
        0,
        "{states:?}"
    );
    let mut cards = 0;
    for (kind, batch) in &batches {
        let carded: Vec<i64> = store
            .order_list(*batch, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|o| matches!(o.state, OrderState::Issued | OrderState::Failed))
            .map(|o| o.id)
            .collect();
        cards += assert_one_card_per_order(&sandbox, &store, *kind, &carded).await;
    }
    assert_counters_recount(&store, "kills, faults, webhooks and a database restart").await;
    let report = cardbatch::reconcile::report(&store, None).await.unwrap();
    for b in &report.batches {
        assert!(b.mismatches.is_empty(), "{:?}", b.mismatches);
        assert_eq!(b.awaiting_confirmation, 0);
    }
    assert!(kills > 0, "no worker was killed");
    assert!(restarted_db, "the database was not restarted");
    ChaosReport {
        orders,
        states,
        cards,
        kills,
        orphans: waited,
        database_restarts: usize::from(restarted_db),
        elapsed,
    }
}

/// Orders still moving, or waiting for the provider's confirmation.
fn moving(state: OrderState) -> bool {
    matches!(
        state,
        OrderState::Queued
            | OrderState::InFlight
            | OrderState::RetryWait
            | OrderState::InDoubt
            | OrderState::Submitted
    )
}

fn kill_gap(rng: &mut StdRng) -> Duration {
    Duration::from_millis(rng.random_range(1_500..=3_500))
}

/// Orders per state; `None` while the database does not answer.
async fn count_states(store: &Store) -> Option<BTreeMap<OrderState, u64>> {
    store.order_count_by_state().await.ok()
}

/// The ids of the orders a worker process (`pid`) holds (its lease owner ids carry the pid).
async fn held_by(pool: &PgPool, pid: u32) -> Option<Vec<i64>> {
    sqlx::query_scalar("SELECT id FROM orders WHERE state = 'in_flight' AND lease_owner LIKE $1")
        .bind(format!("%/{pid}/%"))
        .fetch_all(pool)
        .await
        .ok()
}

/// The lease owner of each of `ids` (absent: none).
async fn lease_owners(pool: &PgPool, ids: Vec<i64>) -> Option<HashMap<i64, String>> {
    let rows: Vec<(i64, Option<String>)> =
        sqlx::query_as("SELECT id, lease_owner FROM orders WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(pool)
            .await
            .ok()?;
    Some(
        rows.into_iter()
            .filter_map(|(id, owner)| owner.map(|o| (id, o)))
            .collect(),
    )
}

/// Faults of every provider, as the demo has them, plus a share of 429s.
fn sandbox_config(server_url: &str) -> SandboxConfig {
    let faults = FaultConfig {
        transient_error_rate: 0.05,
        lost_response_rate: 0.05,
        rate_limited_rate: 0.02,
        webhook_duplicate_rate: 0.10,
        webhook_reorder_rate: 0.10,
        webhook_delay_rate: 0.05,
        webhook_delay_ms: 300,
        webhook_drop_rate: 0.05,
        ..FaultConfig::default()
    };
    let mut config = SandboxConfig {
        seed: 11,
        time_scale: 0.05,
        ..SandboxConfig::default()
    };
    for kind in ProviderKind::ALL {
        let mut settings = ProviderSettings {
            faults: faults.clone(),
            failure_rate: 0.02,
            ..ProviderSettings::default()
        };
        match kind {
            ProviderKind::Uqpay => {
                settings.webhook_url = Some(format!("{server_url}{UQPAY_PATH}"));
                settings.webhook_secret = Some(DEV_UQPAY_WEBHOOK_SECRET.into());
            }
            ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid => {
                settings.webhook_url = Some(format!("{server_url}{QITECH_PATH}"));
                settings
                    .options
                    .insert("conflict_reveals_keys".into(), "true".into());
            }
            ProviderKind::AlchemypayVcc => {
                // Nothing names an Alchemy Pay card but its callback: dropped ones would leave
                // orders unconfirmable (the demo's reasoning).
                settings.faults.webhook_drop_rate = 0.0;
                settings.options.insert(
                    "check_url".into(),
                    format!("{server_url}/alchemypay/create-check"),
                );
            }
        }
        config = config.with_provider(kind, settings);
    }
    config
}

/// The built-in profile of `kind` on the sandbox: its credentials (and webhook keys) are the
/// sandbox's development ones, which a loopback `sandbox_credentials` profile falls back to.
fn chaos_profile(kind: ProviderKind, sandbox: &RunningSandbox) -> Profile {
    Profile {
        rate_limit_per_sec: 100.0,
        concurrency: 8,
        max_attempts: 40,
        backoff_base_ms: 20,
        backoff_cap_ms: 500,
        doubt_wait_ms: Some(200),
        ..profile(kind, &sandbox.addr().to_string())
    }
}

fn write_config(
    dir: &Path,
    database_url: &str,
    server: std::net::SocketAddr,
    profiles: &BTreeMap<String, Profile>,
) -> PathBuf {
    let config = Config {
        database_url: database_url.to_string(),
        server: ServerConfig {
            listen: server,
            public_url: Some(format!("http://{server}")),
        },
        worker: WorkerConfig {
            lease_secs: 2,
            claim_batch: 16,
            idle_poll_ms: 10,
            shutdown_grace_secs: 5,
        },
        reconcile: ReconcileConfig {
            confirm_after_secs: 1,
            interval_secs: 1,
            max_backoff_secs: 2,
            batch: 64,
            ..ReconcileConfig::default()
        },
        profiles: profiles.clone(),
        ..Config::without_profiles()
    };
    let path = dir.join("chaos.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    path
}

fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A PostgreSQL cluster of the test's own, in a temporary directory, on a port of its own.
/// Stopped (immediately) when dropped.
struct PrivatePostgres {
    _dir: tempfile::TempDir,
    data: PathBuf,
    log: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// `None` when `initdb` cannot be run.
    fn start() -> Option<PrivatePostgres> {
        let found = Command::new("initdb").arg("--version").output();
        if !found.is_ok_and(|o| o.status.success()) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        // PostgreSQL refuses to run as root: the cluster belongs to `postgres` then.
        if running_as_root() {
            let uid = id("-u");
            let gid = id("-g");
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let data = dir.path().join("data");
        let port = free_port().port();
        run_as_postgres(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            dir.path().display()
        );
        let log = dir.path().join("postgres.log");
        run_as_postgres(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        Some(PrivatePostgres {
            _dir: dir,
            data,
            log,
            port,
        })
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (fast: connections are cut) and starts it again with its options.
    fn restart(&self) {
        run_as_postgres(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-l",
                self.log.to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                "restart",
            ],
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = as_postgres("pg_ctl")
            .args(["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `id <flag> postgres` as a number.
fn id(flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn as_postgres(program: &str) -> Command {
    if running_as_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--", program]);
        cmd
    } else {
        Command::new(program)
    }
}

/// Runs a PostgreSQL tool to its end. Its output goes nowhere: a server it starts would
/// inherit a pipe and hold it open for good.
fn run_as_postgres(program: &str, args: &[&str]) {
    let status = as_postgres(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{program} {args:?}: {status}");
}
