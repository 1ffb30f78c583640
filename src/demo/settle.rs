//! Waiting until every order is final, or waits on its cardholder.
//!
//! A QI Tech plastic card leaves `created` for `embossing` (in production) and becomes `active`
//! only when its holder activates it after delivery, which the sandbox does not simulate. Its
//! order stays `submitted`: neither the webhook processor nor the reconciler treats `embossing`
//! as a confirmation. The demo counts such an order as settled ("awaiting activation") rather
//! than waiting for an event that cannot come, and reports it as such.

use super::options::DemoError;
use super::report::DemoBatch;
use crate::domain::{OrderState, ProviderKind};
use crate::sandbox::RunningSandbox;
use crate::store::{OrderRow, Store};
use std::time::Duration;

/// How often the order counts are read while waiting: one cheap grouped query.
const POLL: Duration = Duration::from_millis(50);

/// The QI status of a plastic card in production, waiting for its holder's activation.
pub(super) const EMBOSSING: &str = "embossing";

/// Whether `order` is a QI Tech order whose card is in production at the provider: accepted,
/// with nothing left for cardbatch to do until the holder activates it.
pub(super) fn awaits_activation(
    sandbox: &RunningSandbox,
    kind: ProviderKind,
    order: &OrderRow,
) -> bool {
    if order.state != OrderState::Submitted
        || !matches!(
            kind,
            ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid
        )
    {
        return false;
    }
    let Some(card) = order.provider_refs.as_ref().and_then(|r| r.card_key()) else {
        return false;
    };
    sandbox
        .ledger()
        .get(kind.as_str(), card)
        .is_some_and(|entry| entry.status == EMBOSSING)
}

/// Resolves once no order is moving (queued, in flight, retry wait, in doubt, or submitted
/// and not [`awaits_activation`]), or fails with what is still moving once `timeout` has
/// passed.
pub(super) async fn wait_until_final(
    store: &Store,
    sandbox: &RunningSandbox,
    batches: &[DemoBatch],
    timeout: Duration,
) -> Result<(), DemoError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let counts = store.order_count_by_state().await?;
        let mut moving: Vec<String> = counts
            .iter()
            .filter(|(state, _)| !state.is_terminal() && **state != OrderState::Submitted)
            .map(|(state, n)| format!("{state} {n}"))
            .collect();
        if moving.is_empty() && counts.contains_key(&OrderState::Submitted) {
            // Only now read the submitted orders one by one: while others move, they can wait.
            let mut waiting = Vec::new();
            for batch in batches {
                for order in store
                    .order_list(batch.batch_id, Some(OrderState::Submitted))
                    .await?
                {
                    if !awaits_activation(sandbox, batch.provider, &order) {
                        waiting.push(describe(sandbox, batch.provider, &order));
                    }
                }
            }
            if !waiting.is_empty() {
                moving.push(format!(
                    "submitted {} awaiting confirmation: {}",
                    waiting.len(),
                    waiting.join("; ")
                ));
            }
        }
        if moving.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(DemoError::Timeout {
                waited: timeout,
                moving: moving.join(", "),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// An order waiting for its confirmation, with what the sandbox knows of its card, for the
/// timeout message.
fn describe(sandbox: &RunningSandbox, kind: ProviderKind, order: &OrderRow) -> String {
    let card = order
        .provider_refs
        .as_ref()
        .and_then(|refs| refs.card_key());
    let status = card
        .and_then(|c| sandbox.ledger().get(kind.as_str(), c))
        .map(|entry| entry.status)
        .unwrap_or_else(|| "not in the ledger by that key".into());
    format!(
        "{kind} {} refs {} (sandbox: {status})",
        order.order_ref,
        order
            .provider_refs
            .as_ref()
            .map(|r| r.to_string())
            .unwrap_or_default()
    )
}
