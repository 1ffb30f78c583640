//! `POST /v1/issuing/cards/{card_id}/status` (spec section 8): freeze, unfreeze or cancel a card
//! (`{"card_status": "ACTIVE"|"FROZEN"|"CANCELLED", "update_reason"?}`, with
//! `x-idempotency-key`). The answer is `{card_id, card_order_id, order_status: "PROCESSING",
//! update_reason?}` (the SDKs' response fixtures for the current API reference; older pages
//! said `PENDING`; `update_reason` only when one was given); after `lifecycle_delay_ms` (scaled) the card changes and a signed
//! `card.status.update.succeeded` webhook follows, `source_id` the update's order.
//!
//! Sandbox choices where the spec is silent or says [inferred]:
//! - Allowed moves: `ACTIVE` -> `FROZEN` | `CANCELLED`, `FROZEN` -> `ACTIVE` | `CANCELLED`; a card
//!   in any other state, or asked for the state it is in, is refused with 400
//!   `invalid_request_error` code `invalid_card_status`.
//! - `CANCELLED` leaves the card `PRE_CANCEL`, as documented for the 30-day wait; the sandbox
//!   does not run the wait out.
//! - The update's order is not listed by `GET /v1/issuing/cards/{id}/order` (that answers the
//!   create order).

use super::idempotency::{fingerprint_for, keyed_write};
use super::lifecycle::send_webhook;
use super::lookup::card_not_found;
use super::wire::{ApiError, parse_body, uqpay_time};
use super::{PROVIDER, Uqpay};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The handler.
pub async fn update_status(
    State(uqpay): State<Arc<Uqpay>>,
    Path(card_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // The card is part of the request: the same key for another card is another request.
    keyed_write(
        &uqpay,
        &headers,
        fingerprint_for(&card_id, &body),
        |client| accept(&uqpay, client, &card_id, &body),
    )
    .await
}

/// Checks the request against the card and schedules the change; the answer.
fn accept(uqpay: &Arc<Uqpay>, client: &str, card_id: &str, body: &[u8]) -> Result<Value, ApiError> {
    let request = parse_body(body)?;
    let wanted = match request.get("card_status") {
        None | Some(Value::Null) => return Err(ApiError::missing(vec!["card_status".into()])),
        Some(Value::String(s)) if ["ACTIVE", "FROZEN", "CANCELLED"].contains(&s.as_str()) => {
            s.clone()
        }
        Some(other) => {
            return Err(ApiError::invalid(
                "invalid_request",
                format!("card_status must be ACTIVE, FROZEN or CANCELLED, not {other}"),
            ));
        }
    };
    let reason = match request.get("update_reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_request",
                "update_reason must be a string",
            ));
        }
    };
    let card = uqpay
        .cards
        .get(card_id)
        .filter(|c| c.client_id == client)
        .ok_or_else(card_not_found)?;
    let allowed = matches!(
        (card.card_status.as_str(), wanted.as_str()),
        ("ACTIVE", "FROZEN" | "CANCELLED") | ("FROZEN", "ACTIVE" | "CANCELLED")
    );
    if !allowed {
        return Err(ApiError::invalid(
            "invalid_card_status",
            format!(
                "Card status {} cannot be changed to {wanted}",
                card.card_status
            ),
        ));
    }
    let order_id = uuid::Uuid::new_v4().to_string();
    let new_status = match wanted.as_str() {
        "ACTIVE" => "ACTIVE",
        "FROZEN" => "FROZEN",
        _ => "PRE_CANCEL",
    };
    schedule(
        uqpay,
        card_id.to_string(),
        order_id.clone(),
        new_status,
        reason.clone(),
    );
    let mut answer = json!({
        "card_id": card_id,
        "card_order_id": order_id,
        "order_status": "PROCESSING",
    });
    if let Some(reason) = reason {
        answer["update_reason"] = Value::String(reason);
    }
    Ok(answer)
}

fn schedule(
    uqpay: &Arc<Uqpay>,
    card_id: String,
    order_id: String,
    new_status: &'static str,
    reason: Option<String>,
) {
    let delay = Duration::from_millis(uqpay.settings().lifecycle_delay_ms);
    let state = Arc::clone(uqpay);
    uqpay.core.after(delay, async move {
        let now = state.core.clock.now();
        let Some(card) = state.cards.update(&card_id, |c| {
            c.card_status = new_status.into();
            c.update_time = now;
        }) else {
            return;
        };
        state.core.ledger.set_status(PROVIDER, &card_id, new_status);
        let data = json!({
            "card_id": card.card_id,
            "card_number": card.masked_number(),
            "card_status": new_status,
            "available_balance": card.card_limit,
            "currency": card.card_currency,
            "update_reason": reason,
            "update_time": uqpay_time(now),
        });
        send_webhook(&state, "card.status.update.succeeded", &order_id, data);
    });
}
