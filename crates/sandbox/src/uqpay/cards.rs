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
    /// A SINGLE-mode card's own balance, in cents: its funded `card_limit`, moved by recharges
    /// and withdrawals. A SHARE-mode card has none (it draws on the shared issuing balance).
    pub balance_cents: i64,
    pub metadata: Value,
    /// Set by a card update; `Null` until then.
    pub no_pin_payment_amount: Value,
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

    /// Whether the card has a balance of its own (SINGLE mode).
    pub fn is_single(&self) -> bool {
        self.product.mode_type == "SINGLE"
    }

    /// `available_balance`: a SINGLE-mode card's own balance, a SHARE-mode card's limit.
    pub fn available_balance(&self) -> Value {
        if self.is_single() {
            amount_value(self.balance_cents)
        } else {
            self.card_limit.clone()
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
            "available_balance": self.available_balance(),
            "cardholder": {
                "cardholder_id": self.cardholder.cardholder_id,
                "email": self.cardholder.email,
                "first_name": self.cardholder.first_name,
                "last_name": self.cardholder.last_name,
                "cardholder_status": self.cardholder.cardholder_status,
            },
            "spending_controls": self.spending_controls,
            "no_pin_payment_amount": self.no_pin_payment_amount,
            "risk_controls": self.risk_controls,
            "metadata": self.metadata,
            "usage_type": self.usage_type,
            "auto_cancel_trigger": self.auto_cancel_trigger,
            "card_status": self.card_status,
            "consumed_amount": 0,
            "create_time": uqpay_time(self.create_time),
        })
    }

    /// An item of `GET /v1/issuing/cards`: the card as retrieved, but its `metadata` as JSON
    /// text, as UQPAY lists it (the SDKs' response fixtures: `cards.list` carries
    /// `"metadata": "{\"reference\": \"0001\"}"` where `cards.get` has the object).
    pub fn list_item_json(&self) -> Value {
        let mut item = self.retrieve_json();
        item["metadata"] = Value::String(self.metadata.to_string());
        item
    }

    /// `GET /v1/issuing/cards/{id}/order`. A create order's type is `CREATE_CARD`, as the API
    /// reference's example and the SDKs' contract alignment (uqpay 4.0.0) give it; recharges and
    /// withdrawals are `CARD_RECHARGE` / `CARD_WITHDRAW`.
    pub fn order_json(&self) -> Value {
        json!({
            "card_id": self.card_id,
            "card_order_id": self.card_order_id,
            "order_type": "CREATE_CARD",
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
        let available = match self.available_balance() {
            Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        json!({
            "card_available_balance": available,
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

/// Cents as an API amount: a JSON number (`12`, `12.5`).
pub fn amount_value(cents: i64) -> Value {
    if cents % 100 == 0 {
        json!(cents / 100)
    } else {
        json!(cents as f64 / 100.0)
    }
}

/// A card order other than the create: a recharge, a withdrawal or an update.
#[derive(Debug, Clone)]
pub struct CardOrder {
    pub card_order_id: String,
    pub card_id: String,
    /// `CARD_RECHARGE`, `CARD_WITHDRAW` or `CARD_UPDATE`.
    pub order_type: &'static str,
    pub amount_cents: i64,
    pub card_currency: String,
    pub order_status: &'static str,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub complete_time: Option<DateTime<Utc>>,
}

impl CardOrder {
    /// The SDKs' `CardOrder`: the answer to a recharge or withdrawal and what `GET
    /// /v1/issuing/cards/{id}/order` shows. The amount is a decimal string, as for the create
    /// order: the Go SDK notes that UQPAY's sandbox answers a string where the reference says
    /// a number, and reads both.
    pub fn to_json(&self) -> Value {
        json!({
            "card_id": self.card_id,
            "card_order_id": self.card_order_id,
            "order_type": self.order_type,
            "amount": amount_value(self.amount_cents).to_string(),
            "card_currency": self.card_currency,
            "create_time": uqpay_time(self.create_time),
            "update_time": uqpay_time(self.update_time),
            "complete_time": self.complete_time.map(uqpay_time),
            "order_status": self.order_status,
        })
    }
}

#[derive(Debug, Default)]
struct Inner {
    cards: Vec<Card>,
    by_id: HashMap<String, usize>,
    by_order: HashMap<String, usize>,
    /// Orders other than the creates, by `card_order_id`.
    orders: HashMap<String, CardOrder>,
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

    /// Applies `f` to a card and returns the updated copy.
    pub fn update(&self, card_id: &str, f: impl FnOnce(&mut Card)) -> Option<Card> {
        self.apply(card_id, |card| {
            f(card);
            card.clone()
        })
    }

    /// Applies `f` to the card under the store's lock; `None` when there is no such card.
    pub fn apply<R>(&self, card_id: &str, f: impl FnOnce(&mut Card) -> R) -> Option<R> {
        let mut inner = self.inner.lock().expect("uqpay cards lock");
        let i = *inner.by_id.get(card_id)?;
        Some(f(&mut inner.cards[i]))
    }

    /// Applies `f` to the card under the store's lock, and records `order` only when `f`
    /// accepts, so a check and a move of money cannot interleave with another's.
    pub fn apply_with_order<T>(
        &self,
        card_id: &str,
        f: impl FnOnce(&mut Card) -> Result<T, super::wire::ApiError>,
        order: CardOrder,
    ) -> Option<Result<T, super::wire::ApiError>> {
        let mut inner = self.inner.lock().expect("uqpay cards lock");
        let i = *inner.by_id.get(card_id)?;
        let result = f(&mut inner.cards[i]);
        if result.is_ok() {
            inner.orders.insert(order.card_order_id.clone(), order);
        }
        Some(result)
    }

    /// Completes an order: `f` changes its card; the order becomes `SUCCESS`.
    pub fn complete_order(
        &self,
        card_order_id: &str,
        now: DateTime<Utc>,
        f: impl FnOnce(&mut Card, &CardOrder),
    ) -> Option<(Card, CardOrder)> {
        let mut inner = self.inner.lock().expect("uqpay cards lock");
        let mut order = inner.orders.get(card_order_id)?.clone();
        let i = *inner.by_id.get(&order.card_id)?;
        order.order_status = "SUCCESS";
        order.update_time = now;
        order.complete_time = Some(now);
        f(&mut inner.cards[i], &order);
        inner.cards[i].update_time = now;
        inner
            .orders
            .insert(order.card_order_id.clone(), order.clone());
        Some((inner.cards[i].clone(), order))
    }

    /// An order of `client_id`, create orders included, as `GET .../order` shows it. A card id
    /// names its create order (leniently).
    pub fn order_json(&self, client_id: &str, id: &str) -> Option<Value> {
        let inner = self.inner.lock().expect("uqpay cards lock");
        let create = inner
            .by_order
            .get(id)
            .or_else(|| inner.by_id.get(id))
            .map(|&i| &inner.cards[i])
            .filter(|c| c.client_id == client_id)
            .map(Card::order_json);
        create.or_else(|| {
            let order = inner.orders.get(id)?;
            let card = &inner.cards[*inner.by_id.get(&order.card_id)?];
            (card.client_id == client_id).then(|| order.to_json())
        })
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
