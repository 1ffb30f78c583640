//! When a schedule fires: its cron expression read in its time zone, and which slots are due.
//!
//! A *slot* is one instant the cron expression names, kept in UTC; it identifies a run (one row
//! per schedule and slot in `schedule_runs`). Daylight-saving transitions are handled as cron
//! users expect (croner follows Vixie cron here): a local time that does not exist (the clock
//! jumps from 02:00 to 03:00) runs once, right after the gap; a local time that happens twice
//! (03:00 back to 02:00) runs once, at its first occurrence.
//!
//! [`plan`] decides what is due at `now`, given the newest slot already recorded:
//! 1. The candidates are the slots after that one, up to `now`. A schedule with no recorded
//!    slot has no past to catch up: its candidates are the slots of the last [`GRACE`].
//! 2. The newest candidate is the *current* slot; the older ones were missed (a running process
//!    fires each slot within seconds, so older ones mean no process was running).
//! 3. `catch_up` decides: `skip` fires the current slot only when it is on time (at most
//!    [`GRACE`] late) and records the rest as skipped; `latest` fires the current slot however
//!    late; `all` fires every candidate, oldest first, at most [`CATCH_UP_LIMIT`] of them.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};

/// How late a slot may be found and still count as on time.
pub const GRACE: TimeDelta = TimeDelta::minutes(10);
/// The most missed slots `catch_up = "all"` fires at once (the newest ones).
pub const CATCH_UP_LIMIT: usize = 100;

/// What to do with slots missed while no process was running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Missed slots are recorded as skipped; only an on-time slot fires.
    Skip,
    /// The most recent slot fires, however late; older missed ones are dropped.
    #[default]
    Latest,
    /// Every missed slot fires, oldest first (at most [`CATCH_UP_LIMIT`]).
    All,
}

impl CatchUp {
    /// The name used in schedule files.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::Skip => "skip",
            CatchUp::Latest => "latest",
            CatchUp::All => "all",
        }
    }
}

/// A cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct Cadence {
    cron: Cron,
    expression: String,
    tz: Tz,
}

impl Cadence {
    /// Parses a standard 5-field cron expression (minute hour day-of-month month day-of-week)
    /// and an IANA time zone name (`Europe/Berlin`, `UTC`).
    pub fn parse(expression: &str, timezone: &str) -> Result<Cadence, String> {
        let fields = expression.split_whitespace().count();
        if fields != 5 {
            return Err(format!(
                "`{expression}` has {fields} fields; a cron expression has 5: minute hour day-of-month month day-of-week (\"0 2 * * *\" is 02:00 every day)"
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(expression)
            .map_err(|e| format!("`{expression}` is not a valid cron expression: {e}"))?;
        let tz: Tz = timezone.parse().map_err(|_| {
            format!("`{timezone}` is not an IANA time zone name (e.g. UTC, Europe/Berlin, America/Sao_Paulo)")
        })?;
        Ok(Cadence {
            cron,
            expression: expression.split_whitespace().collect::<Vec<_>>().join(" "),
            tz,
        })
    }

    /// The expression as written (whitespace normalised).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone's IANA name.
    pub fn timezone(&self) -> &'static str {
        self.tz.name()
    }

    /// The newest slot at or before `t`.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&t.with_timezone(&self.tz), true)
            .ok()
            .map(|s| s.with_timezone(&Utc))
    }

    /// The first slot strictly before `t`.
    fn before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|s| s.with_timezone(&Utc))
    }

    /// The first slot strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|s| s.with_timezone(&Utc))
    }

    /// Slots in `(after, now]`, newest first, at most `limit`.
    fn slots_back(
        &self,
        now: DateTime<Utc>,
        after: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut next = self.latest_at_or_before(now);
        while let Some(slot) = next {
            if slot <= after || out.len() == limit {
                break;
            }
            out.push(slot);
            next = self.before(slot);
        }
        out
    }
}

/// One decision of [`plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fire {
    /// Run the schedule for this slot.
    Run(DateTime<Utc>),
    /// Record this slot as skipped (`catch_up = "skip"`); `missed` slots were passed over in all.
    Skip {
        /// The newest missed slot, recorded so that it is not looked at again.
        slot: DateTime<Utc>,
        /// How many slots were missed (at most [`CATCH_UP_LIMIT`] + 1 are counted).
        missed: usize,
    },
}

/// What is due at `now` for a schedule whose newest recorded slot is `last` (see the module
/// documentation), oldest first.
pub fn plan(
    cadence: &Cadence,
    catch_up: CatchUp,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<Fire> {
    let floor = last.unwrap_or(now - GRACE);
    let candidates = cadence.slots_back(now, floor, CATCH_UP_LIMIT + 1);
    let Some(&current) = candidates.first() else {
        return Vec::new();
    };
    let on_time = now - current <= GRACE;
    match catch_up {
        CatchUp::Skip if on_time => vec![Fire::Run(current)],
        CatchUp::Skip => vec![Fire::Skip {
            slot: current,
            missed: candidates.len(),
        }],
        CatchUp::Latest => vec![Fire::Run(current)],
        CatchUp::All => candidates
            .into_iter()
            .take(CATCH_UP_LIMIT)
            .rev()
            .map(Fire::Run)
            .collect(),
    }
}

#[cfg(test)]
#[path = "slots_tests.rs"]
mod tests;
