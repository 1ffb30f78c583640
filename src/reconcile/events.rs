//! The event processor: pending inbox events, in order of receipt, matched to their orders and
//! applied. It runs as a loop in `cardbatch run` / `cardbatch serve` (woken right after each
//! insert, plus a periodic sweep for events waiting on refs); tests call
//! [`process_pending_events`] directly.
//!
//! One pass:
//! 1. Take up to `batch` pending events that are due, oldest first.
//! 2. Read each one ([`read_event`]); an event that means nothing is `ignored`.
//! 3. Match it to an order by card key, order key or idempotency key (one query per key kind
//!    for the whole pass). No order: it waits
//!    (`pending`, looked at again after `recheck_after`) until `unmatched_after` has passed
//!    since its receipt, then it is `unmatched` and shows in the report.
//! 4. By the order's state: `submitted` -> the confirmation (Alchemy Pay's after a card-info
//!    lookup); queued / in flight / retry wait / in doubt -> wait for the create answer;
//!    terminal -> `matched` with no change (a late or repeated event never moves it back; one
//!    that contradicts an `issued` / `failed` order is recorded as a mismatch).
//! 5. Write every decision in one transaction, each order change fenced on `submitted`.

use super::read::{EventMeaning, EventReading, read_event};
use crate::domain::{OrderState, ProviderRefs};
use crate::providers::{ProfileClients, Resolution};
use crate::store::{
    CardMatchKey, ConfirmedBy, EventOutcome, EventSettlement, MatchedOrder, OrderConfirmation,
    Store, WebhookEvent,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How the processor paces itself.
#[derive(Debug, Clone)]
pub struct ProcessOptions {
    /// Events per pass (and per transaction).
    pub batch: u32,
    /// How long an event waiting for its order's refs waits before the next look.
    pub recheck_after: Duration,
    /// How long after its receipt an event no order claims is declared `unmatched`.
    pub unmatched_after: Duration,
    /// The loop's sweep interval when nothing wakes it.
    pub sweep_every: Duration,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions {
            batch: 512,
            recheck_after: Duration::from_secs(2),
            // Longer than any create call and its retries take to record refs, shorter than
            // an operator's patience.
            unmatched_after: Duration::from_secs(3600),
            sweep_every: Duration::from_secs(1),
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessReport {
    /// Events looked at.
    pub examined: usize,
    /// Orders moved to `issued`.
    pub issued: usize,
    /// Orders moved to `failed`.
    pub failed: usize,
    /// Events matched to an order they did not move (terminal already, or not trusted).
    pub unchanged: usize,
    /// Events left pending (no order yet, or the order is not `submitted` yet).
    pub waiting: usize,
    /// Events declared `unmatched`.
    pub unmatched: usize,
    /// Events `ignored`.
    pub ignored: usize,
}

/// Runs one pass over the due pending events (see the module doc) at `now_ms`.
pub async fn process_pending_events(
    store: &Store,
    clients: &ProfileClients,
    options: &ProcessOptions,
    now_ms: i64,
) -> crate::store::Result<ProcessReport> {
    let events = store.webhook_event_due(now_ms, options.batch).await?;
    let mut report = ProcessReport {
        examined: events.len(),
        ..ProcessReport::default()
    };
    let readings: Vec<EventReading> = events.iter().map(read_event).collect();
    // Events that mean nothing are not matched at all (their key is empty).
    let keys: Vec<CardMatchKey> = readings
        .iter()
        .map(|r| match r.meaning {
            EventMeaning::Nothing(_) => CardMatchKey::default(),
            _ => r.key.clone(),
        })
        .collect();
    let orders = store.order_match_many(&keys).await?;
    let mut settlements = Vec::with_capacity(events.len());
    for ((event, reading), order) in events.iter().zip(readings).zip(orders) {
        settlements.push(decide(store, clients, options, event, reading, order, now_ms).await);
    }
    let applied = store
        .webhook_event_settle_many(&settlements, now_ms)
        .await?;
    // The settlement's write is the moment its order settled: the lag is measured to now.
    let settled_ms = chrono::Utc::now().timestamp_millis();
    for ((s, applied), event) in settlements.iter().zip(applied).zip(&events) {
        let outcome = match (s.outcome, &s.confirm) {
            (EventOutcome::Matched, Some(c)) if applied => match c.state {
                OrderState::Issued => {
                    report.issued += 1;
                    "issued"
                }
                _ => {
                    report.failed += 1;
                    "failed"
                }
            },
            (EventOutcome::Matched, _) => {
                report.unchanged += 1;
                "unchanged"
            }
            (EventOutcome::Pending, _) => {
                report.waiting += 1;
                "waiting"
            }
            (EventOutcome::Unmatched, _) => {
                report.unmatched += 1;
                "unmatched"
            }
            (EventOutcome::Ignored, _) => {
                report.ignored += 1;
                "ignored"
            }
        };
        let lag = matches!(outcome, "issued" | "failed").then(|| settled_ms - event.received_at_ms);
        crate::telemetry::record_webhook_processed(&event.endpoint, outcome, lag);
    }
    Ok(report)
}

/// The processor loop: a pass whenever `wake` is notified or `options.sweep_every` passes,
/// passes back to back while a backlog lasts, until `shutdown` resolves.
pub async fn run_event_processor<F>(
    store: Store,
    clients: ProfileClients,
    wake: Arc<Notify>,
    options: ProcessOptions,
    shutdown: F,
) where
    F: Future<Output = ()> + Send,
{
    tokio::pin!(shutdown);
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let full = match process_pending_events(&store, &clients, &options, now).await {
            Ok(report) => {
                if report.examined > 0 {
                    tracing::debug!(?report, "webhook events processed");
                }
                report.examined as u32 >= options.batch
            }
            Err(e) => {
                tracing::warn!(error = %e, "processing webhook events failed; retrying");
                false
            }
        };
        if full {
            // A backlog: straight on to the next pass, unless the shutdown came meanwhile (a
            // long backlog must not hold a SIGTERM up).
            if futures::FutureExt::now_or_never(&mut shutdown).is_some() {
                return;
            }
            continue;
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(options.sweep_every) => {}
        }
    }
}

async fn decide(
    store: &Store,
    clients: &ProfileClients,
    options: &ProcessOptions,
    event: &WebhookEvent,
    reading: EventReading,
    order: Option<MatchedOrder>,
    now_ms: i64,
) -> EventSettlement {
    let mut settle = EventSettlement {
        event_id: event.id,
        outcome: EventOutcome::Ignored,
        order_id: None,
        note: String::new(),
        recheck_at_ms: now_ms + options.recheck_after.as_millis() as i64,
        confirm: None,
        calls: Vec::new(),
    };
    if let EventMeaning::Nothing(why) = reading.meaning {
        settle.note = why;
        return settle;
    }
    let Some(order) = order else {
        let waited = now_ms - event.received_at_ms;
        if waited >= options.unmatched_after.as_millis() as i64 {
            settle.outcome = EventOutcome::Unmatched;
            settle.note = format!("no order matched within {} s", waited / 1000);
        } else {
            settle.outcome = EventOutcome::Pending;
            settle.note = "no order carries these refs yet".into();
        }
        return settle;
    };
    settle.order_id = Some(order.id);
    match order.state {
        OrderState::Submitted => {}
        OrderState::Queued | OrderState::InFlight | OrderState::RetryWait | OrderState::InDoubt => {
            settle.outcome = EventOutcome::Pending;
            settle.note = format!("waiting: the order is {}", order.state);
            return settle;
        }
        OrderState::Issued | OrderState::Failed => {
            settle.outcome = EventOutcome::Matched;
            settle.note = format!("no change: the order is already {}", order.state);
            // An event contradicting the recorded final state (it says failed, a lookup said
            // issued, or the reverse) is sent as a confirmation anyway: the fence on `submitted`
            // refuses it and the store records the disagreement as a mismatch for the report.
            let contradiction = match (&reading.meaning, order.state) {
                (EventMeaning::Failed { code, message }, OrderState::Issued) => {
                    Some((OrderState::Failed, Some((code.clone(), message.clone()))))
                }
                (EventMeaning::Issued, OrderState::Failed) => Some((OrderState::Issued, None)),
                _ => None,
            };
            settle.confirm = contradiction.map(|(state, error)| OrderConfirmation {
                order_id: order.id,
                state,
                by: ConfirmedBy::Webhook,
                provider_refs: None,
                error,
            });
            return settle;
        }
        OrderState::Rejected | OrderState::Dead | OrderState::Canceled => {
            settle.outcome = EventOutcome::Matched;
            settle.note = format!("no change: the order is already {}", order.state);
            return settle;
        }
        // An operator is to look at it (its answer was lost, or nothing confirmed it in time):
        // what the event says is worked out as for a submitted order, and the store, whose fence
        // on `submitted` refuses the confirmation, records it on the order as a mismatch ("the
        // provider now says issued but the order was already needs_review") for the operator.
        OrderState::NeedsReview => {}
    }
    settle.outcome = EventOutcome::Matched;
    let confirm = |state, by, provider_refs, error| OrderConfirmation {
        order_id: order.id,
        state,
        by,
        provider_refs,
        error,
    };
    match reading.meaning {
        EventMeaning::Issued => {
            settle.note = "issued".into();
            settle.confirm = Some(confirm(
                OrderState::Issued,
                ConfirmedBy::Webhook,
                None,
                None,
            ));
        }
        EventMeaning::Failed { code, message } => {
            settle.note = format!("failed: {code}");
            settle.confirm = Some(confirm(
                OrderState::Failed,
                ConfirmedBy::Webhook,
                None,
                Some((code, message)),
            ));
        }
        EventMeaning::IssuedIfLookupConfirms { card_id } => {
            let Some(client) = clients.get(&order.profile) else {
                settle.outcome = EventOutcome::Pending;
                settle.note = format!("waiting: no client for profile {}", order.profile);
                return settle;
            };
            // The order as the client reads it, holding the callback's card id, which the
            // lookup must find under the order's own orderNo.
            let mut view = match store.order_provider_view(order.id).await {
                Ok(Some(view)) => view,
                Ok(None) | Err(_) => {
                    // Read again at the next look: the order row is there (it just matched).
                    settle.outcome = EventOutcome::Pending;
                    settle.note = "waiting: the order could not be read for its card lookup".into();
                    return settle;
                }
            };
            view.refs.merge(
                &ProviderRefs::new()
                    .with(ProviderRefs::ORDER_NO, order.idempotency_key.as_str())
                    .with(ProviderRefs::CARD_ID, card_id.as_str()),
            );
            let (resolution, calls) = client.resolve(&view).await;
            settle.calls = calls
                .iter()
                .map(|c| (order.id, c.attempt_record(order.attempts)))
                .collect();
            match resolution {
                Resolution::Found { refs } => {
                    let refs = order.refs.clone().merged(&refs);
                    settle.note = format!("issued: card {card_id} confirmed by lookup");
                    settle.confirm = Some(confirm(
                        OrderState::Issued,
                        ConfirmedBy::Lookup,
                        Some(refs),
                        None,
                    ));
                }
                Resolution::Transient { code, .. } => {
                    settle.outcome = EventOutcome::Pending;
                    settle.note = format!("waiting: the card lookup failed transiently ({code})");
                }
                other => {
                    settle.note = format!(
                        "not trusted: the lookup of card {card_id} did not confirm it ({other:?})"
                    );
                }
            }
        }
        EventMeaning::Nothing(_) => unreachable!("handled above"),
    }
    settle
}
