//! The rate limit shared through Postgres (`lane_budgets`): blocks of permits handed to several
//! processes (each a store of its own on one database) never overlap, and a 429 reported by one
//! pauses and slows all. SQLite has no shared budget (one machine keeps its lane in process).

use crate::support::TestDb;
use cardbatch::lanes::SharedLane;
use cardbatch::store::LaneBudget;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

async fn two_processes() -> Option<(TestDb, LaneBudget, LaneBudget)> {
    let db = TestDb::postgres().await?;
    let a = db
        .store()
        .await
        .lane_budget("uq")
        .expect("a Postgres budget");
    let b = db
        .store()
        .await
        .lane_budget("uq")
        .expect("a Postgres budget");
    Some((db, a, b))
}

#[tokio::test]
async fn a_sqlite_store_has_no_shared_budget() {
    let db = TestDb::sqlite().await;
    assert!(db.store().await.lane_budget("uq").is_none());
}

#[tokio::test]
async fn blocks_taken_by_two_processes_are_one_interval_apart_and_never_overlap() {
    let Some((_db, a, b)) = two_processes().await else {
        return;
    };
    let far = Duration::from_secs(60);
    let mut permits = Vec::new();
    for budget in [&a, &b, &a, &a, &b, &b] {
        let grant = budget.take(100.0, 5, far).await.unwrap();
        assert_eq!(grant.count, 5);
        assert_eq!(grant.interval_us, 10_000, "100 calls per second");
        let first = grant.first_us.expect("granted within a minute");
        permits.extend((0..5).map(|i| first + i * grant.interval_us));
    }
    permits.sort_unstable();
    let gaps: Vec<i64> = permits.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|&g| g == 10_000), "{gaps:?}");

    // 30 permits at 100/s reach 300 ms ahead: with a 100 ms lookahead the next ask is refused
    // and told when the budget is free.
    let refused = b.take(100.0, 5, Duration::from_millis(100)).await.unwrap();
    assert_eq!((refused.first_us, refused.count), (None, 0));
    assert_eq!(refused.next_free_us, permits.last().unwrap() + 10_000);
    assert!(refused.next_free_us > refused.now_us + 100_000);
    let row = a.read().await.unwrap().unwrap();
    assert_eq!(row.permits, 30);
}

#[tokio::test]
async fn a_429_reported_by_one_process_pauses_and_halves_the_lane_of_every_process() {
    let Some((db, a, b)) = two_processes().await else {
        return;
    };
    a.take(100.0, 1, Duration::from_secs(1)).await.unwrap();
    a.rate_limited(100.0, Some(Duration::from_secs(2)))
        .await
        .unwrap();

    let paused = b.take(100.0, 1, Duration::from_millis(100)).await.unwrap();
    assert_eq!(paused.first_us, None, "paused for the other process too");
    assert!(
        paused.next_free_us >= paused.now_us + 1_800_000,
        "{paused:?}"
    );
    assert_eq!(paused.rate, 50.0, "halved");

    // A second 429 in the same second (in flight when the limit hit) does not halve again.
    b.rate_limited(100.0, None).await.unwrap();
    let row = b.read().await.unwrap().unwrap();
    assert_eq!((row.rate, row.rate_limited), (50.0, 2));

    // Three clean seconds later (moved back in the row) a tenth of the rate per second is back;
    // the pause is over (also moved back) and permits come at the recovered rate.
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::query(
        "UPDATE lane_budgets SET last_change_us = last_change_us - 3000000, \
         paused_until_us = 0, tat_us = 0",
    )
    .execute(&pool)
    .await
    .unwrap();
    let recovered = a.take(100.0, 1, Duration::from_millis(100)).await.unwrap();
    assert_eq!(recovered.rate, 80.0);
    assert!(recovered.first_us.is_some());
    let next = a.take(100.0, 1, Duration::from_millis(100)).await.unwrap();
    assert_eq!(next.interval_us, 12_500, "at 80 calls per second");
}

#[tokio::test]
async fn a_budget_that_fell_behind_gives_back_at_most_its_burst_tolerance() {
    let Some((db, a, b)) = two_processes().await else {
        return;
    };
    let tolerance_us = cardbatch::store::LANE_BURST_TOLERANCE.as_micros() as i64;
    // Every process stalled for 300 ms after its last permit (the row's arrival time is moved
    // back): the next block starts the tolerance in the past, not 300 ms, nor now.
    b.take(100.0, 1, Duration::from_millis(100)).await.unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let stalled = |pool: sqlx::PgPool| async move {
        sqlx::query(
            "UPDATE lane_budgets SET tat_us = \
             (extract(epoch FROM clock_timestamp()) * 1000000)::bigint - 300000",
        )
        .execute(&pool)
        .await
        .unwrap();
    };
    stalled(pool.clone()).await;
    let caught_up = a.take(100.0, 5, Duration::from_millis(100)).await.unwrap();
    assert_eq!(
        caught_up.first_us,
        Some(caught_up.now_us - tolerance_us),
        "{caught_up:?}"
    );
    // The next block follows on from it, one interval after its last permit.
    let next = b.take(100.0, 5, Duration::from_millis(100)).await.unwrap();
    assert_eq!(next.first_us, Some(caught_up.first_us.unwrap() + 50_000));

    // A pause the provider asked for is never made up for: after a 429 with a Retry-After the
    // next block starts where the pause ends, however far behind the arrival time is.
    a.rate_limited(100.0, Some(Duration::from_millis(200)))
        .await
        .unwrap();
    stalled(pool.clone()).await;
    let (paused_until_us,): (i64,) = sqlx::query_as("SELECT paused_until_us FROM lane_budgets")
        .fetch_one(&pool)
        .await
        .unwrap();
    let after = a.take(100.0, 1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(after.first_us, Some(paused_until_us), "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shared_lanes_together_keep_to_one_rate() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let rate = 50.0;
    let mut tasks = Vec::new();
    let start = Instant::now();
    for _ in 0..3 {
        let lane = Arc::new(SharedLane::new(
            db.store().await.lane_budget("uq").unwrap(),
            rate,
        ));
        for _ in 0..4 {
            let lane = lane.clone();
            tasks.push(tokio::spawn(async move {
                let mut at = Vec::new();
                for _ in 0..5 {
                    lane.acquire().await;
                    at.push(Instant::now());
                }
                at
            }));
        }
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    // 60 permits at 50/s: the last is at least 59 intervals after the first, less the burst
    // tolerance (the fresh budget starts that far in the past) and a little slack for placing
    // each block on the local clock; three local lanes would have taken a third of it.
    let last = all.iter().max().unwrap().duration_since(start);
    let tolerance = cardbatch::store::LANE_BURST_TOLERANCE.as_millis() as u64;
    assert!(
        last >= Duration::from_millis(59 * 20 - tolerance - 50),
        "{last:?}"
    );
    let row = db.store().await.lane_budget("uq").unwrap().read().await;
    assert!(row.unwrap().unwrap().permits >= 60);
}
