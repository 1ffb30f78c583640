//! What a card consumes on UQPAY's side: a SINGLE-mode card is pre-funded with its
//! `card_limit` from the issuing balance (`insufficient_balance` when short), and every card
//! takes one card from its BIN's pre-allocated pool when the product has one
//! (`insufficient_sub_bin` when empty). A FAILED creation gives both back.
//!
//! [inferred] Both codes are `invalid_request_error`, HTTP 400 (UQPAY names the codes but
//! publishes no table).
//!
//! The balance (USD, the fixtures' `issuing_balance_cents`) and its movements are what `GET
//! /v1/issuing/balances[/transactions]` show (`balances.rs`): a SINGLE-mode card's funding and
//! its recharges are `CARD_RECHARGE` debits, its withdrawals `CARD_WITHDRAW` credits, a failed
//! card's return a `REFUND` credit [inferred: the SDK lists these types, UQPAY documents no
//! mapping].

use super::validate::ValidCreate;
use super::wire::{ApiError, uqpay_time};
use crate::fixtures::Fixtures;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// The issuing balance's currency.
pub const BALANCE_CURRENCY: &str = "USD";

/// One movement of the issuing balance.
#[derive(Debug, Clone)]
struct Movement {
    id: String,
    kind: &'static str,
    amount_cents: i64,
    ending_cents: i64,
    at: DateTime<Utc>,
    description: String,
}

#[derive(Debug)]
struct Inner {
    balance_cents: i64,
    pools: HashMap<String, u32>,
    opened: DateTime<Utc>,
    movements: Vec<Movement>,
}

/// The issuing balance and the BIN pools.
#[derive(Debug)]
pub struct Funds {
    inner: Mutex<Inner>,
}

/// `card_limit` in cents (it is a decimal amount in the API).
pub fn limit_cents(limit: &Value) -> i64 {
    (limit.as_f64().unwrap_or(0.0) * 100.0).round() as i64
}

impl Funds {
    /// The fixtures' balance and pools.
    pub fn new(fixtures: &Fixtures) -> Funds {
        let pools = fixtures
            .uqpay
            .products
            .iter()
            .filter_map(|p| p.card_pool.map(|n| (p.product_id.clone(), n)))
            .collect();
        Funds {
            inner: Mutex::new(Inner {
                balance_cents: fixtures.uqpay.issuing_balance_cents,
                pools,
                opened: Utc::now(),
                movements: Vec::new(),
            }),
        }
    }

    /// Takes what a new card needs, or says what is missing.
    pub fn take(&self, v: &ValidCreate, now: DateTime<Utc>) -> Result<(), ApiError> {
        let mut inner = self.inner.lock().expect("funds lock");
        let needed = if v.product.mode_type == "SINGLE" {
            limit_cents(&v.card_limit)
        } else {
            0
        };
        if needed > inner.balance_cents {
            return Err(ApiError::invalid(
                "insufficient_balance",
                "Issuing balance is insufficient to fund the card_limit of a SINGLE mode card",
            ));
        }
        if let Some(pool) = inner.pools.get_mut(&v.product.product_id) {
            if *pool == 0 {
                return Err(ApiError::invalid(
                    "insufficient_sub_bin",
                    "The pre-allocated card pool for this BIN is exhausted; contact UQPAY",
                ));
            }
            *pool -= 1;
        }
        if needed > 0 {
            inner.record(
                "CARD_RECHARGE",
                -needed,
                now,
                format!(
                    "card_limit of a SINGLE mode card of product {}",
                    v.product.product_id
                ),
            );
        }
        Ok(())
    }

    /// Takes `cents` from the issuing balance for a card (a recharge), or says it is short.
    pub fn debit(
        &self,
        kind: &'static str,
        cents: i64,
        now: DateTime<Utc>,
        description: String,
    ) -> Result<(), ApiError> {
        let mut inner = self.inner.lock().expect("funds lock");
        if cents > inner.balance_cents {
            return Err(ApiError::invalid(
                "insufficient_balance",
                "Issuing balance is insufficient for this recharge",
            ));
        }
        inner.record(kind, -cents, now, description);
        Ok(())
    }

