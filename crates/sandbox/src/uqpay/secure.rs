//! A card's secure data as UQPAY serves it to a PCI-compliant client: `GET
//! /v1/issuing/cards/{card_id}/secure` (`{card_number, cvv, expire_date}`) and `POST
//! /v1/issuing/cards/{card_id}/token` (a one-time token for UQPAY's secure iframe, `{token,
//! expires_in: 60, expires_at}`).
//!
//! The sandbox makes test values ([`TestCardData`]: derived from the card id on each read,
//! never stored or logged; the product's BIN, the card's last four, Luhn-valid); the expiry is
//! three years after creation.
//!
//! Sandbox choices where the spec is silent [inferred]: only an `ACTIVE` or `FROZEN` card has
//! them (`invalid_card_status` otherwise: a `PENDING` card has no number yet); `expire_date` is
//! `MM/YY`; the token is not checked anywhere (the iframe is UQPAY's page).

use super::Uqpay;
use super::cards::Card;
use super::lookup::{card_not_found, read};
use super::wire::{ApiError, uqpay_time};
use crate::core::TestCardData;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use chrono::{Datelike, TimeDelta};
use serde_json::{Value, json};
use std::sync::Arc;

/// How long an iframe token lives, in seconds.
pub const PAN_TOKEN_TTL_SECS: i64 = 60;

/// `GET /v1/issuing/cards/{card_id}/secure`.
pub async fn get_secure(
    State(uqpay): State<Arc<Uqpay>>,
    Path(card_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    read(&uqpay, &headers, |client| {
        let card = issued_card(&uqpay, client, &card_id)?;
        let expiry = card.create_time + TimeDelta::days(3 * 365);
        let data = TestCardData::derive(&card.card_id, &card.product.card_bin, &card.last4);
        Ok(json!({
            "card_number": data.number,
            "cvv": data.cvv,
            "expire_date": format!("{:02}/{:02}", expiry.month(), expiry.year() % 100),
        }))
    })
    .await
}

/// `POST /v1/issuing/cards/{card_id}/token`.
pub async fn create_pan_token(
    State(uqpay): State<Arc<Uqpay>>,
    Path(card_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    read(&uqpay, &headers, |client| {
        issued_card(&uqpay, client, &card_id)?;
        let now = uqpay.core.clock.now();
        Ok(json!({
            "token": uuid::Uuid::new_v4().simple().to_string(),
            "expires_in": PAN_TOKEN_TTL_SECS,
            "expires_at": uqpay_time(now + TimeDelta::seconds(PAN_TOKEN_TTL_SECS)),
        }))
    })
    .await
}

/// The client's card, once it has a number (`ACTIVE` or `FROZEN`).
fn issued_card(uqpay: &Uqpay, client: &str, card_id: &str) -> Result<Card, ApiError> {
    let card = uqpay
        .cards
        .get(card_id)
        .filter(|c| c.client_id == client)
        .ok_or_else(card_not_found)?;
    if !matches!(card.card_status.as_str(), "ACTIVE" | "FROZEN") {
        return Err(ApiError::invalid(
            "invalid_card_status",
            format!("A {} card has no card data", card.card_status),
        ));
    }
    Ok(card)
}
