//! `cardbatch reconcile [BATCH] [--json]`: per batch, how its orders were confirmed (webhook or
//! lookup), which still wait and for how long, which the provider failed, the mismatches, the
//! orders needing review; then the provider events no order claimed.

use super::output::{outln, print_json, print_table};
use super::read::{format_time, resolve_batch};
use crate::reconcile::{AWAITING_LISTED, ReconcileReport};
use crate::store::Store;
use std::process::ExitCode;

pub async fn run(store: &Store, batch: Option<&str>, as_json: bool) -> anyhow::Result<ExitCode> {
    let batch = match batch {
        Some(given) => Some(resolve_batch(store, given).await?),
        None => None,
    };
    let report = crate::reconcile::report(store, batch).await?;
    if as_json {
        print_json(&report)?;
    } else {
        print_reconcile_report(&report)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a reconciliation report as tables (also used by `cardbatch demo`).
pub fn print_reconcile_report(report: &ReconcileReport) -> std::io::Result<()> {
    if report.batches.is_empty() {
        outln!("no batches yet; queue one with `cardbatch submit FILE --provider PROFILE`")?;
    }
    print_table(
        &[
            "batch",
            "profile",
            "orders",
            "by webhook",
            "by lookup",
            "awaiting",
            "failed",
            "mismatches",
            "needs review",
        ],
        report.batches.iter().map(|b| {
            vec![
                b.batch_id.to_string(),
                b.profile.clone(),
                b.total.to_string(),
                b.confirmed_by_webhook.to_string(),
                b.confirmed_by_lookup.to_string(),
                b.awaiting_confirmation.to_string(),
                b.failed_at_provider.to_string(),
                b.mismatches.len().to_string(),
                b.needs_review.len().to_string(),
            ]
        }),
    )?;
    for b in &report.batches {
        if !b.awaiting.is_empty() {
            let more = b
                .awaiting_confirmation
                .saturating_sub(b.awaiting.len() as u64);
            outln!(
                "\nbatch {}: awaiting confirmation (oldest {} of {}{})",
                b.batch_id,
                b.awaiting.len().min(AWAITING_LISTED as usize),
                b.awaiting_confirmation,
                if more > 0 {
                    format!(", {more} more not listed")
                } else {
                    String::new()
                }
            )?;
            print_table(
                &["order_ref", "card", "age", "lookups"],
                b.awaiting.iter().map(|a| {
                    vec![
                        a.order_ref.clone(),
                        a.card_ref.clone().unwrap_or_default(),
                        format_age(a.age_secs),
                        a.lookups.to_string(),
                    ]
                }),
            )?;
        }
        if !b.mismatches.is_empty() {
            outln!("\nbatch {}: mismatches", b.batch_id)?;
            print_table(
                &["order_ref", "state", "confirmed by", "the provider says"],
                b.mismatches.iter().map(|m| {
                    vec![
                        m.order_ref.clone(),
                        m.state.to_string(),
                        m.confirmed_by.clone().unwrap_or_default(),
                        m.note.clone(),
                    ]
                }),
            )?;
        }
        if !b.needs_review.is_empty() {
            outln!("\nbatch {}: orders needing review", b.batch_id)?;
            print_table(
                &["order_ref", "code", "last error"],
                b.needs_review.iter().map(|r| {
                    vec![
                        r.order_ref.clone(),
                        r.last_error_code.clone().unwrap_or_default(),
                        r.last_error_message.clone().unwrap_or_default(),
                    ]
                }),
            )?;
        }
    }
    outln!(
        "\nunmatched provider events: {}",
        report.unmatched_events.len()
    )?;
    if !report.unmatched_events.is_empty() {
        print_table(
            &["event", "endpoint", "type", "received (UTC)", "note"],
            report.unmatched_events.iter().map(|e| {
                vec![
                    e.event_id.to_string(),
                    e.endpoint.clone(),
                    e.event_type.clone(),
                    format_time(e.received_at_ms),
                    e.note.clone().unwrap_or_default(),
                ]
            }),
        )?;
    }
    Ok(())
}

/// `75` -> `1m15s`; `3700` -> `1h01m`.
fn format_age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::format_age;

    #[test]
    fn ages_read_in_the_largest_useful_unit() {
        assert_eq!(format_age(5), "5s");
        assert_eq!(format_age(75), "1m15s");
        assert_eq!(format_age(3700), "1h01m");
    }
}
