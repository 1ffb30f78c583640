//! Scheduled issuance as an operator runs it, with the real binary: `cardbatch schedules
//! [--json]`, `cardbatch schedules run NAME`, and `cardbatch run --until-idle` from a cron job
//! (exit 0 when every order was issued, 4 when some ended rejected), on both engines.

use crate::support::{TestDb, csv, dev_credentials, profile, start_sandbox, write_config};
use cardbatch::config::{Config, Profile};
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::sandbox::SandboxConfig;
use std::path::Path;
use std::process::Output;

on_both_engines!(until_idle_fires_the_schedule_issues_every_order_and_exits_0_or_4);

const KIND: ProviderKind = ProviderKind::Uqpay;

/// `cardbatch --config CONFIG ARGS` with the profile's credentials in its environment only.
async fn cardbatch(config: &Path, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cardbatch"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CARDBATCH_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("CARDBATCH_LOG", "warn,cardbatch=info");
    for (name, value) in dev_credentials(KIND) {
        cmd.env(
            format!("E2E_{}_{}", KIND.as_str(), name).to_uppercase(),
            value,
        );
    }
    let run = cmd.arg("--config").arg(config).args(args).output();
    tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("cardbatch finishes within two minutes")
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn until_idle_fires_the_schedule_issues_every_order_and_exits_0_or_4(db: TestDb) {
    // Arrange: the sandbox, a config whose reconciler looks orders up after a second, and a
    // schedule every minute over a drop folder holding 5 orders.
    let sandbox = start_sandbox(SandboxConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let profile = Profile {
        rate_limit_per_sec: 100.0,
        ..profile(KIND, &sandbox.addr().to_string())
    };
    let path = write_config(dir.path(), &db.url, &profile, 30);
    let mut config = Config::load(Some(&path)).unwrap();
    config.reconcile.confirm_after_secs = 1;
    config.reconcile.interval_secs = 1;
    config.jobs_dir = dir.path().join("jobs");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let drop = config.jobs_dir.join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    std::fs::write(
        config.jobs_dir.join("nightly.toml"),
        format!(
            "# every minute, for the test\ncron = \"* * * * *\"\ntimezone = \"America/Sao_Paulo\"\nprofile = \"{}\"\n\n[source]\ncsv = \"drop/*.csv\"\narchive_dir = \"done\"\n",
            KIND.as_str()
        ),
    )
    .unwrap();
    std::fs::write(drop.join("monday.csv"), csv(KIND, "SCH", 5, &[])).unwrap();

    // Act 1: list, then run until idle.
    let listed = cardbatch(&path, &["schedules", "--json"]).await;
    let idle = cardbatch(&path, &["run", "--until-idle"]).await;
    let after = cardbatch(&path, &["schedules", "--json"]).await;
    let table = cardbatch(&path, &["schedules"]).await;

    // Assert 1: listed with its next slot and no run; fired once, every order issued, exit 0.
    assert!(listed.status.success(), "{}", text(&listed));
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["name"], "nightly");
    assert_eq!(listed[0]["cron"], "* * * * *");
    assert_eq!(listed[0]["timezone"], "America/Sao_Paulo");
    assert_eq!(listed[0]["profile"], KIND.as_str());
    assert_eq!(listed[0]["source"]["csv"], "drop/*.csv");
    assert!(listed[0]["last_run"].is_null());
    assert!(listed[0]["next_slot"].is_string());
    assert_eq!(idle.status.code(), Some(0), "{}", text(&idle));
    let store = db.store().await;
    let counts = store.order_count_by_state().await.unwrap();
    assert_eq!(counts.get(&OrderState::Issued), Some(&5), "{counts:?}");
    let after: serde_json::Value = serde_json::from_slice(&after.stdout).unwrap();
    assert_eq!(after[0]["last_run"]["outcome"], "queued", "{after}");
    assert_eq!(after[0]["last_run"]["rows"], 5);
    assert!(after[0]["last_run"]["batch"].is_string());
    assert!(table.status.success());
    assert!(String::from_utf8_lossy(&table.stdout).contains("nightly"));
    assert!(dir.path().join("jobs/done/monday.csv").exists());

    // Act 2: the same slot run again by hand; then a file with a provider-rejected order, and a
    // broken schedule file beside the good one.
    let again = cardbatch(&path, &["schedules", "run", "nightly", "--json"]).await;
    std::fs::write(
        config.jobs_dir.join("broken.toml"),
        "cron = \"every night\"\n",
    )
    .unwrap();
    let with_broken = cardbatch(&path, &["schedules", "--json"]).await;
    std::fs::write(drop.join("tuesday.csv"), csv(KIND, "BAD", 3, &[1])).unwrap();
    let by_hand = cardbatch(&path, &["schedules", "run", "nightly"]).await;
    let failing = cardbatch(&path, &["run", "--until-idle"]).await;
    let unknown = cardbatch(&path, &["schedules", "run", "weekly"]).await;

    // Assert 2: nothing ingested twice; the rejected order makes --until-idle exit 4.
    assert!(again.status.success(), "{}", text(&again));
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["inserted"], 0);
    assert!(by_hand.status.success(), "{}", text(&by_hand));
    assert!(
        String::from_utf8_lossy(&by_hand.stdout).contains("queued"),
        "{}",
        text(&by_hand)
    );
    assert_eq!(failing.status.code(), Some(4), "{}", text(&failing));
    let counts = store.order_count_by_state().await.unwrap();
    assert_eq!(counts.get(&OrderState::Issued), Some(&7), "{counts:?}");
    assert_eq!(counts.get(&OrderState::Rejected), Some(&1), "{counts:?}");
    assert_eq!(unknown.status.code(), Some(1));
    // A broken file is reported and does not stop the others (nor `run`, above).
    assert_eq!(with_broken.status.code(), Some(1), "{}", text(&with_broken));
    assert!(String::from_utf8_lossy(&with_broken.stderr).contains("broken.toml"));
    let listed: serde_json::Value = serde_json::from_slice(&with_broken.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no such schedule"));
}
