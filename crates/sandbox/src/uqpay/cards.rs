//! The cards and card orders the UQPAY simulator created, and how they look on the wire
//! (retrieve-card object, card order object, webhook `data`).

use super::wire::uqpay_time;
use crate::fixtures::{UqpayCardholder, UqpayProduct};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// One card and its create order.
#[derive(Debug, Clone)]
pub struct Card {
    pub card_id: String,
    pub card_order_id: String,
    pub client_id: String,
    pub product: UqpayProduct,
    pub cardholder: UqpayCardholder,
    pub card_currency: String,
    /// `card_limit` as sent (a JSON number), 0 when omitted.
    pub card_limit: Value,
    pub metadata: Value,
    pub spending_controls: Value,
    pub risk_controls: Value,
    pub usage_type: String,
    pub auto_cancel_trigger: Option<String>,
    pub card_status: String,
    pub order_status: String,
    pub last4: String,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub complete_time: Option<DateTime<Utc>>,
}

impl Card {
    /// `40963608****1764`.
    pub fn masked_number(&self) -> String {
        format!("{}****{}", self.product.card_bin, self.last4)
    }

    fn limit_string(&self) -> String {
        match &self.card_limit {
            Value::Number(n) => n.to_string(),
            other => other.to_string(),
        }
    }

    /// `GET /v1/issuing/cards/{card_id}` (SDK `RetrieveCardResponse`).
    pub fn retrieve_json(&self) -> Value {
        json!({
            "card_id": self.card_id,
            "card_bin": self.product.card_bin,
            "card_scheme": self.product.card_scheme,
            "card_currency": self.card_currency,
            "card_number": self.masked_number(),
            "form_factor": "VIRTUAL",
            "mode_type": self.product.mode_type,
            "card_product_id": self.product.product_id,
            "card_limit": self.card_limit,
            "available_balance": self.card_limit,
            "cardholder": {
                "cardholder_id": self.cardholder.cardholder_id,
                "email": self.cardholder.email,
                "first_name": self.cardholder.first_name,
                "last_name": self.cardholder.last_name,
                "cardholder_status": self.cardholder.cardholder_status,
            },
            "spending_controls": self.spending_controls,
            "risk_controls": self.risk_controls,
            "metadata": self.metadata,
            "usage_type": self.usage_type,
            "auto_cancel_trigger": self.auto_cancel_trigger,
            "card_status": self.card_status,
            "consumed_amount": 0,
            "create_time": uqpay_time(self.create_time),
        })
    }

    /// `GET /v1/issuing/cards/{id}/order`.
    pub fn order_json(&self) -> Value {
        json!({
            "card_id": self.card_id,
            "card_order_id": self.card_order_id,
            "order_type": "CARD_CREATE",
            "amount": self.limit_string(),
            "card_currency": self.card_currency,
            "create_time": uqpay_time(self.create_time),
            "update_time": uqpay_time(self.update_time),
            "complete_time": self.complete_time.map(uqpay_time),
            "order_status": self.order_status,
        })
    }

    /// The `data` of `card.create.succeeded` / `.failed` (seed 003 shape: amounts as strings,
    /// `risk_control`, `spending_limits`).
    pub fn webhook_data(&self) -> Value {
        let spending_limits: Vec<Value> = self
            .spending_controls
            .as_array()
            .map(|controls| {
                controls
                    .iter()
                    .map(|c| {
                        let amount = match &c["amount"] {
                            Value::Number(n) => n.to_string(),
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        json!({ "amount": amount, "interval": c["interval"] })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let risk = |key: &str| {
            self.risk_controls
                .get(key)
                .cloned()
                .unwrap_or_else(|| json!("Y"))
        };
        json!({
            "card_available_balance": self.limit_string(),
            "card_bin": self.product.card_bin,
            "card_id": self.card_id,
            "card_number": self.masked_number(),
            "card_product_id": self.product.product_id,
            "card_scheme": self.product.card_scheme,
            "card_status": self.card_status,
            "order_status": self.order_status,
            "cardholder": {
                "cardholder_id": self.cardholder.cardholder_id,
                "cardholder_status": self.cardholder.cardholder_status,
                "create_time": uqpay_time(self.create_time),
                "email": self.cardholder.email,
                "first_name": self.cardholder.first_name,
                "last_name": self.cardholder.last_name,
            },
            "form_factor": "VIRTUAL",
            "metadata": if self.metadata.is_null() { json!({}) } else { self.metadata.clone() },
            "mode_type": self.product.mode_type,
            "risk_control": {
                "enable_3ds": risk("enable_3ds"),
                "allow_3ds_transactions": risk("allow_3ds_transactions"),
            },
            "spending_limits": spending_limits,
        })
    }
}

#[derive(Debug, Default)]
struct Inner {
    cards: Vec<Card>,
    by_id: HashMap<String, usize>,
    by_order: HashMap<String, usize>,
}

/// Every card, in creation order.
#[derive(Debug, Default)]
pub struct CardStore {
    inner: Mutex<Inner>,
}

impl CardStore {
    /// Stores a new card.
    pub fn insert(&self, card: Card) {
        let mut inner = self.inner.lock().expect("uqpay cards lock");
        let index = inner.cards.len();
        inner.by_id.insert(card.card_id.clone(), index);
        inner.by_order.insert(card.card_order_id.clone(), index);
        inner.cards.push(card);
    }

    /// The card with this id.
    pub fn get(&self, card_id: &str) -> Option<Card> {
        let inner = self.inner.lock().expect("uqpay cards lock");
        inner.by_id.get(card_id).map(|&i| inner.cards[i].clone())
    }

    /// The card whose create order has this id (or, leniently, whose card id it is).
    pub fn get_by_order(&self, id: &str) -> Option<Card> {
        let inner = self.inner.lock().expect("uqpay cards lock");
        inner
            .by_order
            .get(id)
            .or_else(|| inner.by_id.get(id))
            .map(|&i| inner.cards[i].clone())
    }

    /// Applies `f` to a card and returns the updated copy.
    pub fn update(&self, card_id: &str, f: impl FnOnce(&mut Card)) -> Option<Card> {
        let mut inner = self.inner.lock().expect("uqpay cards lock");
        let i = *inner.by_id.get(card_id)?;
        f(&mut inner.cards[i]);
        Some(inner.cards[i].clone())
    }

    /// The cards of `client_id` matching `keep`, in creation order.
    pub fn list(&self, client_id: &str, keep: impl Fn(&Card) -> bool) -> Vec<Card> {
        let inner = self.inner.lock().expect("uqpay cards lock");
        inner
            .cards
            .iter()
            .filter(|c| c.client_id == client_id && keep(c))
            .cloned()
            .collect()
    }
}
