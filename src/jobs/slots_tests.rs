//! Cron, time zones and catch-up against a fixed clock.

use super::*;
use chrono::TimeZone;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn nightly(tz: &str) -> Cadence {
    Cadence::parse("0 2 * * *", tz).unwrap()
}

/// Every slot from `from` up to `to`, in order.
fn slots_between(c: &Cadence, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = from;
    while let Some(next) = c.next_after(t) {
        if next > to {
            break;
        }
        out.push(next);
        t = next;
    }
    out
}

#[test]
fn a_nightly_slot_is_2am_in_the_schedules_time_zone() {
    let c = nightly("America/Sao_Paulo");
    // Sao Paulo is UTC-3 all year.
    assert_eq!(
        c.next_after(utc(2026, 6, 1, 12, 0)),
        Some(utc(2026, 6, 2, 5, 0))
    );
    assert_eq!(
        nightly("UTC").next_after(utc(2026, 6, 1, 12, 0)),
        Some(utc(2026, 6, 2, 2, 0))
    );
}

#[test]
fn a_cron_expression_must_have_five_fields_and_a_known_time_zone() {
    assert!(Cadence::parse("0 2 * * *", "UTC").is_ok());
    let six = Cadence::parse("0 0 2 * * *", "UTC").unwrap_err();
    assert!(six.contains("6 fields"), "{six}");
    let bad = Cadence::parse("0 25 * * *", "UTC").unwrap_err();
    assert!(bad.contains("not a valid cron expression"), "{bad}");
    let tz = Cadence::parse("0 2 * * *", "Mars/Olympus").unwrap_err();
    assert!(tz.contains("IANA"), "{tz}");
}

#[test]
fn a_local_time_skipped_by_daylight_saving_runs_once_right_after_the_gap() {
    // Europe/Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    let c = Cadence::parse("30 2 * * *", "Europe/Berlin").unwrap();
    let slots = slots_between(&c, utc(2026, 3, 27, 12, 0), utc(2026, 3, 31, 12, 0));
    assert_eq!(
        slots,
        vec![
            utc(2026, 3, 28, 1, 30), // 02:30 CET
            utc(2026, 3, 29, 1, 0),  // 03:00 CEST: the first valid minute after the gap
            utc(2026, 3, 30, 0, 30), // 02:30 CEST
            utc(2026, 3, 31, 0, 30),
        ]
    );
}

#[test]
fn a_local_time_repeated_by_daylight_saving_runs_once() {
    // Europe/Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
    let c = Cadence::parse("30 2 * * *", "Europe/Berlin").unwrap();
    let slots = slots_between(&c, utc(2026, 10, 23, 12, 0), utc(2026, 10, 27, 12, 0));
    assert_eq!(
        slots,
        vec![
            utc(2026, 10, 24, 0, 30), // 02:30 CEST
            utc(2026, 10, 25, 0, 30), // 02:30 CEST, the first of the two
            utc(2026, 10, 26, 1, 30), // 02:30 CET
            utc(2026, 10, 27, 1, 30),
        ]
    );
    // Looking back from after the repeat also finds one slot that night.
    let back = c.slots_back(utc(2026, 10, 25, 12, 0), utc(2026, 10, 24, 12, 0), 10);
    assert_eq!(back, vec![utc(2026, 10, 25, 0, 30)]);
}

#[test]
fn a_running_process_fires_the_slot_that_just_came() {
    let c = nightly("UTC");
    let last = Some(utc(2026, 6, 1, 2, 0));
    for policy in [CatchUp::Skip, CatchUp::Latest, CatchUp::All] {
        let now = utc(2026, 6, 2, 2, 0) + TimeDelta::seconds(3);
        assert_eq!(
            plan(&c, policy, last, now),
            vec![Fire::Run(utc(2026, 6, 2, 2, 0))],
            "{policy:?}"
        );
        // Before the next slot nothing is due.
        assert!(plan(&c, policy, last, utc(2026, 6, 2, 1, 59)).is_empty());
    }
}

#[test]
fn a_recorded_slot_does_not_fire_again() {
    let c = nightly("UTC");
    let now = utc(2026, 6, 2, 2, 5);
    assert!(plan(&c, CatchUp::All, Some(utc(2026, 6, 2, 2, 0)), now).is_empty());
}

#[test]
fn catch_up_skip_records_missed_slots_as_skipped() {
    let c = nightly("UTC");
    // Down from June 1st 03:00 to June 4th 10:00: three nights missed.
    let fires = plan(
        &c,
        CatchUp::Skip,
        Some(utc(2026, 6, 1, 2, 0)),
        utc(2026, 6, 4, 10, 0),
    );
    assert_eq!(
        fires,
        vec![Fire::Skip {
            slot: utc(2026, 6, 4, 2, 0),
            missed: 3
        }]
    );
}

#[test]
fn catch_up_skip_still_fires_a_slot_found_within_the_grace() {
    let c = nightly("UTC");
    let fires = plan(
        &c,
        CatchUp::Skip,
        Some(utc(2026, 6, 1, 2, 0)),
        utc(2026, 6, 4, 2, 4),
    );
    assert_eq!(fires, vec![Fire::Run(utc(2026, 6, 4, 2, 0))]);
}

#[test]
fn catch_up_latest_fires_only_the_most_recent_missed_slot() {
    let c = nightly("UTC");
    let fires = plan(
        &c,
        CatchUp::Latest,
        Some(utc(2026, 6, 1, 2, 0)),
        utc(2026, 6, 4, 10, 0),
    );
    assert_eq!(fires, vec![Fire::Run(utc(2026, 6, 4, 2, 0))]);
}

#[test]
fn catch_up_all_fires_every_missed_slot_oldest_first() {
    let c = nightly("UTC");
    let fires = plan(
        &c,
        CatchUp::All,
        Some(utc(2026, 6, 1, 2, 0)),
        utc(2026, 6, 4, 10, 0),
    );
    assert_eq!(
        fires,
        vec![
            Fire::Run(utc(2026, 6, 2, 2, 0)),
            Fire::Run(utc(2026, 6, 3, 2, 0)),
            Fire::Run(utc(2026, 6, 4, 2, 0)),
        ]
    );
}

#[test]
fn catch_up_all_is_bounded() {
    let c = Cadence::parse("* * * * *", "UTC").unwrap();
    let fires = plan(
        &c,
        CatchUp::All,
        Some(utc(2026, 6, 1, 0, 0)),
        utc(2026, 6, 2, 0, 0),
    );
    assert_eq!(fires.len(), CATCH_UP_LIMIT);
    assert_eq!(fires.last(), Some(&Fire::Run(utc(2026, 6, 2, 0, 0))));
}

#[test]
fn a_new_schedule_does_not_catch_up_the_past_but_fires_a_slot_within_the_grace() {
    let c = nightly("UTC");
    for policy in [CatchUp::Skip, CatchUp::Latest, CatchUp::All] {
        assert!(plan(&c, policy, None, utc(2026, 6, 4, 10, 0)).is_empty());
        assert_eq!(
            plan(&c, policy, None, utc(2026, 6, 4, 2, 1)),
            vec![Fire::Run(utc(2026, 6, 4, 2, 0))]
        );
    }
}
