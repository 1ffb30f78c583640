//! Cards, order numbers and the merchant balance of the Alchemy Pay simulator.

use super::card_data::CardSecrets;
use super::trades::{Book, Trade};
use super::wire::AchError;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// The status of a cancelled (deleted) card, from the spec's status table (§4.3).
pub const CANCELED: &str = "CANCELED";

/// One virtual card.
#[derive(Debug, Clone)]
pub struct Card {
    pub card_id: String,
    pub user_id: String,
    pub card_holder_id: String,
    pub card_seq_no: String,
    pub access_key: String,
    pub order_no: String,
    pub first_name: String,
    pub last_name: String,
    /// Everything deposited: the initial deposit plus every top-up (info's `deposit`).
    pub deposit_cents: i64,
    /// What is on the card: deposits minus refunds; 0 once cancelled.
    pub balance_cents: i64,
    pub currency: String,
    pub vid: String,
    /// The card's number and cvc, sent as the provider sends them.
    pub secrets: CardSecrets,
    pub status: String,
    pub callback_url: String,
    pub customer_id: Option<String>,
    pub gmt_create_ms: i64,
    pub exp_year: i32,
    pub exp_month: u32,
}

impl Card {
    /// `statusText` for a status.
    pub fn status_text(&self) -> &'static str {
        match self.status.as_str() {
            "INIT" => "Opening card",
            "INIT_CREATE_CARD_HOLDER" => "Creating cardholder",
            "INIT_CREATE_CARD" => "Creating virtual card",
            "INIT_ACTIVE_CARD" => "Activating card",
            "ACTIVE" => "Activated",
            "CREATE_CARD_FAILED_REFUND" => "Creation failed, refunded",
            // [inferred] The spec's table says "deleted".
            CANCELED => "Deleted",
            _ => "",
        }
    }

    /// What is on the card (0 after a refused creation, whose deposit went back).
    pub fn balance(&self) -> i64 {
        if self.status == "CREATE_CARD_FAILED_REFUND" {
            0
        } else {
            self.balance_cents
        }
    }

    /// Whether the issuer has made the card: its number, cvc and expiry exist from
    /// `INIT_ACTIVE_CARD` on, and stay once the card is cancelled \[inferred\]; before that, or
    /// after a refused creation, they are `null`.
    pub fn issued(&self) -> bool {
        matches!(
            self.status.as_str(),
            "INIT_ACTIVE_CARD" | "ACTIVE" | CANCELED
        )
    }

    /// `number`, `cvc`, `last4`, `expYear`, `expMonth`, as the provider shows them.
    fn card_data(&self) -> [(&'static str, Value); 5] {
        if !self.issued() {
            return ["number", "cvc", "last4", "expYear", "expMonth"].map(|k| (k, Value::Null));
        }
        [
            ("number", json!(self.secrets.number)),
            ("cvc", json!(self.secrets.cvc)),
            ("last4", json!(self.secrets.last4())),
            ("expYear", json!(self.exp_year)),
            ("expMonth", json!(self.exp_month)),
        ]
    }

    /// The `data` of a `CREATE_CARD` callback: the card as the v1 docs show it, with its full
    /// number, cvc and expiry.
    pub fn created_event_data(&self) -> Value {
        let mut data = json!({
            "userId": self.user_id, "cardHolderId": self.card_holder_id,
            "holderName": format!("{} {}", self.first_name, self.last_name),
            "cardId": self.card_id, "cardSeqNo": self.card_seq_no,
            "deposit": self.deposit_cents, "consume": 0, "balance": self.balance(),
            "cardBin": self.vid, "status": self.status, "statusText": self.status_text(),
            "gmtCreate": self.gmt_create_ms / 1000,
            "customerId": self.customer_id, "orderNo": self.order_no,
        });
        for (key, value) in self.card_data() {
            data[key] = value;
        }
        data
    }

    /// The `data` of a `CREATE_CARD_FAIL` callback.
    pub fn failed_event_data(&self) -> Value {
        json!({ "cardId": self.card_id, "userId": self.user_id, "orderNo": self.order_no })
    }

    /// The `model` of `/open/api/card/info` (spec §6).
    pub fn info_model(&self) -> Value {
        let mut card = json!({
            "userId": self.user_id, "cardHolderId": self.card_holder_id,
            "cardId": self.card_id, "customerId": self.customer_id,
            "cardSeqNo": self.card_seq_no, "deposit": self.deposit_cents, "consume": 0,
            "balance": self.balance(), "cardBin": self.vid, "status": self.status,
            "statusText": self.status_text(), "currency": self.currency,
            "monthlyFeeCard": 0, "pendingMonthlyFee": 0, "paidMonthlyFee": 0,
            "gmtCreate": self.gmt_create_ms / 1000, "orderNo": self.order_no,
        });
        for (key, value) in self.card_data() {
            card[key] = value;
        }
        json!({
            "cardHolder": {
                "firstName": self.first_name, "lastName": self.last_name,
                "street": null, "city": null, "state": null, "country": null, "zipCode": null,
            },
            "card": card,
        })
    }
}

