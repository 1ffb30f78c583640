//! Durable retries: backoff that grows, survives restarts, and ends in `dead`.

use crate::support::{
    AppSetup, SETTLE, TestDb, csv, dev_credentials, orders, profile, spawn_app, submit, submit_csv,
    wait_until,
};
use cardbatch::app::App;
use cardbatch::config::{Config, Profile, WorkerConfig};
use cardbatch::domain::OrderState;
use cardbatch::domain::ProviderKind;
use cardbatch::providers::Credentials;
use cardbatch::store::{AttemptKind, AttemptOutcome, AttemptRecord, OrderRow};
use cardbatch::worker::{
    Clock, HandlerResult, OrderHandler, Outcome, Runtime, handler_fn, system_now_ms,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

on_both_engines!(
    a_transient_failure_reschedules_with_growing_delays_that_survive_a_restart,
    attempts_exhausted_end_in_dead_with_every_call_recorded,
    a_retry_after_from_the_provider_is_honoured,
    a_provider_that_refuses_connections_uses_up_no_attempt,
);

const BASE_MS: u64 = 1_000;

fn config() -> WorkerConfig {
    WorkerConfig {
        lease_secs: 60,
        claim_batch: 64,
        idle_poll_ms: 20,
        shutdown_grace_secs: 30,
    }
}

/// The map of one UQPAY profile `p`. The handlers here are stand-ins that call no provider.
fn profiles(p: Profile) -> BTreeMap<String, Profile> {
    BTreeMap::from([("uqpay".to_string(), p)])
}

/// A handler whose every call fails transiently, recording the call.
fn always_busy(retry_after: Option<Duration>) -> Arc<dyn OrderHandler> {
    handler_fn(move |order| {
        let result = HandlerResult {
            outcome: Outcome::Transient {
                code: "CARD000009".into(),
                message: "provider busy".into(),
                retry_after,
            },
            attempts: vec![AttemptRecord {
                kind: Some(AttemptKind::Create),
                attempt_no: order.attempt,
                started_at_ms: 0,
                duration_ms: 3,
                http_status: Some(503),
                provider_code: Some("CARD000009".into()),
                outcome: AttemptOutcome::Transient,
                message: Some("provider busy".into()),
            }],
        };
        async move { result }
    })
}

async fn a_transient_failure_reschedules_with_growing_delays_that_survive_a_restart(db: TestDb) {
    // Arrange: 50 orders that always fail; backoff 1 s doubling, no cap in reach.
    let clock = Clock::manual(system_now_ms());
    let batch = submit(&db.store().await, "uqpay", orders("t", 50)).await;
    let handler = always_busy(None);
    // The delay each failure drew, by the attempt number that failed.
    let mut delays: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
    let mut rows_before_restart: Vec<OrderRow> = Vec::new();

    // Act: four rounds; each opens the store afresh (a restart) and runs once everything is due.
    // The manual clock stands still during a round, so every failure of a round happens at its
    // start and `next_attempt_at - start` is the drawn delay. (A draw of 0 ms makes the order due
    // again within the same round; that is full jitter working, so attempts may run ahead.)
    for round in 1..=4u32 {
        let store = db.store().await;
        if round > 1 {
            // The schedule written before the "restart" is still there, unchanged.
            let rows = store.order_list(batch.batch_id, None).await.unwrap();
            assert_eq!(rows, rows_before_restart);
            clock.set_ms(rows.iter().map(|r| r.next_attempt_at_ms).max().unwrap());
        }
        let round_start = clock.now_ms();
        Runtime::new(
            store.clone(),
            profiles(Profile {
                concurrency: 8,
                max_attempts: 10,
                backoff_base_ms: BASE_MS,
                backoff_cap_ms: 3_600_000,
                ..profile(ProviderKind::Uqpay, "127.0.0.1:9")
            }),
            handler.clone(),
            config(),
        )
        .with_clock(clock.clone())
        .drain_until_idle()
        .await
        .unwrap();
        let rows = store.order_list(batch.batch_id, None).await.unwrap();
        let states: Vec<_> = rows.iter().map(|r| (r.state, r.attempts)).collect();
        assert!(
            rows.iter()
                .all(|r| r.state == OrderState::RetryWait && r.attempts >= round),
            "round {round}: {states:?}"
        );
        for r in &rows {
            delays
                .entry(r.attempts)
                .or_default()
                .push(r.next_attempt_at_ms - round_start);
        }
        rows_before_restart = rows;
        store.close().await;
    }

    // Assert: each delay is within 0..=base*2^(attempt-1), and the delays grow: from the fourth
    // attempt on some exceed the first attempt's ceiling (all staying below it has probability
    // about (1/8)^50), and their mean is higher.
    for (attempt, ds) in &delays {
        let ceiling = (BASE_MS << (attempt - 1)) as i64;
        assert!(
            ds.iter().all(|d| (0..=ceiling).contains(d)),
            "attempt {attempt}: {ds:?}"
        );
    }
    let late: Vec<i64> = delays
        .range(4..)
        .flat_map(|(_, ds)| ds.iter().copied())
        .collect();
    let mean = |d: &[i64]| d.iter().sum::<i64>() as f64 / d.len() as f64;
    assert!(late.len() >= 40, "{delays:?}");
    assert!(late.iter().any(|&d| d > BASE_MS as i64));
    assert!(mean(&late) > mean(&delays[&1]));
}

async fn attempts_exhausted_end_in_dead_with_every_call_recorded(db: TestDb) {
    // Arrange: three attempts allowed.
    let store = db.store().await;
    let clock = Clock::manual(system_now_ms());
    let batch = submit(&store, "uqpay", orders("d", 3)).await;
    let runtime = Runtime::new(
        store.clone(),
        profiles(Profile {
            concurrency: 4,
            max_attempts: 3,
            backoff_base_ms: 10,
            backoff_cap_ms: 10,
            ..profile(ProviderKind::Uqpay, "127.0.0.1:9")
        }),
        always_busy(None),
        config(),
    )
    .with_clock(clock.clone());

    // Act: run, let the retries come due, run again, until nothing is left.
    for _ in 0..5 {
        runtime.clone().drain_until_idle().await.unwrap();
        clock.advance(Duration::from_millis(10));
    }

    // Assert
    let rows = store.order_list(batch.batch_id, None).await.unwrap();
    assert!(
        rows.iter()
            .all(|r| r.state == OrderState::Dead && r.attempts == 3),
        "{rows:?}"
    );
    assert_eq!(rows[0].last_error_code.as_deref(), Some("CARD000009"));
    let calls = store.attempt_list(rows[0].id).await.unwrap();
    let numbers: Vec<u32> = calls.iter().map(|c| c.attempt_no).collect();
    assert_eq!(numbers, vec![1, 2, 3]);
    assert!(
        calls
            .iter()
            .all(|c| c.outcome == AttemptOutcome::Transient && c.http_status == Some(503))
    );
}

async fn a_retry_after_from_the_provider_is_honoured(db: TestDb) {
    // Arrange: the backoff would say at most 10 ms; the provider says 120 s.
    let store = db.store().await;
    let clock = Clock::manual(system_now_ms());
    let batch = submit(&store, "uqpay", orders("r", 5)).await;
    let start = clock.now_ms();

    // Act
    Runtime::new(
        store.clone(),
        profiles(Profile {
            concurrency: 4,
            max_attempts: 5,
            backoff_base_ms: 10,
            backoff_cap_ms: 10,
            ..profile(ProviderKind::Uqpay, "127.0.0.1:9")
        }),
        always_busy(Some(Duration::from_secs(120))),
        config(),
    )
    .with_clock(clock.clone())
    .drain_until_idle()
    .await
    .unwrap();

    // Assert
    let rows = store.order_list(batch.batch_id, None).await.unwrap();
    assert!(
        rows.iter()
            .all(|r| r.state == OrderState::RetryWait && r.next_attempt_at_ms == start + 120_000)
    );
}

async fn a_provider_that_refuses_connections_uses_up_no_attempt(db: TestDb) {
    // Arrange: a profile allowed a single attempt, aimed at a port nothing listens on (a
    // provider outage), its orders submitted through the real ingest path.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let kind = ProviderKind::QitechPrepaid;
    let p = Profile {
        max_attempts: 1,
        backoff_base_ms: 60_000,
        backoff_cap_ms: 60_000,
        ..profile(kind, &closed.to_string())
    };
    let store = db.store().await;
    let dir = tempfile::tempdir().unwrap();
    let batch = submit_csv(&store, &p, dir.path(), &csv(kind, "down", 5, &[])).await;
    let config = Config {
        profiles: BTreeMap::from([(kind.as_str().to_string(), p)]),
        worker: config(),
        ..Config::without_profiles()
    };
    let app = App::with_store(&config, store.clone(), |_, p| {
        Ok(Credentials::from_pairs(dev_credentials(p.provider)))
    })
    .unwrap();

    // Act: the workers run until nothing is due (the retries are a minute away).
    app.drain().await.unwrap();

    // Assert: no order is dead; each waits to retry with its attempt given back, and the
    // refused call is still on record.
    let rows = store.order_list(batch, None).await.unwrap();
    assert_eq!(rows.len(), 5);
    for row in &rows {
        assert_eq!(row.state, OrderState::RetryWait, "{row:?}");
        assert_eq!(row.attempts, 0, "{row:?}");
        assert_eq!(row.last_error_code.as_deref(), Some("connect"), "{row:?}");
        // At least one refused call on record (full jitter can make a retry due at once, so a
        // second may come within the drain), none with an HTTP answer.
        let calls = store.attempt_list(row.id).await.unwrap();
        assert!(!calls.is_empty(), "{calls:?}");
        assert!(calls.iter().all(|c| c.http_status.is_none()), "{calls:?}");
    }
}

/// The database refuses every write that would record an order as submitted, counting each
/// refusal in a sequence (which a rolled-back transaction does not undo).
const REFUSE_SUBMITTED: &str = "
    CREATE SEQUENCE refused_writes;
    CREATE FUNCTION refuse_submitted() RETURNS trigger AS $$
    BEGIN
        IF NEW.state = 'submitted' THEN
            PERFORM nextval('refused_writes');
            RAISE EXCEPTION 'injected: the database refuses this write for now';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER refuse_submitted BEFORE UPDATE ON orders
        FOR EACH ROW EXECUTE FUNCTION refuse_submitted();";

#[tokio::test]
async fn a_completion_the_database_refuses_for_a_while_is_written_once_it_accepts_again() {
    // Arrange: Postgres only (the fault is a trigger). The card is made; recording it fails
    // until the trigger goes.
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let app = spawn_app(&db, AppSetup::new(ProviderKind::Uqpay)).await;
    let batch = app
        .submit_csv(&csv(ProviderKind::Uqpay, "refused", 1, &[]))
        .await;
    let admin = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::raw_sql(REFUSE_SUBMITTED)
        .execute(&admin)
        .await
        .unwrap();
    let refusals = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM refused_writes",
        )
        .fetch_one(&admin)
        .await
        .unwrap()
    };

    // Act: the worker runs; once its completion was refused three times, the database takes
    // writes again.
    let heal = async {
        wait_until("three refused completion writes", SETTLE, || async {
            refusals().await >= 3
        })
        .await;
        sqlx::raw_sql("DROP TRIGGER refuse_submitted ON orders")
            .execute(&admin)
            .await
            .unwrap();
    };
    let (report, ()) = tokio::join!(app.run_until_settled(), heal);

    // Assert: the answer in hand was kept and written: the card's keys and its call.
    assert_eq!(report.completed(), 1);
    let rows = app.orders(batch).await;
    assert_eq!(rows[0].state, OrderState::Submitted);
    assert!(rows[0].card_ref.is_some(), "the card's key was kept");
    let calls = app.store.attempt_list(rows[0].id).await.unwrap();
    assert_eq!(
        calls
            .iter()
            .filter(|a| a.kind == Some(AttemptKind::Create))
            .count(),
        1
    );
    assert_eq!(app.assert_one_card_per_order(&[rows[0].id]).await, 1);
    admin.close().await;
    app.shutdown().await;
}
