//! The issuing balance, as the SDKs read it: `GET /v1/issuing/balances` (pages), `POST
//! /v1/issuing/balances` `{"currency"}` (one balance: UQPAY's retrieve is a POST), `GET
//! /v1/issuing/balances/transactions` (its movements, newest first). Card transactions are in
//! `simulator.rs`.
//!
//! Sandbox choices [inferred]: one account, one USD balance (the fixtures'
//! `issuing_balance_cents`), moved by SINGLE-mode cards and by the simulated use of SHARE-mode
//! ones (`funds.rs`); another currency is 404 `not_found` `balance_not_found`.

use super::Uqpay;
use super::auth::ACCOUNT_ID;
use super::funds::BALANCE_CURRENCY;
use super::lookup::{page, paginate, read};
use super::wire::{ApiError, parse_body};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// `GET /v1/issuing/balances`.
pub async fn list_balances(
    State(uqpay): State<Arc<Uqpay>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    read(&uqpay, &headers, |_| {
        Ok(paginate(vec![uqpay.funds.balance_json()], &page(&query)?))
    })
    .await
}

/// `POST /v1/issuing/balances` with `{"currency": "USD"}`.
pub async fn retrieve_balance(
    State(uqpay): State<Arc<Uqpay>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    read(&uqpay, &headers, |_| {
        let request = parse_body(&body)?;
        let currency = request
            .get("currency")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ApiError::missing(vec!["currency".into()]))?;
        if currency != BALANCE_CURRENCY {
            return Err(ApiError::not_found(
                StatusCode::NOT_FOUND,
                "balance_not_found",
                format!("No issuing balance in {currency}"),
            ));
        }
        Ok(uqpay.funds.balance_json())
    })
    .await
}

/// `GET /v1/issuing/balances/transactions`.
pub async fn list_balance_transactions(
    State(uqpay): State<Arc<Uqpay>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    read(&uqpay, &headers, |_| {
        let page = page(&query)?;
        Ok(paginate(uqpay.funds.movements_json(ACCOUNT_ID), &page))
    })
    .await
}
