//! UQPAY's sandbox simulator for card use, and the card transactions it makes:
//! `POST /v1/simulation/issuing/authorization` (`{card_id, transaction_amount,
//! transaction_currency, merchant_name, merchant_category_code}`), `POST
//! /v1/simulation/issuing/reversal` (`{transaction_id}`), both with `x-idempotency-key`, and
//! `GET /v1/issuing/transactions[/{id}]` (`card_id` filter, pages, newest first). An approved
//! authorization sends a signed `issuing.transaction.authorization`.
//!
//! Sandbox choices where the spec is silent [inferred]:
//! - An authorization is `APPROVED` when the card is `ACTIVE` and the amount is at most what it
//!   can spend: a SINGLE-mode card's own balance, or for a SHARE-mode card the issuing balance
//!   (debited as an `ISSUING_AUTHORIZATION` movement). Otherwise it is recorded `DECLINED` with
//!   a `failure_reason` (`CARD_NOT_ACTIVE`, `INSUFFICIENT_BALANCE`).
//! - No FX: the billing amount is the transaction amount, in the card's currency.
//! - A reversal undoes an approved authorization once (`REVERSAL`, the original's id in
//!   `original_transaction_id`); anything else is `invalid_request`.
//! - Answers carry amounts as numbers (the SDKs' `AuthorizationResponse`), lists as strings
//!   (their `Transaction`).

use super::Uqpay;
use super::cards::{Card, amount_value};
use super::idempotency::{fingerprint, keyed_write};
use super::lifecycle::send_webhook;
use super::lookup::{card_not_found, page, paginate, read};
use super::wire::{ApiError, missing_text, parse_body, text, uqpay_time};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One card transaction.
#[derive(Debug, Clone)]
struct Txn {
    transaction_id: String,
    client_id: String,
    card_id: String,
    card_number: String,
    cardholder_id: String,
    kind: &'static str,
    status: &'static str,
    failure_reason: Option<&'static str>,
    amount_cents: i64,
    currency: String,
    available_after_cents: i64,
    authorization_code: String,
    original_transaction_id: Option<String>,
    reversed: bool,
    merchant: Value,
    at: DateTime<Utc>,
}

impl Txn {
    /// The simulator's answer (the SDKs' `AuthorizationResponse`: amounts as numbers).
    fn answer_json(&self) -> Value {
        json!({
            "card_id": self.card_id,
            "card_number": self.card_number,
            "cardholder_id": self.cardholder_id,
            "transaction_id": self.transaction_id,
            "transaction_type": self.kind,
            "card_available_balance": amount_value(self.available_after_cents),
            "authorization_code": self.authorization_code,
            "billing_amount": amount_value(self.amount_cents),
            "billing_currency": self.currency,
            "transaction_amount": amount_value(self.amount_cents),
            "transaction_currency": self.currency,
            "transaction_time": uqpay_time(self.at),
            "posted_time": uqpay_time(self.at),
            "merchant_data": self.merchant,
            "failure_reason": self.failure_reason.unwrap_or_default(),
            "transaction_status": self.status,
        })
    }

    /// A transaction as listed and read (the SDKs' `Transaction`: amounts as strings).
    fn list_json(&self) -> Value {
        let text = |cents: i64| amount_value(cents).to_string();
        json!({
            "transaction_id": self.transaction_id,
            "short_transaction_id": self.transaction_id[..8].to_uppercase(),
            "card_id": self.card_id,
            "card_number": self.card_number,
            "cardholder_id": self.cardholder_id,
            "transaction_type": self.kind,
            "transaction_amount": text(self.amount_cents),
            "transaction_currency": self.currency,
            "billing_amount": text(self.amount_cents),
            "billing_currency": self.currency,
            "transaction_fee": "0",
            "transaction_fee_currency": self.currency,
            "fee_pass_through": "N",
            "card_available_balance": text(self.available_after_cents),
            "authorization_code": self.authorization_code,
            "original_transaction_id": self.original_transaction_id.clone().unwrap_or_default(),
            "transaction_status": self.status,
            "transaction_time": uqpay_time(self.at),
            "posted_time": uqpay_time(self.at),
            "merchant_data": self.merchant,
            "description": self.failure_reason.unwrap_or_default(),
        })
    }
}

/// Every card transaction, oldest first.
#[derive(Debug, Default)]
pub struct TransactionStore {
    txns: Mutex<Vec<Txn>>,
}

/// `POST /v1/simulation/issuing/authorization`.
pub async fn authorize(
    State(uqpay): State<Arc<Uqpay>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    keyed_write(&uqpay, &headers, fingerprint(&body), |client| {
        let request = parse_body(&body)?;
        let mut missing = missing_text(
            &request,
            &["card_id", "transaction_currency", "merchant_name"],
        );
        if request.get("transaction_amount").is_none() {
            missing.push("transaction_amount".into());
        }
        if !missing.is_empty() {
            return Err(ApiError::missing(missing));
        }
        let cents = amount_cents(&request["transaction_amount"])?;
        let card_id = text(&request, "card_id").unwrap_or_default();
        let card = uqpay
            .cards
            .get(card_id)
            .filter(|c| c.client_id == client)
            .ok_or_else(card_not_found)?;
        let merchant = json!({
            "name": text(&request, "merchant_name"),
            "category_code": text(&request, "merchant_category_code"),
        });
        let txn = spend(&uqpay, client, &card, cents, merchant);
        let answer = txn.answer_json();
        if txn.status == "APPROVED" {
            send_webhook(
                &uqpay,
                "issuing.transaction.authorization",
                &txn.transaction_id,
                txn.list_json(),
            );
        }
        uqpay.transactions.txns.lock().expect("txns lock").push(txn);
        Ok(answer)
    })
    .await
}

