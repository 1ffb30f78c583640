//! Several worker machines on one Postgres, as `examples/cluster.sh` starts them (the
//! docker-compose topology as local processes: the sandbox, one `cardbatch serve`, three
//! `cardbatch worker`s): the UQPAY profile at 20 calls/s against a sandbox that allows 20
//! calls/s per credential. The profile's lane is shared through the database by every process
//! (serve's reconciler and event processor too), so together they keep to the limit (0 answers
//! 429) and use all of it (at least 19.6 calls/s over 30 s, counted by the sandbox). Then the
//! sandbox's limit is lowered to 10/s at run time: the first 429 pauses and halves the shared
//! lane for all, so 429s stay a small share of the calls and most of the new limit is used.
//! Runs where the Postgres tests run (`CARDBATCH_TEST_PG_URL` set).

use crate::support::{CLUSTER_MACHINE, TestDb, csv, profile, submit_csv, wait_until};
use cardbatch::config::Profile;
use cardbatch::domain::ProviderKind;
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const WORKERS: usize = 3;
const LIMIT: f64 = 20.0;
const LOWERED: f64 = 10.0;
const WINDOW: Duration = Duration::from_secs(30);
const LOWERED_WINDOW: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_on_one_postgres_share_the_providers_rate_limit() {
    // It asserts the rate the workers achieve, which other tests sharing the 2 cores bring down
    // (17.6–18.5/s beside the rest of the suite, 20.00/s alone): `.ci/run` runs it on its own,
    // with CARDBATCH_RATE_TESTS=1; inside the whole suite it says it was skipped.
    if std::env::var("CARDBATCH_RATE_TESTS").is_err() {
        eprintln!("skipped: set CARDBATCH_RATE_TESTS=1 to run the cluster rate test (alone)");
        return;
    }
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let _machine = CLUSTER_MACHINE.lock().await;
    // Arrange: enough orders to keep the lane busy through both windows, then the cluster.
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let sandbox_port = free_port();
    let profile = Profile {
        rate_limit_per_sec: LIMIT,
        ..profile(ProviderKind::Uqpay, &format!("127.0.0.1:{sandbox_port}"))
    };
    submit_csv(
        &store,
        &profile,
        dir.path(),
        &csv(ProviderKind::Uqpay, "cluster", 1_200, &[]),
    )
    .await;
    let mut cluster = start_cluster(dir.path(), &db.url, sandbox_port);
    let sandbox = Sandbox(format!("http://127.0.0.1:{sandbox_port}"));

    // Act 1: once the workers issue at full rate, count the sandbox's answers for 30 s.
    wait_until("the workers issuing", Duration::from_secs(120), || {
        assert!(cluster.try_wait().unwrap().is_none(), "cluster.sh stopped");
        let sandbox = &sandbox;
        async move {
            let stats = sandbox.try_stats().await;
            let cards = stats.map_or(0, |s| s["uqpay"]["cards_created"].as_u64().unwrap_or(0));
            // Five seconds at full rate: every worker has started and claimed.
            cards >= 5 * LIMIT as u64
        }
    })
    .await;
    let budget = store.lane_budget("uqpay").unwrap();
    let permits = || async { budget.read().await.unwrap().map_or(0, |row| row.permits) };
    let permits_before = permits().await;
    let full = sandbox.measure(WINDOW).await;
    let permits_in_window = permits().await - permits_before;

    // Assert 1
    println!(
        "cluster at {LIMIT}/s: {full}; the shared lane handed out {permits_in_window} permits"
    );
    assert_eq!(sandbox.stat("rate_limited").await, 0, "a 429 was answered");
    assert!(full.rate() >= 19.6, "{full}");
    assert!(cluster.try_wait().unwrap().is_none(), "cluster.sh stopped");

    // Act 2: the provider lowers its limit while the cluster runs.
    sandbox
        .patch_faults(serde_json::json!({ "uqpay": { "rate_limit_per_sec": LOWERED } }))
        .await;
    let lowered = sandbox.measure(LOWERED_WINDOW).await;

    // Assert 2: the 429s were noticed and shared (the row's rate was cut), they stay a small
    // share of the calls, and most of the new limit is used.
    let row = store.lane_budget("uqpay").unwrap().read().await.unwrap();
    println!("cluster, limit lowered to {LOWERED}/s: {lowered}; shared lane {row:?}");
    let row = row.expect("the shared lane's row");
    assert!(lowered.rate_limited > 0, "the lowered limit was never hit");
    assert!(row.rate_limited > 0 && row.rate < LIMIT, "{row:?}");
    assert!(lowered.rate() <= LOWERED * 1.1, "{lowered}");
    assert!(lowered.rate() >= LOWERED * 0.6, "{lowered}");
    assert!(
        (lowered.rate_limited as f64) < 0.1 * lowered.passed as f64,
        "{lowered}"
    );
    stop_cluster(cluster, dir.path()).await;
}

