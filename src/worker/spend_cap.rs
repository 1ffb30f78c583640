//! The daily spend cap, applied to each claim: an order whose amount still fits under the
//! profile's `daily_spend_cap` for today (a day starting at midnight in the profile's
//! `spend_day_utc_offset`) reserves it and goes on; one that does not is given back unstarted,
//! due at the next day's start. The reservation is atomic in the store, so concurrent workers
//! cannot pass the cap together; an order whose call may already have been made (a takeover, a
//! doubt) is never held back, nor one of a batch an approver let spend past the cap
//! (`cardbatch approve` on a batch whose orders the cap holds).

use crate::config::Profile;
use crate::store::{ClaimedOrder, Store};
use chrono::{DateTime, Days, FixedOffset};

/// The spend day of `now_ms` in `offset` (`YYYY-MM-DD`) and when the next one starts (Unix ms).
pub fn spend_day(now_ms: i64, offset: FixedOffset) -> (String, i64) {
    let now = DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .with_timezone(&offset);
    let today = now.date_naive();
    let next = today
        .checked_add_days(Days::new(1))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_local_timezone(offset).single())
        .map(|t| t.timestamp_millis())
        .unwrap_or(now_ms + 86_400_000);
    (today.format("%Y-%m-%d").to_string(), next)
}

/// The orders of `claimed` that may be sent now; the others are deferred to the next day.
pub(crate) async fn admit(
    store: &Store,
    profile_name: &str,
    profile: &Profile,
    worker_id: &str,
    claimed: Vec<ClaimedOrder>,
    now_ms: i64,
) -> crate::store::Result<Vec<ClaimedOrder>> {
    let Some(cap) = profile.daily_spend_cap else {
        return Ok(claimed);
    };
    let (day, next_day_ms) = spend_day(now_ms, profile.spend_day_offset());
    // Batches an approver let spend past the cap.
    let mut waived = std::collections::HashMap::new();
    for order in &claimed {
        if let std::collections::hash_map::Entry::Vacant(slot) = waived.entry(order.batch_id) {
            let control = store.batch_control(order.batch_id).await?;
            slot.insert(control.spend_cap_waived_by.is_some());
        }
    }
    let mut admitted = Vec::with_capacity(claimed.len());
    for order in claimed {
        let amount = order.order.amount_minor.unwrap_or(0);
        if order.previous_outcome_unknown
            || amount <= 0
            || waived.get(&order.batch_id) == Some(&true)
            || store
                .spend_reserve(profile_name, &day, amount, cap.minor)
                .await?
        {
            admitted.push(order);
            continue;
        }
        let why = format!(
            "waiting for the next day: it would take {day}'s spend over daily_spend_cap {}",
            crate::domain::money::format_minor(cap.minor)
        );
        store
            .order_defer(order.id, worker_id, next_day_ms, now_ms, &why)
            .await?;
    }
    Ok(admitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spend_day_starts_at_midnight_in_the_profiles_offset() {
        // 2026-11-30T02:00:00Z is still the 29th in São Paulo (-03:00).
        let now = 1_796_004_000_000;
        let sp: FixedOffset = "-03:00".parse().unwrap();
        let (day, next) = spend_day(now, sp);
        assert_eq!(day, "2026-11-29");
        // The 30th starts at 03:00 UTC.
        assert_eq!(next, now + 3_600_000);
        let (day, _) = spend_day(now, FixedOffset::east_opt(0).unwrap());
        assert_eq!(day, "2026-11-30");
    }
}
