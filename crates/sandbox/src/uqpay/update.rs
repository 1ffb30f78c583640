//! `POST /v1/issuing/cards/{card_id}` (update card): `card_limit`, `no_pin_payment_amount`,
//! `spending_controls`, `risk_controls`, `metadata`, with `x-idempotency-key`. The answer is the
//! SDKs' `CreateCardResponse` (`{card_id, card_order_id, create_time, card_status,
//! order_status: "PROCESSING"}`); after `lifecycle_delay_ms` (scaled) the card changes, its
//! `CARD_UPDATE` order is `SUCCESS` and a signed `card.update.succeeded` carries the card.
//!
//! Sandbox choices where the spec is silent [inferred]:
//! - Each field is checked as on create; a body with none of them is `invalid_request`.
//! - A SINGLE-mode card's `card_limit` is its funding: refused (`card_limit_not_updatable`);
//!   recharge or withdraw instead.
//! - The card must be `ACTIVE` or `FROZEN` (`invalid_card_status`).
//! - `metadata` replaces the card's metadata; the sandbox ledger keeps the references the card
//!   was created with.

use super::Uqpay;
use super::cards::{Card, CardOrder};
use super::idempotency::{fingerprint_for, keyed_write};
use super::lifecycle::send_webhook;
use super::lookup::card_not_found;
use super::validate::{
    validate_limit, validate_metadata, validate_risk_controls, validate_spending_controls,
};
use super::wire::{ApiError, parse_body, uqpay_time};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The fields an update may change.
const FIELDS: [&str; 5] = [
    "card_limit",
    "no_pin_payment_amount",
    "spending_controls",
    "risk_controls",
    "metadata",
];

/// The handler.
pub async fn update_card(
    State(uqpay): State<Arc<Uqpay>>,
    Path(card_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
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
    let card = uqpay
        .cards
        .get(card_id)
        .filter(|c| c.client_id == client)
        .ok_or_else(card_not_found)?;
    let changes = checked_changes(&card, &request)?;
    let now = uqpay.core.clock.now();
    let order = CardOrder {
        card_order_id: uuid::Uuid::new_v4().to_string(),
        card_id: card_id.to_string(),
        order_type: "CARD_UPDATE",
        amount_cents: 0,
        card_currency: card.card_currency.clone(),
        order_status: "PROCESSING",
        create_time: now,
        update_time: now,
        complete_time: None,
    };
    let order_id = order.card_order_id.clone();
    let status = uqpay
        .cards
        .apply_with_order(
            card_id,
            |card| may_update(card).map(|()| card.card_status.clone()),
            order,
        )
        .ok_or_else(card_not_found)??;
    schedule(uqpay, order_id.clone(), changes);
    Ok(json!({
        "card_id": card_id,
        "card_order_id": order_id,
        "create_time": uqpay_time(now),
        "card_status": status,
        "order_status": "PROCESSING",
    }))
}

/// The fields to set, each checked as on create.
fn checked_changes(card: &Card, request: &Value) -> Result<Vec<(&'static str, Value)>, ApiError> {
    if !request.is_object() {
        return Err(ApiError::invalid(
            "invalid_request",
            "request body must be a JSON object",
        ));
    }
    let mut changes = Vec::new();
    for field in FIELDS {
        let Some(given) = request.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        let value = match field {
            "card_limit" if card.is_single() => {
                return Err(ApiError::invalid(
                    "card_limit_not_updatable",
                    "A SINGLE mode card's card_limit is its funding: recharge or withdraw instead",
                ));
            }
            "card_limit" => validate_limit(&card.product, Some(given))?,
            "no_pin_payment_amount" if given.as_f64().is_some_and(|v| v >= 0.0) => given.clone(),
            "no_pin_payment_amount" => {
                return Err(ApiError::invalid(
                    "invalid_request",
                    "no_pin_payment_amount must be a number of at least 0",
                ));
            }
            "spending_controls" => validate_spending_controls(Some(given))?,
            "risk_controls" => validate_risk_controls(Some(given))?,
            _ => validate_metadata(Some(given))?,
        };
        changes.push((field, value));
    }
    if changes.is_empty() {
        return Err(ApiError::invalid(
            "invalid_request",
            format!("nothing to update: give one of {}", FIELDS.join(", ")),
        ));
    }
    Ok(changes)
}

/// A card that can be updated: `ACTIVE` or `FROZEN`.
fn may_update(card: &Card) -> Result<(), ApiError> {
    if matches!(card.card_status.as_str(), "ACTIVE" | "FROZEN") {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "invalid_card_status",
            format!("Card status {} does not allow an update", card.card_status),
        ))
    }
}

/// Applies the changes after the configured delay, then sends `card.update.succeeded`.
fn schedule(uqpay: &Arc<Uqpay>, order_id: String, changes: Vec<(&'static str, Value)>) {
    let delay = Duration::from_millis(uqpay.settings().lifecycle_delay_ms);
    let state = Arc::clone(uqpay);
    uqpay.core.after(delay, async move {
        let now = state.core.clock.now();
        let Some((card, order)) = state.cards.complete_order(&order_id, now, |card, _| {
            for (field, value) in changes {
                match field {
                    "card_limit" => card.card_limit = value,
                    "no_pin_payment_amount" => card.no_pin_payment_amount = value,
                    "spending_controls" => card.spending_controls = value,
                    "risk_controls" => card.risk_controls = value,
                    _ => card.metadata = value,
                }
            }
        }) else {
            return;
        };
        send_webhook(
            &state,
            "card.update.succeeded",
            &order.card_order_id,
            card.webhook_data(),
        );
    });
}
