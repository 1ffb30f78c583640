//! `GET /metrics`: Prometheus text that a parser independent of the exporter reads, whose
//! provider-call, completion-write, webhook and schedule-run counters and latency histograms
//! move as orders are issued (confirmed by the sandbox's webhooks) and a schedule fires, and
//! whose order and oldest-due-order gauges follow the store.

use crate::support::{AppSetup, TestDb, Webhooks, csv, spawn_app, wait_until};
use cardbatch::config::Config;
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::jobs::{Scheduler, load_one};
use cardbatch::reconcile::ProcessOptions;
use cardbatch::sandbox::{ProviderSettings, SandboxConfig};
use prometheus_parse::{Sample, Scrape, Value};
use std::time::Duration;

on_both_engines!(issuing_orders_moves_the_provider_counters_and_the_order_gauge);

/// The least used provider of the flow tests: the provider-call counters are process-wide, and
/// other tests' calls only ever add to them.
const KIND: ProviderKind = ProviderKind::QitechPostpaid;

/// The order gauges are refreshed from each scraping app's own store: the two engines' tests
/// take turns so that one's refresh cannot land between the other's refresh and render.
static SCRAPES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn issuing_orders_moves_the_provider_counters_and_the_order_gauge(db: TestDb) {
    // Arrange: cards finish 10 ms after their creation and the sandbox's signed webhooks
    // confirm them; a schedule named for this run (the counters are process-wide).
    let _turn = SCRAPES.lock().await;
    let setup = AppSetup {
        sandbox: SandboxConfig {
            seed: 7,
            time_scale: 0.01,
            ..SandboxConfig::default()
        },
        provider: ProviderSettings {
            lifecycle_delay_ms: 1_000,
            ..ProviderSettings::default()
        },
        webhooks: Webhooks::FromSandbox,
        processor: Some(ProcessOptions::default()),
        ..AppSetup::new(KIND)
    };
    let app = spawn_app(&db, setup).await;
    let profile = app.name();
    let jobs = tempfile::tempdir().unwrap();
    let schedule = format!("metrics_{}", uuid::Uuid::new_v4().simple());
    let scheduler = scheduler(&app.store, &db, &app.profile, jobs.path(), &schedule);
    let (before, content_type) = scrape(&app.url).await;
    app.submit_csv(&csv(KIND, "m", 3, &[])).await;
    // The new orders are due (from their ingest on): the gauge shows them waiting.
    let waiting = wait_for_scrape(&app.url, "the oldest due order to age", |s| {
        value(
            s,
            "cardbatch_oldest_due_order_age_seconds",
            &[("profile", profile)],
        ) > 0.0
    })
    .await;

    // Act
    app.run_until_settled().await;
    wait_until(
        "every order confirmed",
        Duration::from_secs(120),
        || async {
            let counts = app.store.order_count_by_state().await.unwrap();
            counts.get(&OrderState::Issued).copied() == Some(3)
        },
    )
    .await;
    let fired = scheduler.tick(chrono::Utc::now()).await.unwrap();
    let (after, _) = scrape(&app.url).await;

    // Assert
    assert!(
        value(
            &waiting,
            "cardbatch_oldest_due_order_age_seconds",
            &[("profile", profile)]
        ) < 3600.0
    );
    assert_eq!(
        value(
            &after,
            "cardbatch_oldest_due_order_age_seconds",
            &[("profile", profile)]
        ),
        0.0,
        "nothing is due once every order is issued"
    );
    let webhooks = |s: &Scrape, metric: &str, outcome: &str| {
        value(s, metric, &[("provider", "qitech"), ("outcome", outcome)])
    };
    for (metric, outcome) in [
        ("cardbatch_webhook_events_total", "new"),
        ("cardbatch_webhook_events_processed_total", "issued"),
    ] {
        assert!(
            webhooks(&after, metric, outcome) - webhooks(&before, metric, outcome) >= 3.0,
            "{metric} {outcome}: {} -> {}",
            webhooks(&before, metric, outcome),
            webhooks(&after, metric, outcome)
        );
    }
    let lagged = |s: &Scrape| {
        histogram_count(
            s,
            "cardbatch_webhook_lag_seconds",
            &[("provider", "qitech")],
        )
    };
    assert!(
        lagged(&after) - lagged(&before) >= 3.0,
        "webhook lag observations {} -> {}",
        lagged(&before),
        lagged(&after)
    );
    assert_eq!(fired.len(), 1, "{fired:?}");
    let outcome = fired[0].outcome.as_str();
    let runs = |s: &Scrape| {
        value(
            s,
            "cardbatch_schedule_runs_total",
            &[("schedule", &schedule), ("outcome", outcome)],
        )
    };
    assert_eq!((runs(&before), runs(&after)), (0.0, 1.0));
    // Assert
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let accepted = |s: &Scrape| {
        value(
            s,
            "cardbatch_provider_calls_total",
            &[
                ("profile", profile),
                ("kind", "create"),
                ("outcome", "accepted"),
            ],
        )
    };
    assert!(
        accepted(&after) - accepted(&before) >= 3.0,
        "accepted creates {} -> {}",
        accepted(&before),
        accepted(&after)
    );
    let timed = |s: &Scrape| {
        histogram_count(
            s,
            "cardbatch_provider_call_seconds",
            &[("profile", profile), ("kind", "create")],
        )
    };
    assert!(
        timed(&after) - timed(&before) >= 3.0,
        "{} -> {}",
        timed(&before),
        timed(&after)
    );
    let completed = |s: &Scrape| {
        value(
            s,
            "cardbatch_completion_writes_total",
            &[("profile", profile), ("outcome", "applied")],
        )
    };
    assert!(
        completed(&after) - completed(&before) >= 3.0,
        "{}",
        completed(&after)
    );
    let orders = |s: &Scrape, state: &str| {
        value(
            s,
            "cardbatch_orders",
            &[("profile", profile), ("state", state)],
        )
    };
    assert_eq!(orders(&after, OrderState::Issued.as_str()), 3.0);
    assert_eq!(orders(&after, OrderState::Submitted.as_str()), 0.0);
    assert_eq!(orders(&after, OrderState::Queued.as_str()), 0.0);
    assert_eq!(
        value(
            &after,
            "cardbatch_lane_configured_rate",
            &[("profile", profile)]
        ),
        app.lane().configured_rate
    );
    assert!(
        value(
            &after,
            "cardbatch_lane_permits_total",
            &[("profile", profile)]
        ) >= 3.0
    );
    app.shutdown().await;
}

