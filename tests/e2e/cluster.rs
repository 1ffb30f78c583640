//! Several worker machines on one Postgres: three `cardbatch worker` processes share one UQPAY
//! profile at 20 calls/s against a sandbox that allows 20 calls/s per credential. The profile's
//! lane is shared through the database, so together they keep to the limit (0 answers 429) and
//! use all of it (at least 19.6 calls/s over 30 s, counted by the sandbox). Then the sandbox's
//! limit is lowered to 10/s at run time: the first 429 pauses and halves the shared lane for all
//! three, so 429s stay a small share of the calls and the new limit is still mostly used.
//! Runs where the Postgres tests run (`CARDBATCH_TEST_PG_URL` set).

use crate::support::{RunProcess, TestDb, csv, profile, start_sandbox, submit_csv, wait_until};
use cardbatch::config::Profile;
use cardbatch::domain::ProviderKind;
use cardbatch::sandbox::{FaultConfig, ProviderSettings, RunningSandbox, SandboxConfig};
use std::time::{Duration, Instant};

const WORKERS: usize = 3;
const LIMIT: f64 = 20.0;
const LOWERED: f64 = 10.0;
const WINDOW: Duration = Duration::from_secs(30);
const LOWERED_WINDOW: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_on_one_postgres_share_the_providers_rate_limit() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // Arrange: enough orders to keep the lane busy through both windows.
    let sandbox = start_sandbox(sandbox_config()).await;
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let profile = Profile {
        rate_limit_per_sec: LIMIT,
        concurrency: 8,
        ..profile(ProviderKind::Uqpay, &sandbox.addr().to_string())
    };
    submit_csv(
        &store,
        &profile,
        dir.path(),
        &csv(ProviderKind::Uqpay, "cluster", 1_200, &[]),
    )
    .await;
    let config = crate::support::write_config(dir.path(), &db.url, &profile, 10);
    let mut workers: Vec<RunProcess> = (0..WORKERS)
        .map(|n| {
            let log = dir.path().join(format!("worker-{n}.log"));
            RunProcess::command(&config, "worker", &[ProviderKind::Uqpay], log)
        })
        .collect();

    // Act 1: once every worker is up and the lane is full, count the sandbox's cards for 30 s.
    wait_until("the workers issuing", Duration::from_secs(60), || {
        let cards = stat(&sandbox, "cards_created");
        async move { cards >= 2 * LIMIT as u64 }
    })
    .await;
    let full = measure(&sandbox, WINDOW).await;

    // Assert 1
    println!("cluster at {LIMIT}/s: {full}");
    assert_eq!(stat(&sandbox, "rate_limited"), 0, "a 429 was answered");
    assert!(full.rate() >= 19.6, "{full}");
    for w in &mut workers {
        assert!(w.exited().is_none(), "a worker stopped");
    }

    // Act 2: the provider lowers its limit while the workers run.
    let patch = reqwest::Client::new()
        .patch(format!("{}/_sandbox/faults", sandbox.base_url()))
        .json(&serde_json::json!({ "uqpay": { "rate_limit_per_sec": LOWERED } }))
        .send()
        .await
        .unwrap();
    assert!(patch.status().is_success(), "{}", patch.status());
    let lowered = measure(&sandbox, LOWERED_WINDOW).await;

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
        (lowered.rate_limited as f64) < 0.1 * lowered.cards as f64,
        "{lowered}"
    );
    for w in workers {
        w.terminate().await;
    }
}

/// What the sandbox counted over one window.
struct Window {
    cards: u64,
    rate_limited: u64,
    elapsed: Duration,
}

impl Window {
    fn rate(&self) -> f64 {
        self.cards as f64 / self.elapsed.as_secs_f64()
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} cards in {:.1} s = {:.2}/s, {} answers 429",
            self.cards,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.rate_limited
        )
    }
}

/// Counts the cards created and the 429s answered over `window` (the measurement's own length,
/// not a wait for something to happen).
async fn measure(sandbox: &RunningSandbox, window: Duration) -> Window {
    let (cards, limited, start) = (
        stat(sandbox, "cards_created"),
        stat(sandbox, "rate_limited"),
        Instant::now(),
    );
    tokio::time::sleep(window).await;
    Window {
        cards: stat(sandbox, "cards_created") - cards,
        rate_limited: stat(sandbox, "rate_limited") - limited,
        elapsed: start.elapsed(),
    }
}

fn stat(sandbox: &RunningSandbox, counter: &str) -> u64 {
    sandbox.stats().get(ProviderKind::Uqpay.as_str(), counter)
}

/// UQPAY limited to [`LIMIT`] calls/s per credential (burst: one second's worth), no other
/// fault, nobody called back.
fn sandbox_config() -> SandboxConfig {
    let settings = ProviderSettings {
        faults: FaultConfig {
            rate_limit_per_sec: Some(LIMIT),
            ..FaultConfig::default()
        },
        webhook_url: None,
        ..ProviderSettings::default()
    };
    SandboxConfig {
        cardbatch_url: None,
        ..SandboxConfig::default()
    }
    .with_provider(ProviderKind::Uqpay, settings)
}
