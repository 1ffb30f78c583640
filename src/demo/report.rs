//! What the demo shows: per batch, how its orders ended and what confirmed them; per provider,
//! the faults the sandbox injected and the retries cardbatch made.
//!
//! The per-batch figures come from [`crate::reconcile::report`], the same report an operator
//! reads; the demo adds which accepted cards wait on their holder.

use super::settle::awaits_activation;
use crate::domain::{OrderState, ProviderKind};
use crate::reconcile::BatchReconciliation;
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

/// How the orders of one batch settled, from the reconciliation report plus what only the demo
/// can tell (which `submitted` cards are in production, waiting for their holder).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchSettlement {
    /// The profile.
    pub profile: String,
    /// The batch id.
    pub batch_id: Uuid,
    /// Orders in the batch.
    pub orders: u64,
    /// Issued, confirmed by a verified webhook.
    pub issued_by_webhook: u64,
    /// Issued, confirmed by a lookup at the provider (an unsigned callback checked against the
    /// card info, or the reconciler's poll after a webhook did not come).
    pub issued_by_lookup: u64,
    /// Issued with no confirmation recorded (should not happen; shown if it does).
    pub issued_unconfirmed: u64,
    /// Accepted plastic cards in production, waiting for their holder's activation (QI Tech
    /// `embossing`): nothing is left for cardbatch to do.
    pub awaiting_activation: u64,
    /// Accepted, still waiting for a webhook or a lookup (none once the demo has settled).
    pub awaiting_confirmation: u64,
    /// The provider gave up on the card after accepting it.
    pub failed: u64,
    /// The provider refused the order for good.
    pub rejected: u64,
    /// Transient errors outlasted every attempt.
    pub dead: u64,
    /// The outcome could not be established automatically.
    pub needs_review: u64,
    /// Orders still queued, in flight, waiting to retry or in doubt (none once settled).
    pub moving: u64,
    /// Orders where the provider's status disagrees with ours (the reconciler's findings).
    pub provider_mismatches: u64,
}

impl BatchSettlement {
    /// Every order is final or awaits its holder's activation, each issued one is confirmed, and
    /// the provider agrees with every state recorded.
    pub fn is_complete(&self) -> bool {
        self.issued_unconfirmed == 0
            && self.awaiting_confirmation == 0
            && self.moving == 0
            && self.provider_mismatches == 0
    }
}

/// Reads one batch of the reconciliation report and splits its awaiting orders into those in
/// production (awaiting activation) and those still waiting for a confirmation.
pub(super) async fn settlement(
    store: &Store,
    sandbox: &RunningSandbox,
    batch: &DemoBatch,
    reconciled: &BatchReconciliation,
) -> Result<BatchSettlement, crate::store::Error> {
    let state = |s: OrderState| reconciled.states.get(&s).copied().unwrap_or(0);
    let mut awaiting_activation = 0;
    for order in store
        .order_list(batch.batch_id, Some(OrderState::Submitted))
        .await?
    {
        if awaits_activation(sandbox, batch.provider, &order) {
            awaiting_activation += 1;
        }
    }
    let confirmed = reconciled.confirmed_by_webhook + reconciled.confirmed_by_lookup;
    Ok(BatchSettlement {
        profile: reconciled.profile.clone(),
        batch_id: reconciled.batch_id,
        orders: reconciled.total,
        issued_by_webhook: reconciled.confirmed_by_webhook,
        issued_by_lookup: reconciled.confirmed_by_lookup,
        issued_unconfirmed: state(OrderState::Issued).saturating_sub(confirmed),
        awaiting_activation,
        awaiting_confirmation: reconciled
            .awaiting_confirmation
            .saturating_sub(awaiting_activation),
        failed: reconciled.failed_at_provider,
        rejected: state(OrderState::Rejected),
        dead: state(OrderState::Dead),
        needs_review: reconciled.needs_review.len() as u64,
        moving: [
            OrderState::Queued,
            OrderState::InFlight,
            OrderState::RetryWait,
            OrderState::InDoubt,
        ]
        .into_iter()
        .map(state)
        .sum(),
        provider_mismatches: reconciled.mismatches.len() as u64,
    })
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
pub fn render_settlements(rows: &[BatchSettlement]) -> String {
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
            "provider disagrees",
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
                r.provider_mismatches.to_string(),
                (r.issued_unconfirmed + r.awaiting_confirmation + r.moving).to_string(),
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
