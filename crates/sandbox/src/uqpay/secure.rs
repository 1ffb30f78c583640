//! A card's secure data as UQPAY serves it to a PCI-compliant client: `GET
//! /v1/issuing/cards/{card_id}/secure` (`{card_number, cvv, expire_date}`) and `POST
//! /v1/issuing/cards/{card_id}/token` (a one-time token for UQPAY's secure iframe, `{token,
//! expires_in: 60, expires_at}`).
//!
//! The sandbox makes test values, never stores them and logs nothing of them: the number is
//! derived from the card id on each read, starts with the product's BIN, ends with the card's
//! last four digits (so it matches the masked `card_number` everywhere else) and passes the
//! Luhn check; the CVV comes from the same digest; the expiry is three years after creation.
//!
//! Sandbox choices where the spec is silent [inferred]: only an `ACTIVE` or `FROZEN` card has
//! them (`invalid_card_status` otherwise: a `PENDING` card has no number yet); `expire_date` is
//! `MM/YY`; the token is not checked anywhere (the iframe is UQPAY's page).

use super::Uqpay;
use super::cards::Card;
use super::lookup::{card_not_found, read};
use super::wire::{ApiError, uqpay_time};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use chrono::{Datelike, TimeDelta};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
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
        Ok(json!({
            "card_number": card_number(&card),
            "cvv": cvv(&card),
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

/// Decimal digits drawn from the card id's SHA-256.
fn digits(card: &Card, salt: &str) -> impl Iterator<Item = u8> {
    let digest = Sha256::digest(format!("{salt}:{}", card.card_id));
    digest
        .into_iter()
        .map(|b| b % 10)
        .collect::<Vec<_>>()
        .into_iter()
}

/// 16 digits: the BIN, test digits, one digit that makes the Luhn check pass, the last four.
fn card_number(card: &Card) -> String {
    let bin = &card.product.card_bin;
    let mut number: Vec<u8> = bin.bytes().map(|b| b - b'0').collect();
    number.extend(digits(card, "pan").take(11usize.saturating_sub(number.len())));
    number.push(0);
    number.extend(card.last4.bytes().map(|b| b - b'0'));
    // Position 11 of 16 is not doubled by Luhn, so it adds itself to the sum.
    let sum: u32 = luhn_sum(&number);
    number[11] = u8::try_from((10 - sum % 10) % 10).expect("a digit");
    number.into_iter().map(|d| char::from(b'0' + d)).collect()
}

/// The Luhn sum of `number` (its last digit the check digit).
fn luhn_sum(number: &[u8]) -> u32 {
    number
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            match (i % 2 == 1, d * 2) {
                (true, doubled) if doubled > 9 => doubled - 9,
                (true, doubled) => doubled,
                (false, _) => d,
            }
        })
        .sum()
}

fn cvv(card: &Card) -> String {
    digits(card, "cvv")
        .take(3)
        .map(|d| char::from(b'0' + d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_luhn_sum_of_a_known_test_number_is_a_multiple_of_ten_and_a_changed_digit_is_not() {
        let digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert_eq!(luhn_sum(&digits("4000009990000096")) % 10, 0);
        assert_eq!(luhn_sum(&digits("4111111111111111")) % 10, 0);
        assert_ne!(luhn_sum(&digits("4111111111111121")) % 10, 0);
    }
}