/// Approves or declines an authorization of `cents` on `card` and moves the money it takes.
fn spend(uqpay: &Uqpay, client: &str, card: &Card, cents: i64, merchant: Value) -> Txn {
    let now = uqpay.core.clock.now();
    let mut txn = Txn {
        transaction_id: uuid::Uuid::new_v4().to_string(),
        client_id: client.to_string(),
        card_id: card.card_id.clone(),
        card_number: card.masked_number(),
        cardholder_id: card.cardholder.cardholder_id.clone(),
        kind: "AUTHORIZATION",
        status: "DECLINED",
        failure_reason: None,
        amount_cents: cents,
        currency: card.card_currency.clone(),
        available_after_cents: 0,
        authorization_code: String::new(),
        original_transaction_id: None,
        reversed: false,
        merchant,
        at: now,
    };
    let outcome = uqpay.cards.apply(&card.card_id, |card| {
        if card.card_status != "ACTIVE" {
            return Err("CARD_NOT_ACTIVE");
        }
        if card.is_single() {
            if card.balance_cents < cents {
                return Err("INSUFFICIENT_BALANCE");
            }
            card.balance_cents -= cents;
            return Ok(card.balance_cents);
        }
        let description = format!("authorization on card {}", card.card_id);
        uqpay
            .funds
            .debit("ISSUING_AUTHORIZATION", cents, now, description)
            .map(|()| uqpay.funds.balance_cents())
            .map_err(|_| "INSUFFICIENT_BALANCE")
    });
    match outcome {
        Some(Ok(available)) => {
            txn.status = "APPROVED";
            txn.available_after_cents = available;
            txn.authorization_code = txn.transaction_id[..6].to_uppercase();
        }
        Some(Err(reason)) => txn.failure_reason = Some(reason),
        None => txn.failure_reason = Some("CARD_NOT_ACTIVE"),
    }
    txn
}

/// `POST /v1/simulation/issuing/reversal`.
pub async fn reverse(
    State(uqpay): State<Arc<Uqpay>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    keyed_write(&uqpay, &headers, fingerprint(&body), |client| {
        let request = parse_body(&body)?;
        let id = request
            .get("transaction_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::missing(vec!["transaction_id".into()]))?;
        let now = uqpay.core.clock.now();
        let mut txns = uqpay.transactions.txns.lock().expect("txns lock");
        let original = txns
            .iter_mut()
            .find(|t| t.transaction_id == id && t.client_id == client)
            .ok_or_else(transaction_not_found)?;
        if original.kind != "AUTHORIZATION" || original.status != "APPROVED" || original.reversed {
            return Err(ApiError::invalid(
                "invalid_request",
                "only an approved authorization not yet reversed can be reversed",
            ));
        }
        original.reversed = true;
        let original = original.clone();
        let cents = original.amount_cents;
        let available = uqpay
            .cards
            .apply(&original.card_id, |card| {
                if card.is_single() {
                    card.balance_cents += cents;
                    Ok::<_, ()>(card.balance_cents)
                } else {
                    let description = format!("reversal on card {}", card.card_id);
                    uqpay
                        .funds
                        .credit("ISSUING_REVERSAL", cents, now, description);
                    Ok(uqpay.funds.balance_cents())
                }
            })
            .and_then(Result::ok)
            .unwrap_or_default();
        let reversal = Txn {
            transaction_id: uuid::Uuid::new_v4().to_string(),
            kind: "REVERSAL",
            status: "APPROVED",
            available_after_cents: available,
            original_transaction_id: Some(original.transaction_id.clone()),
            at: now,
            ..original
        };
        let answer = reversal.answer_json();
        txns.push(reversal);
        Ok(answer)
    })
    .await
}

fn transaction_not_found() -> ApiError {
    ApiError::not_found(
        StatusCode::NOT_FOUND,
        "transaction_not_found",
        "Transaction does not exist",
    )
}

/// `GET /v1/issuing/transactions`.
pub async fn list_transactions(
    State(uqpay): State<Arc<Uqpay>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    read(&uqpay, &headers, |client| {
        let page = page(&query)?;
        let card = query.get("card_id").filter(|v| !v.is_empty());
        let listed = uqpay
            .transactions
            .txns
            .lock()
            .expect("txns lock")
            .iter()
            .rev()
            .filter(|t| t.client_id == client && card.is_none_or(|c| *c == t.card_id))
            .map(Txn::list_json)
            .collect();
        Ok(paginate(listed, &page))
    })
    .await
}

/// `GET /v1/issuing/transactions/{id}`.
pub async fn get_transaction(
    State(uqpay): State<Arc<Uqpay>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    read(&uqpay, &headers, |client| {
        uqpay
            .transactions
            .txns
            .lock()
            .expect("txns lock")
            .iter()
            .find(|t| t.transaction_id == id && t.client_id == client)
            .map(Txn::list_json)
            .ok_or_else(transaction_not_found)
    })
    .await
}

/// `transaction_amount` in cents: a number above 0 with at most two decimals.
fn amount_cents(amount: &Value) -> Result<i64, ApiError> {
    super::recharge::amount_cents(&json!({ "amount": amount })).map_err(|_| {
        ApiError::invalid(
            "invalid_request",
            format!("transaction_amount must be a number above 0 with at most two decimals, not {amount}"),
        )
    })
}
