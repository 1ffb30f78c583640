//! What a card consumes on UQPAY's side: a SINGLE-mode card is pre-funded with its
//! `card_limit` from the issuing balance (`insufficient_balance` when short), and every card
//! takes one card from its BIN's pre-allocated pool when the product has one
//! (`insufficient_sub_bin` when empty). A FAILED creation gives both back.
//!
//! [inferred] Both codes are `invalid_request_error`, HTTP 400 (UQPAY names the codes but
//! publishes no table).

use super::validate::ValidCreate;
use super::wire::ApiError;
use crate::fixtures::Fixtures;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug)]
struct Inner {
    balance_cents: i64,
    pools: HashMap<String, u32>,
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
            }),
        }
    }

    /// Takes what a new card needs, or says what is missing.
    pub fn take(&self, v: &ValidCreate) -> Result<(), ApiError> {
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
        inner.balance_cents -= needed;
        Ok(())
    }

    /// Gives back what a failed card took.
    pub fn give_back(&self, product_id: &str, mode_type: &str, card_limit: &Value) {
        let mut inner = self.inner.lock().expect("funds lock");
        if mode_type == "SINGLE" {
            inner.balance_cents += limit_cents(card_limit);
        }
        if let Some(pool) = inner.pools.get_mut(product_id) {
            *pool += 1;
        }
    }
}
