//! `POST /v1/issuing/cards/{card_id}/recharge` and `.../withdraw` (`{"amount": 100.50}`, with
//! `x-idempotency-key`): money between the issuing balance and a SINGLE-mode card. The answer is
//! the SDKs' `CardOrder` (`order_type` `CARD_RECHARGE` / `CARD_WITHDRAW`, `order_status:
//! "PROCESSING"`); after `lifecycle_delay_ms` (scaled) the order is `SUCCESS` (`GET
//! /v1/issuing/cards/{card_order_id}/order`), and a recharge sends a signed
//! `card.recharge.succeeded` whose `source_id` is the order.
//!
//! Sandbox choices where the spec is silent [inferred]:
//! - Only a SINGLE-mode card has a balance of its own; a SHARE-mode card (it draws on the issuing
//!   balance) is refused with 400 `invalid_request_error` `card_mode_not_supported`.
//! - The card must be `ACTIVE` or `FROZEN` (`invalid_card_status`).
//! - `amount`: a number (or a numeric string) above 0 with at most two decimals
//!   (`invalid_amount`); other fields (the SDK's tests send `currency`) are ignored, the card's
//!   currency applies.
//! - A recharge takes the amount from the issuing balance at once (`insufficient_balance`) and
//!   adds it to the card when it completes; a withdrawal takes it from the card at once
//!   (`insufficient_card_balance`) and credits the issuing balance when it completes. Money is
//!   never in two places, and two withdrawals at once cannot overdraw a card.
//! - UQPAY documents no withdrawal webhook; none is sent.

use super::Uqpay;
use super::cards::{Card, CardOrder, amount_value};
use super::idempotency::{fingerprint_for, keyed_write};
use super::lifecycle::send_webhook;
use super::lookup::card_not_found;
use super::wire::{ApiError, parse_body, uqpay_time};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Which way the money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Issuing balance -> card.
    Recharge,
    /// Card -> issuing balance.
    Withdraw,
}

impl Direction {
    fn order_type(self) -> &'static str {
        match self {
            Direction::Recharge => "CARD_RECHARGE",
            Direction::Withdraw => "CARD_WITHDRAW",
        }
    }
}

