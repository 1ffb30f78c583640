//! The failure threshold, checked after each group of completions: a batch whose orders fail
//! permanently too often is paused ([`Store::batch_pause_on_failure_rate`]), and the pause is
//! recorded in the audit log as the system's action.

use crate::config::Profile;
use crate::domain::OrderState;
use crate::store::{AuditEntry, Completion, Store};

/// The threshold's actor in the audit log.
pub const ACTOR: &str = "system:failure_threshold";
/// `pause_min_attempts` when the profile does not say.
pub const DEFAULT_MIN_ATTEMPTS: u64 = 50;

/// Pauses the batches of the permanently failed orders among `completions` (those `applied`)
/// that are over `profile`'s threshold. Errors are logged: the threshold is a safety net and
/// never holds up completions.
pub(crate) async fn check(
    store: &Store,
    profile: &Profile,
    completions: &[Completion],
    applied: &[bool],
    now_ms: i64,
) {
    let Some(rate) = profile.pause_after_failure_rate else {
        return;
    };
    let failed: Vec<i64> = completions
        .iter()
        .zip(applied)
        .filter(|(c, ok)| **ok && matches!(c.state, OrderState::Rejected | OrderState::Failed))
        .map(|(c, _)| c.order_id)
        .collect();
    if failed.is_empty() {
        return;
    }
    let min = profile.pause_min_attempts.unwrap_or(DEFAULT_MIN_ATTEMPTS);
    let paused = match store.batch_pause_on_failure_rate(&failed, min, rate).await {
        Ok(paused) => paused,
        Err(e) => {
            tracing::error!(error = %e, "checking the failure threshold failed");
            return;
        }
    };
    for (batch, reason) in paused {
        tracing::warn!(%batch, %reason, "batch paused by the failure threshold");
        let entry = AuditEntry {
            at_ms: now_ms,
            actor: ACTOR.into(),
            action: "pause".into(),
            batch_id: Some(batch),
            order_id: None,
            outcome: "ok".into(),
            detail: Some(reason),
        };
        if let Err(e) = store.audit_record(&entry).await {
            tracing::error!(error = %e, %batch, "recording the automatic pause failed");
        }
    }
}
