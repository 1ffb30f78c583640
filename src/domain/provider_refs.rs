//! The keys a provider gave an order (card key, card order id, ...), with the one rule for
//! merging newer keys into known ones and the one rule for which key names the card.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A provider's keys for one order, by name: QI Tech `card_key` (prepaid) or
/// `payment_instrument_key` + `postpaid_card_key` (postpaid), UQPAY `card_id` +
/// `card_order_id`, Alchemy Pay `order_no` + `card_id`, and whatever else a client records
/// (a status seen by a lookup). Stored as a JSON object of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ProviderRefs(BTreeMap<String, String>);

impl ProviderRefs {
    /// QI Tech prepaid's card key.
    pub const CARD_KEY: &'static str = "card_key";
    /// QI Tech postpaid's card key.
    pub const POSTPAID_CARD_KEY: &'static str = "postpaid_card_key";
    /// QI Tech postpaid's payment instrument (the order's key at QI).
    pub const PAYMENT_INSTRUMENT_KEY: &'static str = "payment_instrument_key";
    /// UQPAY's and Alchemy Pay's card id.
    pub const CARD_ID: &'static str = "card_id";
    /// UQPAY's card order id.
    pub const CARD_ORDER_ID: &'static str = "card_order_id";
    /// Alchemy Pay's `orderNo` (the order's idempotency key).
    pub const ORDER_NO: &'static str = "order_no";

    /// The names that carry the card's key, strongest first.
    const CARD_KEYS: [&'static str; 3] = [Self::CARD_KEY, Self::POSTPAID_CARD_KEY, Self::CARD_ID];
    /// The names that carry the provider's key for the order (not the card), strongest first.
    const ORDER_KEYS: [&'static str; 2] = [Self::CARD_ORDER_ID, Self::PAYMENT_INSTRUMENT_KEY];

    /// No keys.
    pub fn new() -> ProviderRefs {
        ProviderRefs::default()
    }

    /// These refs with `name` set to `value`.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> ProviderRefs {
        self.0.insert(name.to_string(), value.into());
        self
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Every key, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// True when no key is known.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The card's key at the provider: `card_key`, else `postpaid_card_key`, else `card_id`.
    /// Webhook events find their order by it.
    pub fn card_key(&self) -> Option<&str> {
        Self::CARD_KEYS.iter().find_map(|name| self.get(name))
    }

    /// The provider's key for the order: `card_order_id`, else `payment_instrument_key`.
    pub fn order_key(&self) -> Option<&str> {
        Self::ORDER_KEYS.iter().find_map(|name| self.get(name))
    }

    /// The one merge rule: every key of `newer` replaces or adds to these; a key `newer` does not
    /// carry keeps its known value (refs never hold empty values, so nothing is lost to a null).
    pub fn merge(&mut self, newer: &ProviderRefs) {
        for (name, value) in &newer.0 {
            self.0.insert(name.clone(), value.clone());
        }
    }

    /// [`ProviderRefs::merge`], by value.
    pub fn merged(mut self, newer: &ProviderRefs) -> ProviderRefs {
        self.merge(newer);
        self
    }

    /// The stored JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of strings always serialises")
    }

    /// Reads stored JSON text (see [`Deserialize`]).
    pub fn from_json(text: &str) -> Result<ProviderRefs, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// Reads a JSON object: strings are kept, numbers and booleans are kept as their text, nulls,
/// empty strings and nested values are dropped (rows written before refs were typed may hold
/// them).
impl<'de> Deserialize<'de> for ProviderRefs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, serde_json::Value>::deserialize(deserializer)?;
        Ok(ProviderRefs(
            map.into_iter()
                .filter_map(|(name, value)| {
                    let text = match value {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::Bool(b) => b.to_string(),
                        _ => return None,
                    };
                    (!text.is_empty()).then_some((name, text))
                })
                .collect(),
        ))
    }
}

impl fmt::Display for ProviderRefs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for ProviderRefs {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        ProviderRefs(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .filter(|(_, v): &(String, String)| !v.is_empty())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_answer_adds_and_replaces_keys_and_keeps_the_ones_it_does_not_carry() {
        let known = ProviderRefs::new()
            .with(ProviderRefs::ORDER_NO, "cb1")
            .with(ProviderRefs::CARD_ID, "old");
        let newer = ProviderRefs::new().with(ProviderRefs::CARD_ID, "c_9");
        let merged = known.merged(&newer);
        assert_eq!(merged.get(ProviderRefs::ORDER_NO), Some("cb1"));
        assert_eq!(merged.get(ProviderRefs::CARD_ID), Some("c_9"));
    }

    #[test]
    fn the_card_key_is_the_qi_key_before_the_card_id() {
        let refs = ProviderRefs::new()
            .with(ProviderRefs::CARD_ID, "c")
            .with(ProviderRefs::POSTPAID_CARD_KEY, "p");
        assert_eq!(refs.card_key(), Some("p"));
        assert_eq!(refs.with(ProviderRefs::CARD_KEY, "k").card_key(), Some("k"));
        let uqpay = ProviderRefs::new()
            .with(ProviderRefs::CARD_ID, "c")
            .with(ProviderRefs::CARD_ORDER_ID, "o");
        assert_eq!(
            (uqpay.card_key(), uqpay.order_key()),
            (Some("c"), Some("o"))
        );
    }

    #[test]
    fn stored_refs_with_nulls_or_numbers_read_as_strings_without_the_nulls() {
        let refs =
            ProviderRefs::from_json(r#"{"card_id":null,"card_key":"k","n":7,"x":{}}"#).unwrap();
        assert_eq!(refs.get("card_id"), None);
        assert_eq!(refs.card_key(), Some("k"));
        assert_eq!(refs.get("n"), Some("7"));
        assert_eq!(refs.to_json(), r#"{"card_key":"k","n":"7"}"#);
    }
}