/// `POST /v1/issuing/cards/{card_id}/recharge`.
pub async fn recharge(
    State(uqpay): State<Arc<Uqpay>>,
    Path(card_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    move_money(uqpay, card_id, headers, body, Direction::Recharge).await
}

/// `POST /v1/issuing/cards/{card_id}/withdraw`.
pub async fn withdraw(
    State(uqpay): State<Arc<Uqpay>>,
    Path(card_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    move_money(uqpay, card_id, headers, body, Direction::Withdraw).await
}

async fn move_money(
    uqpay: Arc<Uqpay>,
    card_id: String,
    headers: HeaderMap,
    body: Bytes,
    direction: Direction,
) -> Result<Response, ApiError> {
    // A recharge and a withdrawal of one card under one key are different requests.
    let resource = format!("{card_id}/{}", direction.order_type());
    keyed_write(
        &uqpay,
        &headers,
        fingerprint_for(&resource, &body),
        |client| accept(&uqpay, client, &card_id, &body, direction),
    )
    .await
}

/// Checks the request, moves the money that leaves at once and schedules the completion.
fn accept(
    uqpay: &Arc<Uqpay>,
    client: &str,
    card_id: &str,
    body: &[u8],
    direction: Direction,
) -> Result<Value, ApiError> {
    let cents = amount_cents(&parse_body(body)?)?;
    let card = uqpay
        .cards
        .get(card_id)
        .filter(|c| c.client_id == client)
        .ok_or_else(card_not_found)?;
    let now = uqpay.core.clock.now();
    let order = CardOrder {
        card_order_id: uuid::Uuid::new_v4().to_string(),
        card_id: card_id.to_string(),
        order_type: direction.order_type(),
        amount_cents: cents,
        card_currency: card.card_currency.clone(),
        order_status: "PROCESSING",
        create_time: now,
        update_time: now,
        complete_time: None,
    };
    let answer = order.to_json();
    let order_id = order.card_order_id.clone();
    // Checked and taken under the card store's lock: no other move of this card interleaves.
    uqpay
        .cards
        .apply_with_order(
            card_id,
            |card| {
                may_move_money(card)?;
                match direction {
                    Direction::Recharge => uqpay.funds.debit(
                        "CARD_RECHARGE",
                        cents,
                        now,
                        format!("recharge of card {card_id}"),
                    ),
                    Direction::Withdraw if card.balance_cents < cents => Err(ApiError::invalid(
                        "insufficient_card_balance",
                        format!(
                            "The card's available balance {} is less than {}",
                            amount_value(card.balance_cents),
                            amount_value(cents)
                        ),
                    )),
                    Direction::Withdraw => {
                        card.balance_cents -= cents;
                        Ok(())
                    }
                }
            },
            order,
        )
        .ok_or_else(card_not_found)??;
    schedule(uqpay, order_id, direction);
    Ok(answer)
}

/// A card that can take or give money: SINGLE mode, `ACTIVE` or `FROZEN`.
fn may_move_money(card: &Card) -> Result<(), ApiError> {
    if !card.is_single() {
        return Err(ApiError::invalid(
            "card_mode_not_supported",
            "Only SINGLE mode cards have a balance to recharge or withdraw; SHARE mode cards use the issuing balance",
        ));
    }
    if !matches!(card.card_status.as_str(), "ACTIVE" | "FROZEN") {
        return Err(ApiError::invalid(
            "invalid_card_status",
            format!("Card status {} does not allow this", card.card_status),
        ));
    }
    Ok(())
}

/// `amount` in cents: a number or numeric string above 0, at most two decimals.
pub(super) fn amount_cents(body: &Value) -> Result<i64, ApiError> {
    let text = match body.get("amount") {
        None | Some(Value::Null) => return Err(ApiError::missing(vec!["amount".into()])),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => return Err(invalid_amount(other)),
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let fraction = fraction.trim_end_matches('0');
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(fraction.is_empty() || digits(fraction)) || fraction.len() > 2 {
        return Err(invalid_amount(&Value::String(text)));
    }
    let cents = whole
        .parse::<i64>()
        .ok()
        .and_then(|w| w.checked_mul(100))
        .and_then(|w| w.checked_add(format!("{fraction:0<2}").parse::<i64>().ok()?))
        .filter(|c| *c > 0)
        .ok_or_else(|| invalid_amount(&Value::String(text.clone())))?;
    Ok(cents)
}

fn invalid_amount(given: &Value) -> ApiError {
    ApiError::invalid(
        "invalid_amount",
        format!("amount must be a number above 0 with at most two decimals, not {given}"),
    )
}

/// Completes the order after the configured delay: the money arrives where it goes.
fn schedule(uqpay: &Arc<Uqpay>, order_id: String, direction: Direction) {
    let delay = Duration::from_millis(uqpay.settings().lifecycle_delay_ms);
    let state = Arc::clone(uqpay);
    uqpay.core.after(delay, async move {
        let now = state.core.clock.now();
        let Some((card, order)) = state.cards.complete_order(&order_id, now, |card, order| {
            if direction == Direction::Recharge {
                card.balance_cents += order.amount_cents;
            }
        }) else {
            return;
        };
        match direction {
            Direction::Withdraw => state.funds.credit(
                "CARD_WITHDRAW",
                order.amount_cents,
                now,
                format!("withdrawal from card {}", card.card_id),
            ),
            Direction::Recharge => {
                // The SDKs' `CardRechargeData`: amounts as strings.
                let data = json!({
                    "card_id": card.card_id,
                    "amount": amount_value(order.amount_cents).to_string(),
                    "card_currency": card.card_currency,
                    "card_available_balance": amount_value(card.balance_cents).to_string(),
                    "card_status": card.card_status,
                    "order_status": order.order_status,
                    "complete_time": uqpay_time(now),
                    "update_time": uqpay_time(now),
                });
                send_webhook(
                    &state,
                    "card.recharge.succeeded",
                    &order.card_order_id,
                    data,
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_to_the_cent_and_anything_else_is_refused() {
        let cents = |v: Value| amount_cents(&json!({ "amount": v }));
        assert_eq!(cents(json!(100.5)), Ok(10_050));
        assert_eq!(cents(json!("10.00")), Ok(1_000));
        assert_eq!(cents(json!(1)), Ok(100));
        assert_eq!(cents(json!(0.01)), Ok(1));
        for bad in [
            json!(0),
            json!(-5),
            json!(1.234),
            json!("ten"),
            json!(".5"),
            json!(true),
        ] {
            assert!(
                matches!(
                    cents(bad.clone()),
                    Err(ApiError::Typed {
                        code: "invalid_amount",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            amount_cents(&json!({})),
            Err(ApiError::missing(vec!["amount".into()]))
        );
    }
}
