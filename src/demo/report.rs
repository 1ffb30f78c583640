//! What the demo shows: per batch, how its orders ended and what confirmed them; per provider,
//! the faults the sandbox injected and the retries cardbatch made.
//!
//! RECONCILER: once `reconcile::report` lands (branch `reconcile`), the per-batch table comes
//! from it; until then [`reconcile`] is a minimal one of its own.

use super::settle::awaits_activation;
use crate::domain::{OrderState, ProviderKind};
use crate::sandbox::RunningSandbox;
use crate::store::Store;
use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use std::path::PathBuf;
use uuid::Uuid;

/// One submitted example file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoBatch {
    /// The profile it was issued through (the provider's name).
    pub profile: String,
    /// The provider.
    pub provider: ProviderKind,
    /// The batch id.
    pub batch_id: Uuid,
    /// The submitted CSV, inside the demo directory.
    pub file: PathBuf,
    /// Orders queued from it.
    pub orders: u64,
}

/// How the orders of one batch ended, and what confirmed the issued ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReconciliation {
    /// The profile.
    pub profile: String,
    /// The batch id.
    pub batch_id: Uuid,
    /// Orders in the batch.
    pub orders: u64,
    /// Issued, confirmed by a verified webhook.
    pub issued_by_webhook: u64,
    /// Issued, confirmed by a lookup at the provider (an unsigned callback checked against the
    /// card info, or the reconciler's poll).
    pub issued_by_lookup: u64,
    /// Issued with no confirmation recorded (should not happen; shown if it does).
    pub issued_unconfirmed: u64,
    /// Accepted plastic cards in production, waiting for their holder's activation (QI Tech
    /// `embossing`): nothing is left for cardbatch to do.
    pub awaiting_activation: u64,
    /// The provider gave up on the card after accepting it.
    pub failed: u64,
    /// The provider refused the order for good.
    pub rejected: u64,
    /// Transient errors outlasted every attempt.
    pub dead: u64,
    /// The outcome could not be established automatically.
    pub needs_review: u64,
    /// Orders in any other state (none once the demo has settled).
    pub other: u64,
}

impl BatchReconciliation {
    /// Every order is final or awaits its holder's activation, with each issued one confirmed.
    pub fn is_complete(&self) -> bool {
        self.issued_unconfirmed == 0 && self.other == 0
    }
}

/// Per provider: what the sandbox injected, and what cardbatch did about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultSummary {
    /// The provider.
    pub provider: String,
    /// Requests the sandbox answered (or dropped).
    pub requests: u64,
    /// Transient errors injected.
    pub transient: u64,
    /// Responses lost after the card was made.
    pub lost_responses: u64,
    /// 429s answered.
    pub rate_limited: u64,
    /// Webhooks delivered twice.
    pub webhooks_duplicated: u64,
    /// Webhooks held back behind a later one.
    pub webhooks_reordered: u64,
    /// Webhooks never sent.
    pub webhooks_dropped: u64,
    /// Calls cardbatch made (attempt rows).
    pub attempts: u64,
    /// Attempts beyond each order's first: the retries.
    pub retries: u64,
}

/// Counts how the orders of `batch` ended.
pub(super) async fn reconcile(
    store: &Store,
    sandbox: &RunningSandbox,
    batch: &DemoBatch,
) -> Result<BatchReconciliation, crate::store::Error> {
    let mut r = BatchReconciliation {
        profile: batch.profile.clone(),
        batch_id: batch.batch_id,
        ..BatchReconciliation::default()
    };
    for order in store.order_list(batch.batch_id, None).await? {
        r.orders += 1;
        match order.state {
            OrderState::Issued => match store.order_confirmation(order.id).await? {
                Some((by, _)) if by == "webhook" => r.issued_by_webhook += 1,
                Some(_) => r.issued_by_lookup += 1,
                None => r.issued_unconfirmed += 1,
            },
            OrderState::Failed => r.failed += 1,
            OrderState::Rejected => r.rejected += 1,
            OrderState::Dead => r.dead += 1,
            OrderState::NeedsReview => r.needs_review += 1,
            OrderState::Submitted if awaits_activation(sandbox, batch.provider, &order) => {
                r.awaiting_activation += 1
            }
            OrderState::Queued
            | OrderState::InFlight
            | OrderState::RetryWait
            | OrderState::Submitted
            | OrderState::InDoubt
            | OrderState::Canceled => r.other += 1,
        }
    }
    Ok(r)
}

/// Reads the sandbox's counters and the attempts cardbatch recorded for `batch`.
pub(super) async fn faults(
    store: &Store,
    sandbox: &RunningSandbox,
    batch: &DemoBatch,
) -> Result<FaultSummary, crate::store::Error> {
    let stat = |name: &str| sandbox.stats().get(batch.provider.as_str(), name);
    let mut summary = FaultSummary {
        provider: batch.provider.as_str().to_string(),
        requests: stat("requests"),
        transient: stat("faults_transient"),
        lost_responses: stat("faults_lost_response"),
        rate_limited: stat("rate_limited"),
        webhooks_duplicated: stat("webhooks_duplicated"),
        webhooks_reordered: stat("webhooks_reordered"),
        webhooks_dropped: stat("webhooks_dropped"),
        ..FaultSummary::default()
    };
    for order in store.order_list(batch.batch_id, None).await? {
        let attempts = store.attempt_list(order.id).await?.len() as u64;
        summary.attempts += attempts;
        summary.retries += attempts.saturating_sub(1);
    }
    Ok(summary)
}

fn table(headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.to_vec());
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

/// The reconciliation report as a table, one row per batch.
pub fn render_reconciliation(rows: &[BatchReconciliation]) -> String {
    table(
        &[
            "profile",
            "batch",
            "orders",
            "issued (webhook)",
            "issued (lookup)",
            "awaiting activation",
            "failed",
            "rejected",
            "dead",
            "needs review",
            "unsettled",
        ],
        rows.iter().map(|r| {
            vec![
                r.profile.clone(),
                r.batch_id.to_string()[..8].to_string(),
                r.orders.to_string(),
                r.issued_by_webhook.to_string(),
                r.issued_by_lookup.to_string(),
                r.awaiting_activation.to_string(),
                r.failed.to_string(),
                r.rejected.to_string(),
                r.dead.to_string(),
                r.needs_review.to_string(),
                (r.issued_unconfirmed + r.other).to_string(),
            ]
        }),
    )
}

/// The faults injected and the retries made, one row per provider.
pub fn render_faults(rows: &[FaultSummary]) -> String {
    table(
        &[
            "provider",
            "requests",
            "transient",
            "lost answers",
            "429s",
            "webhooks dup / reordered / dropped",
            "calls",
            "retries",
        ],
        rows.iter().map(|f| {
            vec![
                f.provider.clone(),
                f.requests.to_string(),
                f.transient.to_string(),
                f.lost_responses.to_string(),
                f.rate_limited.to_string(),
                format!(
                    "{} / {} / {}",
                    f.webhooks_duplicated, f.webhooks_reordered, f.webhooks_dropped
                ),
                f.attempts.to_string(),
                f.retries.to_string(),
            ]
        }),
    )
}
