//! Postpaid instruments and cards in memory, and the `request_control_key` register that makes
//! a reused key answer 409 CIN000099 (keys are scoped per wallet \[inferred\]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::postpaid_request::PostpaidRequest;
use super::prepaid_request::CardType;
use super::prepaid_store::{StatusEvent, iso};

/// The program every sandbox postpaid card reports \[inferred: the docs show one per card].
pub const POSTPAID_PROGRAM_KEY: &str = "6f1d2c3b-4a59-4e68-8d7c-9b0a1f2e3d4c";

/// What a used `request_control_key` led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlKeyUse {
    /// The first request with this key is still being processed.
    InFlight,
    /// The instrument exists; the card too unless a partial CIN000072 left it missing.
    Done {
        /// The instrument created.
        payment_instrument_key: String,
        /// Its card, if one was made.
        postpaid_card_key: Option<String>,
    },
}

/// A postpaid card and the instrument it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct PostpaidCard {
    /// `postpaid_card_key`, the `card_key` of the card endpoints.
    pub card_key: String,
    /// The wallet in the path.
    pub wallet_key: String,
    /// The instrument created with the card.
    pub payment_instrument_key: String,
    /// The owner: a new person, or the `person_key` sent.
    pub owner_person_key: String,
    /// The request that created it.
    pub request: PostpaidRequest,
    /// Fake PAN digits.
    pub last_four_digits: String,
    /// Every status, oldest first.
    pub status_events: Vec<StatusEvent>,
}

impl PostpaidCard {
    /// The current status.
    pub fn status(&self) -> &str {
        &self
            .status_events
            .last()
            .expect("a card has its created event")
            .status
    }

    /// `GET /wallet/{wallet_key}/card/{card_key}` (spec §7.1), plus the wallet, instrument and
    /// `status_events` of the older `card_information` form.
    pub fn detail_json(&self) -> Value {
        let r = &self.request;
        let account_key =
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, self.wallet_key.as_bytes());
        let mut card = json!({
            "card_key": self.card_key,
            "status": self.status(),
            "account_key": account_key.to_string(),
            "program_key": POSTPAID_PROGRAM_KEY,
            "wallet_key": self.wallet_key,
            "payment_instrument_key": self.payment_instrument_key,
            "type": r.card_type.as_str(),
            "card_name": r.card_name,
            "printed_name": r.printed_name,
            "brand": "visa",
            "last_four_digits": self.last_four_digits,
            "created_at": iso(&self.status_events[0].at),
            "updated_at": iso(&self.status_events.last().expect("created event").at),
            "status_events": self.status_events.iter()
                .map(|e| json!({"status": e.status, "created_at": iso(&e.at)}))
                .collect::<Vec<_>>(),
        });
        if r.card_type == CardType::Virtual {
            card["cvv_rotation_interval_hours"] = json!(r.cvv_rotation_interval_hours);
        }
        card
    }
}

/// All postpaid state.
#[derive(Debug, Default)]
pub struct PostpaidStore {
    control_keys: HashMap<(String, String), ControlKeyUse>,
    cards: HashMap<String, PostpaidCard>,
}

impl PostpaidStore {
    /// Claims `request_control_key` in `wallet_key`; `Err` with its earlier use when taken.
    pub fn reserve(&mut self, wallet_key: &str, key: &str) -> Result<(), ControlKeyUse> {
        let slot = (wallet_key.to_string(), key.to_string());
        if let Some(used) = self.control_keys.get(&slot) {
            return Err(used.clone());
        }
        self.control_keys.insert(slot, ControlKeyUse::InFlight);
        Ok(())
    }

    /// Frees a key whose request failed without creating anything, so a retry may use it.
    pub fn release(&mut self, wallet_key: &str, key: &str) {
        self.control_keys
            .remove(&(wallet_key.to_string(), key.to_string()));
    }

    /// Records what a key created.
    pub fn complete(&mut self, wallet_key: &str, key: &str, used: ControlKeyUse) {
        self.control_keys
            .insert((wallet_key.to_string(), key.to_string()), used);
    }

    /// Adds a card.
    pub fn insert(&mut self, card: PostpaidCard) {
        self.cards.insert(card.card_key.clone(), card);
    }

    /// The card with this key, if it belongs to `wallet_key`.
    pub fn get(&self, wallet_key: &str, card_key: &str) -> Option<&PostpaidCard> {
        self.cards
            .get(card_key)
            .filter(|c| c.wallet_key == wallet_key)
    }

    /// Moves a card from `from` to `to`; `false` (and no change) when the card is unknown or
    /// no longer in `from`, so a lifecycle step cannot undo a client's status change.
    pub fn transition_from(
        &mut self,
        card_key: &str,
        from: &str,
        to: &str,
        at: DateTime<Utc>,
    ) -> bool {
        match self.cards.get_mut(card_key) {
            Some(card) if card.status() == from => {
                card.status_events.push(StatusEvent {
                    status: to.to_string(),
                    at,
                });
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_taken_per_wallet_until_released() {
        let mut store = PostpaidStore::default();

        assert_eq!(store.reserve("w1", "k"), Ok(()));
        assert_eq!(store.reserve("w1", "k"), Err(ControlKeyUse::InFlight));
        assert_eq!(store.reserve("w2", "k"), Ok(()));
        store.release("w1", "k");
        assert_eq!(store.reserve("w1", "k"), Ok(()));
    }

    #[test]
    fn a_completed_key_reports_what_it_created() {
        let mut store = PostpaidStore::default();
        store.reserve("w", "k").unwrap();
        let done = ControlKeyUse::Done {
            payment_instrument_key: "pi".into(),
            postpaid_card_key: None,
        };

        store.complete("w", "k", done.clone());

        assert_eq!(store.reserve("w", "k"), Err(done));
    }
}