/// A scheduler with one schedule, `name`, every minute over an empty drop folder of `jobs`.
fn scheduler(
    store: &cardbatch::store::Store,
    db: &TestDb,
    profile: &cardbatch::config::Profile,
    jobs: &std::path::Path,
    name: &str,
) -> Scheduler {
    let mut config = Config::without_profiles();
    config.database_url = db.url.clone();
    config.jobs_dir = jobs.to_path_buf();
    config
        .profiles
        .insert(profile.provider.as_str().to_string(), profile.clone());
    std::fs::create_dir_all(jobs.join("drop")).unwrap();
    let toml = format!(
        "cron = \"* * * * *\"\nprofile = \"{}\"\n[source]\ncsv = \"drop/*.csv\"\n",
        profile.provider.as_str()
    );
    std::fs::write(jobs.join(format!("{name}.toml")), toml).unwrap();
    let schedule = load_one(&config, name).unwrap();
    Scheduler::new(store.clone(), config, vec![schedule])
}

/// Scrapes until `ready` holds; the scrape that satisfied it.
async fn wait_for_scrape(url: &str, what: &str, ready: impl Fn(&Scrape) -> bool) -> Scrape {
    let found = std::sync::Mutex::new(None);
    wait_until(what, Duration::from_secs(60), || async {
        let (s, _) = scrape(url).await;
        let ok = ready(&s);
        if ok {
            *found.lock().unwrap() = Some(s);
        }
        ok
    })
    .await;
    found.into_inner().unwrap().unwrap()
}

/// Scrapes `/metrics` of the app at `url`: the parsed samples and the content type.
async fn scrape(url: &str) -> (Scrape, String) {
    let response = reqwest::get(format!("{url}/metrics")).await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let text = response.text().await.unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let parsed = Scrape::parse(lines).expect("Prometheus text format");
    (parsed, content_type)
}

fn matching<'a>(
    s: &'a Scrape,
    metric: &'a str,
    labels: &'a [(&'a str, &'a str)],
) -> impl Iterator<Item = &'a Sample> {
    s.samples.iter().filter(move |sample| {
        sample.metric == metric && labels.iter().all(|(k, v)| sample.labels.get(k) == Some(*v))
    })
}

/// The value of the counter or gauge `metric` with `labels` (0 when it has no sample yet, as
/// a counter that never moved).
fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    matching(s, metric, labels)
        .map(|sample| match &sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{metric} is not a single value: {other:?}"),
        })
        .sum()
}

/// How many observations the histogram `metric` with `labels` holds (its `+Inf` bucket).
fn histogram_count(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    matching(s, metric, labels)
        .map(|sample| match &sample.value {
            Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            other => panic!("{metric} is not a histogram: {other:?}"),
        })
        .sum()
}
