//! INIT -> INIT_CREATE_CARD_HOLDER -> INIT_CREATE_CARD -> INIT_ACTIVE_CARD -> ACTIVE, one step
//! per `lifecycle_delay_ms` (scaled), or, with probability `failure_rate` rolled when the card
//! itself is being created, INIT_CREATE_CARD -> CREATE_CARD_FAILED_REFUND (the deposit goes back
//! to the merchant balance). The end is reported by an unsigned `CREATE_CARD` or
//! `CREATE_CARD_FAIL` callback to the request's `callbackUrl`, retried on any non-2xx every
//! 10 minutes for the first hour, then hourly, for 24 hours in total (scaled).

use super::{AlchemyPay, PROVIDER};
use crate::core::Delivery;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The statuses after INIT, in order.
pub const STEPS: [&str; 4] = [
    "INIT_CREATE_CARD_HOLDER",
    "INIT_CREATE_CARD",
    "INIT_ACTIVE_CARD",
    "ACTIVE",
];

/// The final status of a failed creation.
pub const FAILED: &str = "CREATE_CARD_FAILED_REFUND";

/// Waits before each callback retry, unscaled: 6 x 10 min, then 23 x 1 h (24 h in total).
pub fn retry_schedule() -> Vec<Duration> {
    let mut schedule = vec![Duration::from_secs(600); 6];
    schedule.extend(vec![Duration::from_secs(3600); 23]);
    schedule
}

/// Starts the lifecycle of a card just created in INIT.
pub fn start(alchemy: &Arc<AlchemyPay>, card_id: String) {
    schedule_step(alchemy, card_id, 0);
}

fn schedule_step(alchemy: &Arc<AlchemyPay>, card_id: String, step: usize) {
    let delay = Duration::from_millis(alchemy.settings().lifecycle_delay_ms);
    let state = Arc::clone(alchemy);
    alchemy
        .core
        .after(delay, async move { advance(&state, card_id, step) });
}

fn advance(alchemy: &Arc<AlchemyPay>, card_id: String, step: usize) {
    // Leaving INIT_CREATE_CARD is where the issuer may refuse the card.
    let failed = STEPS[step] == "INIT_ACTIVE_CARD"
        && alchemy.core.roll(PROVIDER, alchemy.settings().failure_rate);
    let status = if failed { FAILED } else { STEPS[step] };
    let Some(card) = alchemy.cards.set_status(&card_id, status) else {
        return;
    };
    alchemy.core.ledger.set_status(PROVIDER, &card_id, status);
    // One counter per status reached, so the whole path is observable from outside.
    alchemy
        .core
        .stats
        .incr(PROVIDER, &format!("lifecycle_{status}"));
    if failed {
        alchemy.cards.credit(card.deposit_cents);
    }
    let (event_type, data) = match status {
        FAILED => ("CREATE_CARD_FAIL", card.failed_event_data()),
        "ACTIVE" => ("CREATE_CARD", card.created_event_data()),
        _ => {
            schedule_step(alchemy, card_id, step + 1);
            return;
        }
    };
    let subscribe_id = hex::encode(&Sha256::digest(card.access_key.as_bytes())[..10]);
    let body = json!({
        "eventType": event_type,
        "eventId": format!("ev_{}", uuid::Uuid::new_v4().simple()),
        "webhookSubscribeId": format!("wsb_{subscribe_id}"),
        "data": data,
    });
    alchemy.core.webhooks.send(
        PROVIDER,
        Delivery::unsigned(card.callback_url, body.to_string(), retry_schedule()),
    );
}
