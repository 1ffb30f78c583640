//! PENDING -> ACTIVE | FAILED after `lifecycle_delay_ms` (scaled), then the signed
//! `card.create.succeeded` / `card.create.failed` webhook.
//!
//! Signature: `x-wk-timestamp` = Unix milliseconds (the "Webhook Hub" format), `x-wk-signature` =
//! lowercase hex HMAC-SHA512(secret, raw body ‖ x-wk-timestamp); recomputed per attempt.
//! [inferred] UQPAY documents no retry schedule: the sandbox retries a non-2xx after 1 min,
//! 5 min, 15 min, 1 h and 6 h (scaled by `time_scale`). A failed card's webhook carries the same
//! card object with `card_status: "FAILED"` and `order_status: "FAILED"`.

use super::{PROVIDER, Uqpay};
use crate::core::{Core, Delivery};
use axum::http::{HeaderName, HeaderValue};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha512;
use std::sync::Arc;
use std::time::Duration;

/// The waits before each webhook retry, unscaled.
pub fn retry_schedule() -> Vec<Duration> {
    [60, 300, 900, 3_600, 21_600]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// `lowercase_hex(HMAC_SHA512(secret, body ‖ timestamp))`.
pub fn sign(secret: &[u8], body: &[u8], timestamp: &str) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(secret).expect("any key length");
    mac.update(body);
    mac.update(timestamp.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Completes the card's creation after the configured delay.
pub fn schedule(uqpay: &Arc<Uqpay>, card_id: String) {
    let delay = Duration::from_millis(uqpay.settings().lifecycle_delay_ms);
    let state = Arc::clone(uqpay);
    uqpay
        .core
        .after(delay, async move { complete(&state, &card_id) });
}

fn complete(uqpay: &Arc<Uqpay>, card_id: &str) {
    let settings = uqpay.settings();
    let failed = uqpay.core.roll(PROVIDER, settings.failure_rate);
    let (card_status, order_status) = if failed {
        ("FAILED", "FAILED")
    } else {
        ("ACTIVE", "SUCCESS")
    };
    let now = uqpay.core.clock.now();
    let Some(card) = uqpay.cards.update(card_id, |c| {
        c.card_status = card_status.into();
        c.order_status = order_status.into();
        c.update_time = now;
        c.complete_time = Some(now);
        if failed {
            c.balance_cents = 0;
        }
    }) else {
        return;
    };
    uqpay.core.ledger.set_status(PROVIDER, card_id, card_status);
    if failed {
        uqpay.funds.give_back(
            &card.product.product_id,
            &card.product.mode_type,
            &card.card_limit,
            now,
        );
    }
    let event_type = if failed {
        "card.create.failed"
    } else {
        "card.create.succeeded"
    };
    send_webhook(uqpay, event_type, &card.card_order_id, card.webhook_data());
}

/// Sends a signed card event (`source_id`: the card order it concerns) to the configured URL,
/// retried on the schedule above; nothing when no URL is configured.
pub fn send_webhook(uqpay: &Uqpay, event_type: &str, source_id: &str, data: serde_json::Value) {
    let settings = uqpay.settings();
    let Some(url) = settings.webhook_url.clone() else {
        return;
    };
    let body = json!({
        "version": "V1.6.0",
        "event_name": "ISSUING",
        "event_type": event_type,
        "event_id": uuid::Uuid::new_v4().to_string(),
        "source_id": source_id,
        "data": data,
    });
    let secret = settings.webhook_secret.clone();
    let core: Arc<Core> = Arc::clone(&uqpay.core);
    let delivery = Delivery {
        url,
        body: body.to_string().into(),
        sign: Arc::new(move |body: &[u8]| {
            let timestamp = core.clock.now_ms().to_string();
            let mut headers = Vec::new();
            if let Some(secret) = &secret {
                let signature = sign(secret.as_bytes(), body, &timestamp);
                headers.push((
                    HeaderName::from_static("x-wk-signature"),
                    HeaderValue::from_str(&signature).expect("hex is a valid header value"),
                ));
            }
            headers.push((
                HeaderName::from_static("x-wk-timestamp"),
                HeaderValue::from_str(&timestamp).expect("digits are a valid header value"),
            ));
            headers
        }),
        schedule: retry_schedule(),
    };
    uqpay.core.webhooks.send(PROVIDER, delivery);
}