/// `examples/cluster.sh` on the test's database, `WORKERS` workers, no schedules, the sandbox
/// on `sandbox_port`; its logs go to `dir`.
fn start_cluster(dir: &Path, database_url: &str, sandbox_port: u16) -> Child {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cluster.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(script).args(["--workers", &WORKERS.to_string()]);
    // The processes read CARDBATCH_* as configuration; the test's own variables must not leak.
    for (key, _) in std::env::vars() {
        if key.starts_with("CARDBATCH_") {
            cmd.env_remove(key);
        }
    }
    let jobs = dir.join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    cmd.env("CARDBATCH_BIN", env!("CARGO_BIN_EXE_cardbatch"))
        .env("CARDBATCH_LOG", "warn,cardbatch=info")
        .env("CLUSTER_DATABASE_URL", database_url)
        .env("CLUSTER_DIR", dir)
        .env("CLUSTER_JOBS_DIR", &jobs)
        .env("SANDBOX_PORT", sandbox_port.to_string())
        .env("SERVE_PORT", free_port().to_string())
        .env("UQPAY_RATE", LIMIT.to_string())
        .env("SANDBOX_RATE", (LIMIT as u64).to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("cluster.log")).unwrap(),
        ))
        .kill_on_drop(true)
        .spawn()
        .expect("bash runs examples/cluster.sh")
}

/// SIGTERM to the script, which stops every process it started; it must exit 0.
async fn stop_cluster(mut cluster: Child, dir: &Path) {
    let pid = cluster.id().expect("still running");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(90), cluster.wait())
        .await
        .expect("the cluster stops within 90 s of SIGTERM")
        .unwrap();
    let log = std::fs::read_to_string(dir.join("cluster.log")).unwrap_or_default();
    assert!(exit.success(), "cluster.sh exited {exit}: {log}");
    for n in 1..=WORKERS {
        let worker = std::fs::read_to_string(dir.join(format!("worker-{n}.log"))).unwrap();
        assert!(
            worker.contains("lane stopped"),
            "worker {n} did not stop cleanly: {worker}"
        );
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the sandbox counted over one window.
struct Window {
    /// Requests that passed the sandbox's limit (creates, lookups, token calls).
    passed: u64,
    rate_limited: u64,
    elapsed: Duration,
}

impl Window {
    fn rate(&self) -> f64 {
        self.passed as f64 / self.elapsed.as_secs_f64()
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests passed in {:.1} s = {:.2}/s, {} answers 429",
            self.passed,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.rate_limited
        )
    }
}

/// The cluster's sandbox, through its admin routes.
struct Sandbox(String);

impl Sandbox {
    /// The sandbox's counters; `None` while it does not answer (starting).
    async fn try_stats(&self) -> Option<Value> {
        let answer = reqwest::get(format!("{}/_sandbox/stats", self.0))
            .await
            .ok()?;
        answer.error_for_status().ok()?.json().await.ok()
    }

    async fn stats(&self) -> Value {
        self.try_stats().await.expect("the sandbox answers")
    }

    async fn stat(&self, counter: &str) -> u64 {
        self.stats().await["uqpay"][counter].as_u64().unwrap_or(0)
    }

    async fn patch_faults(&self, body: Value) {
        let answer = reqwest::Client::new()
            .patch(format!("{}/_sandbox/faults", self.0))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
    }

    /// Counts the UQPAY requests that passed and the 429s over `window` (the measurement's own
    /// length, not a wait for something to happen).
    async fn measure(&self, window: Duration) -> Window {
        let counts = |stats: &Value| {
            let n = |c: &str| stats["uqpay"][c].as_u64().unwrap_or(0);
            (n("requests"), n("rate_limited"))
        };
        let before = counts(&self.stats().await);
        let start = Instant::now();
        tokio::time::sleep(window).await;
        let after = counts(&self.stats().await);
        let rate_limited = after.1 - before.1;
        Window {
            passed: (after.0 - before.0) - rate_limited,
            rate_limited,
            elapsed: start.elapsed(),
        }
    }
}