    /// The issuing balance, in cents.
    pub fn balance_cents(&self) -> i64 {
        self.inner.lock().expect("funds lock").balance_cents
    }

    /// Puts `cents` back on the issuing balance (a withdrawal from a card, a refused recharge).
    pub fn credit(&self, kind: &'static str, cents: i64, now: DateTime<Utc>, description: String) {
        let mut inner = self.inner.lock().expect("funds lock");
        inner.record(kind, cents, now, description);
    }

    /// Gives back what a failed card took.
    pub fn give_back(
        &self,
        product_id: &str,
        mode_type: &str,
        card_limit: &Value,
        now: DateTime<Utc>,
    ) {
        let mut inner = self.inner.lock().expect("funds lock");
        let cents = limit_cents(card_limit);
        if mode_type == "SINGLE" && cents > 0 {
            inner.record(
                "REFUND",
                cents,
                now,
                format!("funding of a failed SINGLE mode card of product {product_id}"),
            );
        }
        if let Some(pool) = inner.pools.get_mut(product_id) {
            *pool += 1;
        }
    }
}

impl Inner {
    /// Moves the balance by `amount_cents` and records it.
    fn record(
        &mut self,
        kind: &'static str,
        amount_cents: i64,
        at: DateTime<Utc>,
        description: String,
    ) {
        self.balance_cents += amount_cents;
        self.movements.push(Movement {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            amount_cents,
            ending_cents: self.balance_cents,
            at,
            description,
        });
    }
}

impl Funds {
    /// The balance's movements between `start` and `end`, oldest first, as CSV (a `LEDGER`
    /// report).
    pub fn ledger_csv(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
        let inner = self.inner.lock().expect("funds lock");
        let mut csv = String::from(
            "transaction_id,transaction_type,currency,amount,ending_balance,create_time,description\n",
        );
        for m in inner
            .movements
            .iter()
            .filter(|m| m.at >= start && m.at <= end)
        {
            csv.push_str(&format!(
                "{},{},{BALANCE_CURRENCY},{},{},{},\"{}\"\n",
                m.id,
                m.kind,
                decimal(m.amount_cents),
                decimal(m.ending_cents),
                uqpay_time(m.at),
                m.description.replace('"', "\"\"")
            ));
        }
        csv
    }
}

/// Cents as UQPAY writes amounts in these objects: a decimal string.
fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

/// The balance's id: fixed, so every read names the same balance.
const BALANCE_ID: &str = "4f8b2c1e-7a3d-4e5f-9b6c-0d1e2f3a4b5c";

impl Funds {
    /// The issuing balance as the SDKs' `IssuingBalance`.
    pub fn balance_json(&self) -> Value {
        let inner = self.inner.lock().expect("funds lock");
        let last_trade = inner.movements.last().map_or(inner.opened, |m| m.at);
        json!({
            "balance_id": BALANCE_ID,
            "currency": BALANCE_CURRENCY,
            "available_balance": decimal(inner.balance_cents),
            "margin_balance": "0.00",
            "frozen_balance": "0.00",
            "create_time": uqpay_time(inner.opened),
            "last_trade_time": uqpay_time(last_trade),
            "balance_status": "ACTIVE",
        })
    }

    /// The balance's movements, newest first, as the SDKs' `IssuingBalanceTransaction`.
    pub fn movements_json(&self, account_id: &str) -> Vec<Value> {
        let inner = self.inner.lock().expect("funds lock");
        inner
            .movements
            .iter()
            .rev()
            .map(|m| {
                json!({
                    "transaction_id": m.id,
                    "short_transaction_id": m.id[..8].to_uppercase(),
                    "account_id": account_id,
                    "balance_id": BALANCE_ID,
                    "transaction_type": m.kind,
                    "currency": BALANCE_CURRENCY,
                    "amount": decimal(m.amount_cents),
                    "create_time": uqpay_time(m.at),
                    "complete_time": uqpay_time(m.at),
                    "transaction_status": "COMPLETED",
                    "ending_balance": decimal(m.ending_cents),
                    "description": m.description,
                })
            })
            .collect()
    }
}
