//! Recovery after `kill -9`: the real `cardbatch run` (default worker settings: 5 s heartbeat
//! leases) issuing orders of the four providers is killed mid-run and started again at once.
//! Orders the dead process had claimed but not sent come back when their lease runs out, without
//! a lookup; those it had sent, a doubt wait later, looked up first. Every order ends with one
//! card. The times from the kill to the next order settled and to the last of the dead
//! process's orders taken over are printed (BENCHMARKS.md); nothing is asserted about them.
//!
//! `CARDBATCH_RECOVERY_ORDERS` sets the size (default 700, over the four providers).

use crate::support::{
    MOVING, RunProcess, SETTLE, TestDb, assert_counters_recount, assert_one_card_per_order, csv,
    start_sandbox, submit_csv, wait_settled, wait_until,
};
use cardbatch::config::{Config, Profile, ServerConfig};
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::sandbox::{FaultConfig, ProviderSettings, SandboxConfig};
use cardbatch::store::Store;
use std::collections::BTreeMap;
use std::time::Instant;

const ORDERS_VAR: &str = "CARDBATCH_RECOVERY_ORDERS";

async fn settled(store: &Store) -> u64 {
    let counts = store.order_count_by_state().await.unwrap();
    counts
        .iter()
        .filter(|(s, _)| !MOVING.contains(s))
        .map(|(_, n)| n)
        .sum()
}

async fn a_run_killed_mid_batch_resumes_within_seconds_and_issues_each_card_once(db: TestDb) {
    // Arrange: the built-in sandbox profiles (10 calls/s, 4 at once each), 20 ms per call.
    let total: usize = std::env::var(ORDERS_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(700);
    let mut config = SandboxConfig {
        seed: 3,
        ..SandboxConfig::default()
    };
    for kind in ProviderKind::ALL {
        let faults = FaultConfig {
            latency_ms: 20,
            ..FaultConfig::default()
        };
        let mut settings = ProviderSettings {
            faults,
            ..ProviderSettings::default()
        };
        // A postpaid create cut by the kill is resolved by re-sending its request_control_key;
        // the 409 names the instrument only where QI reveals it (the demo's setting).
        if kind == ProviderKind::QitechPostpaid {
            settings
                .options
                .insert("conflict_reveals_keys".into(), "true".into());
        }
        config = config.with_provider(kind, settings);
    }
    let sandbox = start_sandbox(config).await;
    let store = db.store().await;
    store.migrate().await.expect("migrate");
    let dir = tempfile::tempdir().unwrap();
    let profiles: BTreeMap<String, Profile> = ProviderKind::ALL
        .into_iter()
        .map(|k| {
            let p = Profile::sandbox(k, &sandbox.addr().to_string());
            (k.as_str().to_string(), p)
        })
        .collect();
    let mut batches = Vec::new();
    for p in profiles.values() {
        let name = p.provider.as_str();
        let rows = csv(p.provider, &format!("rec-{name}"), total / 4, &[]);
        batches.push((p.provider, submit_csv(&store, p, dir.path(), &rows).await));
    }
    let config = Config {
        database_url: db.url.clone(),
        server: ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            public_url: None,
        },
        profiles,
        ..Config::without_profiles()
    };
    let path = dir.path().join("cardbatch.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let orders = (total / 4 * 4) as u64;

    // Act: kill -9 once a third is settled; start again at once.
    let first = RunProcess::command(&path, "run", &[], dir.path().join("first.log"));
    wait_until("a third of the orders", SETTLE, || async {
        settled(&store).await * 3 >= orders
    })
    .await;
    let pid = first.child.id().expect("running");
    first.kill9().await;
    let killed = Instant::now();
    let at_kill = settled(&store).await;
    let held = held_by(&db.url, pid).await;
    let second = RunProcess::command(&path, "run", &[], dir.path().join("second.log"));
    wait_until("the next order settled", SETTLE, || async {
        settled(&store).await > at_kill
    })
    .await;
    let next_settled = killed.elapsed();
    wait_until(
        "the first of the dead process's orders taken over",
        SETTLE,
        || async { held == 0 || held_by(&db.url, pid).await < held },
    )
    .await;
    let first_orphan = killed.elapsed();
    wait_until("the dead process's orders taken over", SETTLE, || async {
        held_by(&db.url, pid).await == 0
    })
    .await;
    let orphans_taken = killed.elapsed();
    wait_settled(store.clone()).await;
    let all_settled = killed.elapsed();
    second.terminate().await;

    // Assert
    for (kind, batch) in &batches {
        let rows = store.order_list(*batch, None).await.unwrap();
        assert!(
            rows.iter()
                .all(|o| o.state == OrderState::Submitted || o.state == OrderState::Issued),
            "{kind}: {:?}",
            rows.iter()
                .filter(|o| !matches!(o.state, OrderState::Submitted | OrderState::Issued))
                .map(|o| (&o.order_ref, o.state, &o.last_error_code))
                .collect::<Vec<_>>()
        );
        let ids: Vec<i64> = rows.iter().map(|o| o.id).collect();
        assert_one_card_per_order(&sandbox, &store, *kind, &ids).await;
    }
    assert_counters_recount(&store, "kill -9 and a restart").await;
    println!(
        "recovery ({}): {orders} orders, killed with {at_kill} settled and {held} in flight; \
         next order settled {:.2} s after the kill; the dead process's orders: first taken over \
         after {:.2} s, the last after {:.2} s (at the profiles' rate); every order settled after \
         {:.2} s",
        db.url.split(':').next().unwrap_or_default(),
        next_settled.as_secs_f64(),
        first_orphan.as_secs_f64(),
        orphans_taken.as_secs_f64(),
        all_settled.as_secs_f64()
    );
}

/// Orders a process (`pid`) holds: its lease owner ids carry the pid.
async fn held_by(url: &str, pid: u32) -> i64 {
    const SQL: &str =
        "SELECT COUNT(*) FROM orders WHERE state = 'in_flight' AND lease_owner LIKE $1";
    let owner = format!("%/{pid}/%");
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let n = sqlx::query_scalar(SQL)
            .bind(owner)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let n = sqlx::query_scalar(SQL)
            .bind(owner)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }
}

on_both_engines!(a_run_killed_mid_batch_resumes_within_seconds_and_issues_each_card_once);
