//! Prepaid cards in memory, in creation order per account, and their JSON forms (spec §7).

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::prepaid_request::{CardType, PrepaidCardRequest};

/// One status a card went through, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusEvent {
    /// The status entered.
    pub status: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A prepaid card.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepaidCard {
    /// `card_key`.
    pub card_key: String,
    /// The request that created it.
    pub request: PrepaidCardRequest,
    /// Last four digits of the (fake) PAN.
    pub last_four_digits: String,
    /// Every status, oldest first; the last one is the current status.
    pub status_events: Vec<StatusEvent>,
}

impl PrepaidCard {
    /// The current status.
    pub fn status(&self) -> &str {
        &self
            .status_events
            .last()
            .expect("a card has at least its created event")
            .status
    }

    /// The card as `GET /prepaid/card?account_key=` lists it.
    pub fn list_json(&self) -> Value {
        let r = &self.request;
        let created = &self.status_events[0].at;
        let updated = &self.status_events.last().expect("created event").at;
        let mut card = json!({
            "card_key": self.card_key,
            "account_key": r.account_key,
            "program_key": r.program_key,
            "type": r.card_type.as_str(),
            "card_name": r.card_name,
            "printed_name": r.printed_name,
            "created_at": iso(created),
            "updated_at": iso(updated),
            "status": self.status(),
            "brand": "visa",
        });
        match r.card_type {
            CardType::Virtual => {
                card["cvv_rotation_interval_hours"] = json!(r.cvv_rotation_interval_hours)
            }
            CardType::Plastic => card["contactless_enabled"] = json!(r.contactless_enabled),
        }
        card
    }

    /// The card as `GET /prepaid/card/{card_key}` answers it, with `last_four_digits` and
    /// `status_events`.
    pub fn detail_json(&self) -> Value {
        let mut card = self.list_json();
        card["last_four_digits"] = json!(self.last_four_digits);
        card["status_events"] = self
            .status_events
            .iter()
            .map(|e| json!({"status": e.status, "created_at": iso(&e.at)}))
            .collect();
        card
    }
}

/// All prepaid cards.
#[derive(Debug, Default)]
pub struct PrepaidStore {
    cards: HashMap<String, PrepaidCard>,
    by_account: HashMap<String, Vec<String>>,
}

impl PrepaidStore {
    /// Adds a card.
    pub fn insert(&mut self, card: PrepaidCard) {
        self.by_account
            .entry(card.request.account_key.clone())
            .or_default()
            .push(card.card_key.clone());
        self.cards.insert(card.card_key.clone(), card);
    }

    /// The card with this key.
    pub fn get(&self, card_key: &str) -> Option<&PrepaidCard> {
        self.cards.get(card_key)
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

    /// One page of an account's cards, oldest first, and whether another page follows.
    pub fn page(&self, account_key: &str, page: usize, size: usize) -> (Vec<&PrepaidCard>, bool) {
        let keys = self
            .by_account
            .get(account_key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let start = page.saturating_mul(size).min(keys.len());
        let end = start.saturating_add(size).min(keys.len());
        let cards = keys[start..end]
            .iter()
            .filter_map(|k| self.cards.get(k))
            .collect();
        (cards, end < keys.len())
    }
}

/// QI's timestamp form, `2023-02-20T19:28:16Z`.
pub fn iso(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Four fake PAN digits derived from the card key, so a card always shows the same ones.
pub fn last_four(card_key: &str) -> String {
    let n = card_key
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("{:04}", n % 10_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(key: &str, account: &str) -> PrepaidCard {
        PrepaidCard {
            card_key: key.to_string(),
            request: PrepaidCardRequest {
                account_key: account.to_string(),
                program_key: "p".into(),
                card_type: CardType::Virtual,
                card_name: key.to_string(),
                printed_name: "Ana".into(),
                cvv_rotation_interval_hours: Some(72),
                contactless_enabled: None,
                delivery_address: None,
            },
            last_four_digits: last_four(key),
            status_events: vec![StatusEvent {
                status: "created".into(),
                at: Utc::now(),
            }],
        }
    }

    #[test]
    fn pages_follow_creation_order_and_stop_at_the_end() {
        let mut store = PrepaidStore::default();
        for key in ["a", "b", "c"] {
            store.insert(card(key, "acc"));
        }
        store.insert(card("other", "acc2"));
        let keys = |(cards, more): (Vec<&PrepaidCard>, bool)| {
            (
                cards.iter().map(|c| c.card_key.clone()).collect::<Vec<_>>(),
                more,
            )
        };

        assert_eq!(
            keys(store.page("acc", 0, 2)),
            (vec!["a".into(), "b".into()], true)
        );
        assert_eq!(keys(store.page("acc", 1, 2)), (vec!["c".into()], false));
        assert_eq!(keys(store.page("acc", 7, 2)), (vec![], false));
        assert_eq!(keys(store.page("nobody", 0, 2)), (vec![], false));
    }

    #[test]
    fn a_transition_appends_a_status_event_only_from_the_expected_status() {
        let mut store = PrepaidStore::default();
        store.insert(card("a", "acc"));

        assert!(store.transition_from("a", "created", "active", Utc::now()));
        assert!(!store.transition_from("a", "created", "active", Utc::now()));
        assert!(!store.transition_from("missing", "created", "active", Utc::now()));

        let events: Vec<&str> = store
            .get("a")
            .unwrap()
            .status_events
            .iter()
            .map(|e| e.status.as_str())
            .collect();
        assert_eq!(events, ["created", "active"]);
    }

    #[test]
    fn the_last_four_digits_are_stable_per_card() {
        assert_eq!(last_four("abc"), last_four("abc"));
        assert_eq!(last_four("abc").len(), 4);
    }
}
