//! The rate-limit budget of a provider profile shared by every process on one Postgres database
//! (`lane_budgets`): what the shared lane (`crate::lanes::SharedLane`) is kept in.
//!
//! One row per profile holds GCRA's "theoretical arrival time" (the first instant not yet handed
//! out), the rate the lane lets through now and the provider's pause. A process asks for a block
//! of permits with one `UPDATE … RETURNING` ([`LaneBudget::take`]): the row is locked for the
//! statement only, so processes are served one after the other and no two permits of any
//! processes are closer than one interval. A process is only served while the budget is less
//! than `lookahead` ahead of now, so that a 429 stops every process within that time. A budget
//! that fell behind now (every process stalled or idle) starts its next block at most
//! [`BURST_TOLERANCE`] in the past: a short stall is made up for, a long idle spell is not.
//! A rate-limited answer seen by any process pauses and slows the row for all
//! ([`LaneBudget::rate_limited`]). Instants are read off the database's clock, so machines with
//! different clocks agree.
//!
//! SQLite has no such budget: there one machine runs the queue and each profile keeps its
//! in-process lane.

use super::connect::{Db, Store};
use super::error::Result;
use super::row::from_row;
use sqlx::PgPool;
use std::time::Duration;

/// The lowest rate a shared lane is ever cut to, in calls per second (as the local lane's).
pub const FLOOR_PER_SEC: f64 = 0.1;
/// The part of the configured rate given back per second without a rate-limited answer.
pub const RECOVERY_STEP: f64 = 0.1;
/// Two cuts are at least this far apart: one congestion event halves the rate once, however
/// many processes saw it.
pub const CUT_SPACING: Duration = Duration::from_secs(1);
/// How far in the past a block may start when the budget fell behind now: permits that every
/// process left unused (all of them stalled, or idle) are given back for up to this long, so a
/// short stall does not lower the rate achieved; they go out at once, a burst of this many
/// seconds' worth of calls, as the local lane's burst of a tenth of its rate.
pub const BURST_TOLERANCE: Duration = Duration::from_millis(100);

/// One profile's row, on a Postgres store.
#[derive(Debug, Clone)]
pub struct LaneBudget {
    pool: PgPool,
    profile: String,
}

/// The answer to [`LaneBudget::take`]; instants are microseconds since the Unix epoch on the
/// database's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LaneGrant {
    /// The database's "now" when the block was decided.
    pub now_us: i64,
    /// The first permit of the block, or `None` when the budget is too far ahead to hand out one.
    pub first_us: Option<i64>,
    /// The spacing of the block's permits.
    pub interval_us: i64,
    /// How many permits the block has (0 when none was handed out).
    pub count: u32,
    /// When the next permit after this block is free (the budget's arrival time, or the end of
    /// the provider's pause).
    pub next_free_us: i64,
    /// The rate the lane lets through now (calls per second).
    pub rate: f64,
}

from_row! {
    /// The shared numbers of one profile, for tests and operators.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct LaneBudgetRow {
        /// The rate the lane lets through now.
        pub rate: f64,
        /// No permit before this instant (µs, database clock).
        pub paused_until_us: i64,
        /// Permits handed out so far, by every process.
        pub permits: i64,
        /// Rate-limited answers reported so far, by every process.
        pub rate_limited: i64,
    }
}

impl Store {
    /// The shared budget of `profile`: `Some` on Postgres, `None` on SQLite (where the limit is
    /// kept in process).
    pub fn lane_budget(&self, profile: &str) -> Option<LaneBudget> {
        match &self.db {
            Db::Postgres(pool) => Some(LaneBudget {
                pool: pool.clone(),
                profile: profile.to_string(),
            }),
            Db::Sqlite { .. } => None,
        }
    }
}

/// `n.us`: the database's clock in microseconds, read once per statement.
macro_rules! with_now_us {
    ($sql:literal) => {
        concat!(
            "WITH n AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS us) ",
            $sql
        )
    };
}

