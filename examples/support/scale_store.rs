//! A big store written by the database itself (issue 16's 20M orders): one `INSERT ... SELECT`
//! per nightly batch from a series (`generate_series` on Postgres, a recursive CTE on SQLite)
//! joined to a seed table of real payloads (the CSV's first rows), with every order already in
//! its final state, then the night's counters (`batch_counts`, `batch_totals`) written from its
//! orders in the same transaction. Nothing crosses the wire per order, so 20M orders take minutes
//! where the batch writer took about half an hour per engine.
//!
//! The states are those `bench_scale` used to reach with its settle step: every night but the
//! last two settled (97% issued, 1% each failed, rejected and dead; confirmed by webhook an hour
//! after the night), the night before last half submitted, the last one queued.

use cardbatch::domain::NewOrder;
use sqlx::Connection;
use uuid::Uuid;

const HOUR_MS: i64 = 3_600_000;

/// What a night's orders look like.
#[derive(Clone, Copy)]
pub enum Night {
    Settled = 0,
    HalfSubmitted = 1,
    Queued = 2,
}

/// The orders, all columns computed from the series number `s.i`, the night's mode (`$6`) and
/// its creation time (`$4`).
const COLUMNS: &str = "INSERT INTO orders (batch_id, profile, provider, state, attempts, \
    next_attempt_at, created_at, updated_at, order_ref, line, idempotency_key, payload, \
    amount_minor, currency, confirmed_by, confirmed_at, card_ref) \
    SELECT $1, $2, $3, \
      CASE WHEN $6 = 0 THEN CASE s.i % 100 WHEN 0 THEN 'failed' WHEN 1 THEN 'rejected' \
        WHEN 2 THEN 'dead' ELSE 'issued' END \
        WHEN $6 = 1 AND s.i % 2 = 0 THEN 'submitted' ELSE 'queued' END, \
      CASE WHEN $6 = 0 OR ($6 = 1 AND s.i % 2 = 0) THEN 1 ELSE 0 END, \
      $4, $4, \
      CASE WHEN $6 = 0 OR ($6 = 1 AND s.i % 2 = 0) THEN $4 + $7 ELSE $4 END, \
      $5 || CAST(s.i AS TEXT), s.i + 2, KEY, t.payload, t.amount_minor, t.currency, \
      CASE WHEN $6 = 0 THEN 'webhook' END, CASE WHEN $6 = 0 THEN $4 + $7 END, \
      CASE WHEN $6 = 0 THEN 'card-' || $5 || CAST(s.i AS TEXT) END \
    FROM SERIES JOIN bench_seed AS t ON t.k = s.i % $8";
// language=SQL
const COUNTS: &str = "INSERT INTO batch_counts (batch_id, state, confirmed_by, slot, n) \
    SELECT batch_id, state, COALESCE(confirmed_by, ''), 0, COUNT(*) FROM orders \
    WHERE batch_id = $1 GROUP BY batch_id, state, COALESCE(confirmed_by, '')";
// language=SQL
const TOTALS: &str = "INSERT INTO batch_totals (batch_id, currency, slot, n, total_minor) \
    SELECT batch_id, currency, 0, COUNT(*), SUM(amount_minor) FROM orders \
    WHERE batch_id = $1 AND currency IS NOT NULL AND amount_minor IS NOT NULL \
    GROUP BY batch_id, currency";
// language=SQL
const BATCH: &str = "INSERT INTO batches (id, profile, provider, source, created_at) \
    VALUES ($1, $2, $3, $4, $5)";

/// Writes `orders` orders of `profile` (a `provider` profile) in nightly batches of `per_night`
/// into the migrated store at `url`, the last night ending a day before `now_ms`, payloads taken
/// in turn from `templates`. Returns each batch's id and creation time, oldest first.
pub async fn generate(
    url: &str,
    profile: &str,
    provider: &str,
    templates: &[NewOrder],
    orders: u64,
    per_night: u64,
    now_ms: i64,
) -> anyhow::Result<Vec<(Uuid, i64)>> {
    let nights = orders.div_ceil(per_night);
    let mode = |night: u64| match nights - night {
        1 => Night::Queued,
        2 => Night::HalfSubmitted,
        _ => Night::Settled,
    };
    let mut out = Vec::new();
    macro_rules! run {
        ($conn:expr, $db:ty, $create_seed:expr, $series:expr, $key:expr) => {{
            let conn = &mut $conn;
            sqlx::raw_sql($create_seed).execute(&mut *conn).await?;
            for (k, t) in templates.iter().enumerate() {
                sqlx::query("INSERT INTO bench_seed (k, payload, amount_minor, currency) VALUES ($1, $2, $3, $4)")
                    .bind(k as i64)
                    .bind(t.payload.json())
                    .bind(t.amount_minor)
                    .bind(t.currency.as_deref())
                    .execute(&mut *conn)
                    .await?;
            }
            let insert = COLUMNS.replace("SERIES", $series).replace("KEY", $key);
            for night in 0..nights {
                let id = Uuid::new_v4();
                let created = now_ms - (nights - night) as i64 * 86_400_000;
                let n = per_night.min(orders - night * per_night) as i64;
                let mut tx = conn.begin().await?;
                sqlx::query(BATCH)
                    .bind(id.to_string())
                    .bind(profile)
                    .bind(provider)
                    .bind(format!("night-{night}.csv"))
                    .bind(created)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query::<$db>(sqlx::AssertSqlSafe(insert.clone()))
                    .bind(id.to_string())
                    .bind(profile)
                    .bind(provider)
                    .bind(created)
                    .bind(format!("n{night}-"))
                    .bind(mode(night) as i64)
                    .bind(HOUR_MS)
                    .bind(templates.len() as i64)
                    .bind(n)
                    .execute(&mut *tx)
                    .await?;
                for sql in [COUNTS, TOTALS] {
                    sqlx::query(sql).bind(id.to_string()).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                out.push((id, created));
            }
        }};
    }
    // language=SQL
    let seed = "CREATE TEMPORARY TABLE bench_seed (k BIGINT PRIMARY KEY, payload TEXT NOT NULL, \
        amount_minor BIGINT, currency TEXT)";
    if url.starts_with("sqlite") {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        sqlx::raw_sql("PRAGMA foreign_keys = ON; PRAGMA cache_size = -262144")
            .execute(&mut conn)
            .await?;
        run!(
            conn,
            sqlx::Sqlite,
            seed,
            "(WITH RECURSIVE series(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM series \
             WHERE i + 1 < $9) SELECT i FROM series) AS s",
            "lower(hex(randomblob(16)))"
        );
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await?;
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        run!(
            conn,
            sqlx::Postgres,
            seed,
            "generate_series(0, $9::bigint - 1) AS s(i)",
            "md5(random()::text)"
        );
        sqlx::raw_sql("VACUUM ANALYZE").execute(&mut conn).await?;
    }
    Ok(out)
}
