//! The reconciliation report: per batch, how its orders were confirmed (webhook or lookup),
//! which still wait for a confirmation and for how long, which the provider failed, where the
//! provider and our records disagree, and which orders need an operator; plus the provider events
//! no order claimed. `cardbatch reconcile` and `cardbatch demo` print it.

use crate::domain::{OrderState, ProviderKind};
use crate::store::{self, ConfirmedBy, EventOutcome, Store};
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// How many awaiting orders (oldest first) a batch's report lists one by one; the count covers
/// them all.
pub const AWAITING_LISTED: u32 = 50;

/// The whole report: one entry per batch (newest first), and the unmatched events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconcileReport {
    /// When the report was made (Unix ms); ages are measured from here.
    pub generated_at_ms: i64,
    /// One entry per batch reported on.
    pub batches: Vec<BatchReconciliation>,
    /// Verified provider events that no order claimed. Events carry no batch (they matched
    /// nothing), so they are listed once, for every batch.
    pub unmatched_events: Vec<UnmatchedEvent>,
}

/// One batch's reconciliation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchReconciliation {
    /// The batch id.
    pub batch_id: Uuid,
    /// The provider profile it is issued through.
    pub profile: String,
    /// The profile's provider.
    pub provider: ProviderKind,
    /// The file name as given, or `table:<name>`.
    pub source: String,
    /// All orders of the batch.
    pub total: u64,
    /// Orders per state (states with none are absent).
    pub states: BTreeMap<OrderState, u64>,
    /// `issued` orders confirmed by a verified webhook.
    pub confirmed_by_webhook: u64,
    /// `issued` orders confirmed by a lookup at the provider.
    pub confirmed_by_lookup: u64,
    /// `submitted` orders: the provider accepted them and has not confirmed yet.
    pub awaiting_confirmation: u64,
    /// The oldest awaiting orders, up to [`AWAITING_LISTED`], oldest first.
    pub awaiting: Vec<AwaitingConfirmation>,
    /// Orders the provider accepted and then failed (`failed`), however that was learnt.
    pub failed_at_provider: u64,
    /// Orders where the provider says one thing and we recorded another.
    pub mismatches: Vec<Mismatch>,
    /// Orders an operator must look at (`needs_review`), with their last error.
    pub needs_review: Vec<ReviewOrder>,
}

/// An order waiting for its confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwaitingConfirmation {
    /// The order's row id.
    pub order_id: i64,
    /// The customer's reference.
    pub order_ref: String,
    /// The provider's card key, when it gave one.
    pub card_ref: Option<String>,
    /// How long since the provider accepted it, in seconds.
    pub age_secs: u64,
    /// How many times the reconciler looked it up.
    pub lookups: u32,
}

/// An order whose provider status disagrees with what we recorded. The order never moves
/// backwards because of it: an operator decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The order's row id.
    pub order_id: i64,
    /// The customer's reference.
    pub order_ref: String,
    /// Our state.
    pub state: OrderState,
    /// What confirmed our state (`webhook` / `lookup`), if anything.
    pub confirmed_by: Option<String>,
    /// What the provider said.
    pub note: String,
}

/// An order needing review, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewOrder {
    /// The order's row id.
    pub order_id: i64,
    /// The customer's reference.
    pub order_ref: String,
    /// Code of the last failure.
    pub last_error_code: Option<String>,
    /// Message of the last failure.
    pub last_error_message: Option<String>,
}

/// An event no order claimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmatchedEvent {
    /// The inbox row id.
    pub event_id: i64,
    /// The endpoint it arrived on.
    pub endpoint: String,
    /// The provider's event type.
    pub event_type: String,
    /// When it arrived (Unix ms).
    pub received_at_ms: i64,
    /// What the processor made of it.
    pub note: Option<String>,
}

/// The report for one batch (`Some`) or every batch (`None`), with ages measured from now.
pub async fn report(store: &Store, batch: Option<Uuid>) -> store::Result<ReconcileReport> {
    report_at(store, batch, crate::worker::system_now_ms()).await
}

/// [`report`], with ages measured from `now_ms`.
pub async fn report_at(
    store: &Store,
    batch: Option<Uuid>,
    now_ms: i64,
) -> store::Result<ReconcileReport> {
    let summaries = match batch {
        Some(id) => vec![store.batch_status(id).await?.summary],
        None => store.batch_list().await?,
    };
    let counts = store.order_count_by_confirmation(batch).await?;
    let mut batches = Vec::with_capacity(summaries.len());
    for summary in summaries {
        let mine = counts.iter().filter(|c| c.batch_id == summary.id);
        let issued_by = |by: ConfirmedBy| {
            mine.clone()
                .filter(|c| c.state == OrderState::Issued && c.confirmed_by == Some(by))
                .map(|c| c.count)
                .sum::<u64>()
        };
        let count = |state: OrderState| summary.counts.get(&state).copied().unwrap_or(0);
        let awaiting = store
            .order_list_awaiting(summary.id, AWAITING_LISTED)
            .await?
            .into_iter()
            .map(|o| AwaitingConfirmation {
                order_id: o.id,
                order_ref: o.order_ref,
                card_ref: o.card_ref,
                age_secs: (now_ms - o.submitted_at_ms).max(0) as u64 / 1000,
                lookups: o.lookups,
            })
            .collect();
        let mismatches = store
            .order_list_mismatches(summary.id)
            .await?
            .into_iter()
            .map(|m| Mismatch {
                order_id: m.id,
                order_ref: m.order_ref,
                state: m.state,
                confirmed_by: m.confirmed_by.map(|b| b.as_str().to_string()),
                note: m.note,
            })
            .collect();
        let needs_review = store
            .order_list(summary.id, Some(OrderState::NeedsReview))
            .await?
            .into_iter()
            .map(|o| ReviewOrder {
                order_id: o.id,
                order_ref: o.order_ref,
                last_error_code: o.last_error_code,
                last_error_message: o.last_error_message,
            })
            .collect();
        batches.push(BatchReconciliation {
            batch_id: summary.id,
            profile: summary.profile.clone(),
            provider: summary.provider,
            source: summary.source.clone(),
            total: summary.total(),
            confirmed_by_webhook: issued_by(ConfirmedBy::Webhook),
            confirmed_by_lookup: issued_by(ConfirmedBy::Lookup),
            awaiting_confirmation: count(OrderState::Submitted),
            awaiting,
            failed_at_provider: count(OrderState::Failed),
            mismatches,
            needs_review,
            states: summary.counts,
        });
    }
    let unmatched_events = store
        .webhook_event_list(EventOutcome::Unmatched)
        .await?
        .into_iter()
        .map(|e| UnmatchedEvent {
            event_id: e.id,
            endpoint: e.endpoint,
            event_type: e.event_type,
            received_at_ms: e.received_at_ms,
            note: e.note,
        })
        .collect();
    Ok(ReconcileReport {
        generated_at_ms: now_ms,
        batches,
        unmatched_events,
    })
}