/// An order number's state.
#[derive(Debug, Clone, PartialEq)]
enum Slot {
    /// Being processed (reverse validation in progress).
    Pending,
    /// A card was created under it.
    Used,
}

/// What reserving an order number found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    Reserved,
    /// Another request with this orderNo is being processed (600003).
    InFlight,
    /// A card was already created with it (300001).
    Used,
}

/// Cards by id, create order numbers per merchant key, the merchant balance, and the book of
/// money movements on cards (with the deposit and refund order numbers).
///
/// Locks are taken one at a time, except in [`CardStore::transact`], which takes them in the
/// order cards, book, balance.
#[derive(Debug)]
pub struct CardStore {
    cards: Mutex<HashMap<String, Card>>,
    orders: Mutex<HashMap<(String, String), Slot>>,
    balance_cents: Mutex<i64>,
    book: Mutex<Book>,
}

impl CardStore {
    /// A store with the fixtures' merchant balance.
    pub fn new(balance_cents: i64) -> CardStore {
        CardStore {
            cards: Mutex::new(HashMap::new()),
            orders: Mutex::new(HashMap::new()),
            balance_cents: Mutex::new(balance_cents),
            book: Mutex::new(Book::default()),
        }
    }

    /// Claims an order number for processing.
    pub fn reserve(&self, access_key: &str, order_no: &str) -> Reserve {
        let mut orders = self.orders.lock().expect("orders lock");
        match orders.get(&(access_key.to_string(), order_no.to_string())) {
            Some(Slot::Pending) => Reserve::InFlight,
            Some(Slot::Used) => Reserve::Used,
            None => {
                orders.insert(
                    (access_key.to_string(), order_no.to_string()),
                    Slot::Pending,
                );
                Reserve::Reserved
            }
        }
    }

    /// Gives a reserved order number back (the create failed before a card existed).
    pub fn release(&self, access_key: &str, order_no: &str) {
        self.orders
            .lock()
            .expect("orders lock")
            .remove(&(access_key.to_string(), order_no.to_string()));
    }

    /// Takes `cents` from the merchant balance; `false` when it is insufficient.
    pub fn debit(&self, cents: i64) -> bool {
        let mut balance = self.balance_cents.lock().expect("balance lock");
        if *balance < cents {
            return false;
        }
        *balance -= cents;
        true
    }

    /// Gives `cents` back (a failed creation is refunded).
    pub fn credit(&self, cents: i64) {
        *self.balance_cents.lock().expect("balance lock") += cents;
    }

    /// Stores a created card and marks its order number used.
    pub fn insert(&self, card: Card) {
        self.orders
            .lock()
            .expect("orders lock")
            .insert((card.access_key.clone(), card.order_no.clone()), Slot::Used);
        self.cards
            .lock()
            .expect("cards lock")
            .insert(card.card_id.clone(), card);
    }

    /// The card with this id.
    pub fn get(&self, card_id: &str) -> Option<Card> {
        self.cards.lock().expect("cards lock").get(card_id).cloned()
    }

    /// Sets a card's status and returns the updated copy.
    pub fn set_status(&self, card_id: &str, status: &str) -> Option<Card> {
        let mut cards = self.cards.lock().expect("cards lock");
        let card = cards.get_mut(card_id)?;
        card.status = status.to_string();
        Some(card.clone())
    }

    /// The card `card_id` if it belongs to `access_key`; otherwise 404005, as for a card that
    /// does not exist.
    pub fn get_own(&self, access_key: &str, card_id: &str) -> Result<Card, AchError> {
        self.get(card_id)
            .filter(|c| c.access_key == access_key)
            .ok_or_else(AchError::no_card)
    }

    /// Runs `op` on the card `card_id` of `access_key`, the merchant balance and the book, all
    /// locked for its duration, so a money movement happens whole or not at all (`op` checks
    /// before it changes anything). A card of another access key is 404005.
    pub fn transact<T>(
        &self,
        access_key: &str,
        card_id: &str,
        op: impl FnOnce(&mut Card, &mut i64, &mut Book) -> Result<T, AchError>,
    ) -> Result<T, AchError> {
        let mut cards = self.cards.lock().expect("cards lock");
        let card = cards
            .get_mut(card_id)
            .filter(|c| c.access_key == access_key)
            .ok_or_else(AchError::no_card)?;
        let mut book = self.book.lock().expect("book lock");
        let mut merchant = self.balance_cents.lock().expect("balance lock");
        op(card, &mut merchant, &mut book)
    }

    /// The money movements on a card, oldest first.
    pub fn trades(&self, card_id: &str) -> Vec<Trade> {
        self.book.lock().expect("book lock").trades(card_id)
    }
}