// $1 profile, $2 configured rate, $3 block size, $4 lookahead (µs), $5 recovery step,
// $6 burst tolerance (µs).
// language=PostgreSQL
const TAKE: &str = with_now_us!(
    "UPDATE lane_budgets b SET \
       rate = CASE WHEN b.rate < $2 AND n.us - b.last_change_us >= 1000000 \
                   THEN LEAST($2, b.rate + floor((n.us - b.last_change_us) / 1000000.0) * $5 * $2) \
                   ELSE LEAST(b.rate, $2) END, \
       last_change_us = CASE WHEN b.rate < $2 AND n.us - b.last_change_us >= 1000000 \
                   THEN n.us ELSE b.last_change_us END, \
       last_grant_us = CASE WHEN GREATEST(b.tat_us, b.paused_until_us, n.us - $6) <= n.us + $4 \
                   THEN GREATEST(b.tat_us, b.paused_until_us, n.us - $6) ELSE -1 END, \
       tat_us = CASE WHEN GREATEST(b.tat_us, b.paused_until_us, n.us - $6) <= n.us + $4 \
                   THEN GREATEST(b.tat_us, b.paused_until_us, n.us - $6) \
                        + $3 * ceil(1000000.0 / LEAST(b.rate, $2))::bigint \
                   ELSE b.tat_us END, \
       permits = b.permits + CASE WHEN GREATEST(b.tat_us, b.paused_until_us, n.us - $6) <= n.us + $4 \
                   THEN $3 ELSE 0 END \
     FROM n WHERE b.profile = $1 \
     RETURNING n.us, b.last_grant_us, b.tat_us, b.paused_until_us, b.rate"
);

// $1 profile, $2 pause (µs), $3 cut spacing (µs), $4 floor rate.
// language=PostgreSQL
const RATE_LIMITED: &str = with_now_us!(
    "UPDATE lane_budgets b SET \
       rate_limited = b.rate_limited + 1, \
       paused_until_us = GREATEST(b.paused_until_us, n.us + $2), \
       rate = CASE WHEN n.us - b.last_cut_us >= $3 THEN GREATEST($4, b.rate / 2) ELSE b.rate END, \
       last_cut_us = CASE WHEN n.us - b.last_cut_us >= $3 THEN n.us ELSE b.last_cut_us END, \
       last_change_us = n.us \
     FROM n WHERE b.profile = $1"
);

// language=PostgreSQL
const CREATE: &str =
    "INSERT INTO lane_budgets (profile, rate) VALUES ($1, $2) ON CONFLICT (profile) DO NOTHING";

impl LaneBudget {
    /// The profile this budget is of.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// Hands out the next `block` permits at the profile's current rate (at most
    /// `configured` calls per second), unless the budget is already more than `lookahead` ahead
    /// of now; then `first_us` is `None` and `next_free_us` says when to ask again.
    pub async fn take(
        &self,
        configured: f64,
        block: u32,
        lookahead: Duration,
    ) -> Result<LaneGrant> {
        loop {
            let row: Option<(i64, i64, i64, i64, f64)> = sqlx::query_as(TAKE)
                .bind(&self.profile)
                .bind(configured)
                .bind(i64::from(block))
                .bind(micros(lookahead))
                .bind(RECOVERY_STEP)
                .bind(micros(BURST_TOLERANCE))
                .fetch_optional(&self.pool)
                .await?;
            let Some((now_us, grant_us, tat_us, paused_us, rate)) = row else {
                self.create(configured).await?;
                continue;
            };
            let granted = grant_us >= 0;
            return Ok(LaneGrant {
                now_us,
                first_us: granted.then_some(grant_us),
                interval_us: if granted {
                    (tat_us - grant_us) / i64::from(block.max(1))
                } else {
                    (1_000_000.0 / rate).ceil() as i64
                },
                count: if granted { block } else { 0 },
                next_free_us: tat_us.max(paused_us),
                rate,
            });
        }
    }

    /// Tells every process that the provider answered "too many requests": the lane pauses for
    /// `retry_after` (when the provider sent one) and its rate is halved, at most once per
    /// [`CUT_SPACING`].
    pub async fn rate_limited(&self, configured: f64, retry_after: Option<Duration>) -> Result<()> {
        loop {
            let done = sqlx::query(RATE_LIMITED)
                .bind(&self.profile)
                .bind(retry_after.map_or(0, micros))
                .bind(micros(CUT_SPACING))
                .bind(FLOOR_PER_SEC)
                .execute(&self.pool)
                .await?;
            if done.rows_affected() > 0 {
                return Ok(());
            }
            self.create(configured).await?;
        }
    }

    /// The row's numbers (`None` before the first permit was asked for).
    pub async fn read(&self) -> Result<Option<LaneBudgetRow>> {
        Ok(sqlx::query_as(
            "SELECT rate, paused_until_us, permits, rate_limited FROM lane_budgets \
             WHERE profile = $1",
        )
        .bind(&self.profile)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn create(&self, configured: f64) -> Result<()> {
        sqlx::query(CREATE)
            .bind(&self.profile)
            .bind(configured)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}
