//! The money movements on cards (deposits, refunds, the balance a cancellation gives back) as
//! `/open/api/card/trade/list` shows them, and the order numbers deposits and refunds used.
//!
//! [inferred] The spec gives the record's fields only (§6). Each movement is one record: `desp`
//! `"Deposit"`, `"Refund"` or `"Cancel refund"`, `amount` in positive cents (`desp` says the
//! direction), `reason` `null`, `status` `"SUCCESS"`, `tradeAt` in seconds (as `gmtCreate`),
//! `transactionId` `t_` and 32 hex digits. A card's initial deposit is not a record: info's
//! `deposit` and the `CREATE_CARD` callback report it.

use super::cards::Card;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

/// What moved money on a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Movement {
    /// Merchant balance -> card (`/open/api/card/deposit`).
    Deposit,
    /// Card -> merchant balance (`/open/api/card/withdraw/refund`).
    Refund,
    /// The card's whole balance -> merchant balance (`/open/api/card/cancel`).
    Cancel,
}

impl Movement {
    fn desp(self) -> &'static str {
        match self {
            Movement::Deposit => "Deposit",
            Movement::Refund => "Refund",
            Movement::Cancel => "Cancel refund",
        }
    }
}

/// One money movement on a card.
#[derive(Debug, Clone)]
pub struct Trade {
    pub transaction_id: String,
    pub movement: Movement,
    pub amount_cents: i64,
    pub currency: String,
    pub trade_at_secs: i64,
}

impl Trade {
    /// A record of `trade/list` for this movement on `card`: the card's last four digits once
    /// the issuer has made it, never its number.
    pub fn record(&self, card: &Card) -> Value {
        json!({
            "transactionId": self.transaction_id, "cardId": card.card_id,
            "cardSeqNo": card.card_seq_no,
            "cardLast4": card.issued().then(|| card.secrets.last4()),
            "desp": self.movement.desp(), "reason": null, "amount": self.amount_cents,
            "currency": self.currency, "status": "SUCCESS", "tradeAt": self.trade_at_secs,
        })
    }
}

/// The movements per card and the order numbers used, per kind of movement and access key.
#[derive(Debug, Default)]
pub struct Book {
    orders: HashSet<(Movement, String, String)>,
    trades: HashMap<String, Vec<Trade>>,
}

impl Book {
    /// Whether `access_key` already used `order_no` for a `movement` that went through.
    pub fn is_used(&self, movement: Movement, access_key: &str, order_no: &str) -> bool {
        self.orders
            .contains(&(movement, access_key.to_string(), order_no.to_string()))
    }

    /// Records a movement on `card` that went through, and its order number when it has one.
    pub fn record(
        &mut self,
        card: &Card,
        movement: Movement,
        amount_cents: i64,
        order_no: Option<&str>,
        trade_at_secs: i64,
    ) {
        if let Some(order_no) = order_no {
            self.orders
                .insert((movement, card.access_key.clone(), order_no.to_string()));
        }
        self.trades
            .entry(card.card_id.clone())
            .or_default()
            .push(Trade {
                transaction_id: format!("t_{}", uuid::Uuid::new_v4().simple()),
                movement,
                amount_cents,
                currency: card.currency.clone(),
                trade_at_secs,
            });
    }

    /// The movements on a card, oldest first.
    pub fn trades(&self, card_id: &str) -> Vec<Trade> {
        self.trades.get(card_id).cloned().unwrap_or_default()
    }
}
