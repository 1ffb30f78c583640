//! One operator action on one batch, and its audit row.

use crate::domain::OrderState;
use crate::store::{AuditEntry, Error as StoreError, Store};
use uuid::Uuid;

/// What an operator asks of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Stop claiming its orders; calls in flight finish.
    Pause,
    /// Claim its orders again.
    Resume,
    /// Cancel its unsent orders (`queued`, `retry_wait`); in-flight and sent ones are kept.
    Cancel,
    /// Release a batch held for approval (maker-checker: not by its submitter).
    Approve,
    /// Give its `dead` (or, confirmed, `needs_review`) orders another go, same idempotency key.
    Requeue {
        /// `dead` or `needs_review`.
        state: OrderState,
        /// Required for `needs_review`.
        confirm: bool,
    },
}

impl Action {
    /// The action's name in the audit log and the API's paths.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Cancel => "cancel",
            Action::Approve => "approve",
            Action::Requeue { .. } => "requeue",
        }
    }
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActionDone {
    /// The batch.
    pub batch_id: Uuid,
    /// The action's name.
    pub action: &'static str,
    /// Orders it moved (canceled, requeued); 0 for pause, resume, approve.
    pub orders: u64,
}

/// Why an action was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No such batch.
    #[error("no batch with id {0}")]
    NotFound(Uuid),
    /// No such order.
    #[error("no order with id {0}")]
    OrderNotFound(i64),
    /// The batch's state forbids the action, or the action needs what was not given.
    #[error("{0}")]
    Conflict(String),
    /// Maker-checker: the submitter may not approve their own batch.
    #[error("{0}")]
    SelfApproval(String),
    /// The request itself is wrong (requeueing orders that are neither dead nor needs_review).
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ControlError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BatchNotFound(id) => ControlError::NotFound(id),
            e @ StoreError::BatchStateForbids { .. } => ControlError::Conflict(e.to_string()),
            e @ StoreError::SelfApproval(_) => ControlError::SelfApproval(e.to_string()),
            e @ StoreError::InvalidRequeue(_) => ControlError::Invalid(e.to_string()),
            StoreError::OrderNotFound(id) => ControlError::OrderNotFound(id),
            e @ StoreError::InvalidAttach(_) => ControlError::Conflict(e.to_string()),
            e => ControlError::Store(e),
        }
    }
}

/// The actor name of the CLI: `cli:<login>` (from `$USER`, else `cli:unknown`).
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// Does `action` to `batch_id` for `actor` at `now_ms`, and records it in the audit log with
/// its outcome (`ok`, `refused`, `failed`).
pub async fn perform(
    store: &Store,
    actor: &str,
    batch_id: Uuid,
    action: &Action,
    now_ms: i64,
) -> Result<ActionDone, ControlError> {
    let result = run(store, actor, batch_id, action, now_ms).await;
    let (outcome, detail) = match &result {
        Ok(done) => ("ok", format!("{} orders", done.orders)),
        Err(ControlError::Store(e)) => ("failed", e.to_string()),
        Err(e) => ("refused", e.to_string()),
    };
    let detail = match action {
        Action::Requeue { state, .. } => format!("{state}: {detail}"),
        _ => detail,
    };
    audit(
        store,
        AuditEntry {
            at_ms: now_ms,
            actor: actor.to_string(),
            action: action.name().to_string(),
            batch_id: Some(batch_id),
            order_id: None,
            outcome: outcome.to_string(),
            detail: Some(detail),
        },
    )
    .await?;
    result
}

/// Records `entry`; a failure to record is the action's failure.
pub async fn audit(store: &Store, entry: AuditEntry) -> Result<(), ControlError> {
    store
        .audit_record(&entry)
        .await
        .map_err(ControlError::Store)
}

async fn run(
    store: &Store,
    actor: &str,
    batch_id: Uuid,
    action: &Action,
    now_ms: i64,
) -> Result<ActionDone, ControlError> {
    let orders = match action {
        Action::Pause => {
            store
                .batch_pause(batch_id, Some(&format!("paused by {actor}")))
                .await?;
            0
        }
        Action::Resume => {
            store
                .batch_resume(batch_id, Some(&format!("resumed by {actor}")))
                .await?;
            0
        }
        Action::Cancel => {
            store
                .batch_cancel(batch_id, Some(&format!("canceled by {actor}")), now_ms)
                .await?
        }
        Action::Approve => {
            let control = store.batch_control(batch_id).await?;
            // An active batch whose orders the daily spend cap holds back: approving lets them
            // through today (maker-checker as for any approval).
            if control.state == crate::domain::BatchState::Active
                && store.spend_held(batch_id).await? > 0
            {
                store.batch_waive_spend_cap(batch_id, actor, now_ms).await?
            } else {
                store.batch_approve(batch_id, actor).await?;
                0
            }
        }
        Action::Requeue { state, confirm } => {
            match state {
                OrderState::Dead => {}
                OrderState::NeedsReview if *confirm => {}
                OrderState::NeedsReview => {
                    return Err(ControlError::Conflict(format!(
                        "requeueing needs_review orders needs confirmation (--confirm, or confirm=true): look at why they needed review first (cardbatch status {batch_id}); each is looked up at the provider before anything is sent again"
                    )));
                }
                other => {
                    return Err(ControlError::Invalid(format!(
                        "only dead and needs_review orders can be requeued, not {other}"
                    )));
                }
            }
            let control = store.batch_control(batch_id).await?;
            if control.state == crate::domain::BatchState::Canceled {
                return Err(ControlError::Conflict(format!(
                    "batch {batch_id} is canceled: cannot requeue its orders"
                )));
            }
            store.order_requeue(batch_id, *state, now_ms).await?
        }
    };
    Ok(ActionDone {
        batch_id,
        action: action.name(),
        orders,
    })
}

/// Attaches card refs found by hand to the `needs_review` order `order_id` for `actor`: it
/// becomes `submitted` and the reconciler confirms the card by a lookup. Audited.
pub async fn attach(
    store: &Store,
    actor: &str,
    order_id: i64,
    refs: &crate::domain::ProviderRefs,
    now_ms: i64,
) -> Result<(), ControlError> {
    let result = if refs.is_empty() {
        Err(ControlError::Invalid("no refs to attach".into()))
    } else {
        store
            .order_attach_refs(order_id, refs, now_ms)
            .await
            .map_err(ControlError::from)
    };
    let batch_id = match store.order_get(order_id).await {
        Ok(order) => order.map(|o| o.batch_id),
        Err(e) => return Err(ControlError::Store(e)),
    };
    let (outcome, detail) = match &result {
        Ok(()) => (
            "ok",
            refs.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Err(ControlError::Store(e)) => ("failed", e.to_string()),
        Err(e) => ("refused", e.to_string()),
    };
    audit(
        store,
        AuditEntry {
            at_ms: now_ms,
            actor: actor.to_string(),
            action: "attach".into(),
            batch_id,
            order_id: Some(order_id),
            outcome: outcome.into(),
            detail: Some(detail),
        },
    )
    .await?;
    result
}
