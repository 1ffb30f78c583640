//! `GET /metrics`: Prometheus text that a parser independent of the exporter reads, whose
//! provider-call and completion-write counters and latency histogram move as orders are issued and whose order
//! gauge follows the store.

use crate::support::{AppSetup, TestDb, csv, spawn_app};
use cardbatch::domain::{OrderState, ProviderKind};
use prometheus_parse::{Sample, Scrape, Value};

on_both_engines!(issuing_orders_moves_the_provider_counters_and_the_order_gauge);

/// The least used provider of the flow tests: the provider-call counters are process-wide, and
/// other tests' calls only ever add to them.
const KIND: ProviderKind = ProviderKind::QitechPostpaid;

/// The order gauges are refreshed from each scraping app's own store: the two engines' tests
/// take turns so that one's refresh cannot land between the other's refresh and render.
static SCRAPES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn issuing_orders_moves_the_provider_counters_and_the_order_gauge(db: TestDb) {
    // Arrange
    let _turn = SCRAPES.lock().await;
    let app = spawn_app(&db, AppSetup::new(KIND)).await;
    let profile = app.name();
    let (before, content_type) = scrape(&app.url).await;
    app.submit_csv(&csv(KIND, "m", 3, &[])).await;

    // Act
    app.run_until_settled().await;
    let (after, _) = scrape(&app.url).await;

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
    let timed =
        |s: &Scrape| histogram_count(s, "cardbatch_provider_call_seconds", profile, "create");
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
    let submitted = OrderState::Submitted.as_str();
    let orders = |s: &Scrape, state: &str| {
        value(
            s,
            "cardbatch_orders",
            &[("profile", profile), ("state", state)],
        )
    };
    assert_eq!(orders(&after, submitted), 3.0);
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

/// How many observations the histogram `metric` of `profile` and `kind` holds (its `+Inf`
/// bucket).
fn histogram_count(s: &Scrape, metric: &str, profile: &str, kind: &str) -> f64 {
    matching(s, metric, &[("profile", profile), ("kind", kind)])
        .map(|sample| match &sample.value {
            Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            other => panic!("{metric} is not a histogram: {other:?}"),
        })
        .sum()
}
