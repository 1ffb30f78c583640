//! The ledger: every card the sandbox created, with the client's reference fields, and how many
//! cards each reference got. An order-identifying reference ([`ORDER_REFERENCES`]) with more
//! than one card is a duplicate issuance; other references (a UQPAY `cardholder_id` with 300
//! cards, an Alchemy Pay `customerId`, metadata) are shared by design and only counted.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// The references that identify one order: the idempotency key (UQPAY), `card_name` (QI
/// prepaid, which has no key), `request_control_key` (QI postpaid), `orderNo` (Alchemy Pay), and
/// the `cardbatch_order_ref` cardbatch puts in a UQPAY card's metadata. `"duplicates": []` means
/// no order got two cards.
pub const ORDER_REFERENCES: [&str; 5] = [
    "idempotency_key",
    "card_name",
    "request_control_key",
    "orderNo",
    "cardbatch_order_ref",
];

/// One card created by a simulated provider.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LedgerEntry {
    /// Creation order across all providers, from 1.
    pub seq: u64,
    pub provider: String,
    pub card_id: String,
    /// RFC 3339 creation time (sandbox clock).
    pub created_at: String,
    /// The latest lifecycle status the provider reported for the card.
    pub status: String,
    /// The client's reference fields (`card_name`, `request_control_key`, `orderNo`,
    /// `idempotency_key`, `metadata`, ...).
    pub references: BTreeMap<String, String>,
}

/// How many cards one reference value got.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReferenceCount {
    pub provider: String,
    pub name: String,
    pub value: String,
    pub cards: u64,
}

/// The ledger as served by `GET /_sandbox/ledger`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LedgerSnapshot {
    pub total_cards: usize,
    pub cards: Vec<LedgerEntry>,
    /// Every reference with its card count.
    pub per_reference: Vec<ReferenceCount>,
    /// The order-identifying references ([`ORDER_REFERENCES`]) with more than one card.
    pub duplicates: Vec<ReferenceCount>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: Vec<LedgerEntry>,
    by_card: HashMap<(String, String), usize>,
    counts: BTreeMap<(String, String, String), u64>,
}

/// Every card created, in creation order.
#[derive(Debug, Default)]
pub struct Ledger {
    inner: Mutex<Inner>,
}

impl Ledger {
    /// Records a created card. `status` is its initial lifecycle status.
    pub fn record(
        &self,
        provider: &str,
        card_id: &str,
        status: &str,
        created_at: &str,
        references: BTreeMap<String, String>,
    ) {
        let mut inner = self.inner.lock().expect("ledger lock");
        for (name, value) in &references {
            *inner
                .counts
                .entry((provider.to_string(), name.clone(), value.clone()))
                .or_default() += 1;
        }
        let seq = inner.entries.len() as u64 + 1;
        let index = inner.entries.len();
        inner
            .by_card
            .insert((provider.to_string(), card_id.to_string()), index);
        inner.entries.push(LedgerEntry {
            seq,
            provider: provider.to_string(),
            card_id: card_id.to_string(),
            created_at: created_at.to_string(),
            status: status.to_string(),
            references,
        });
    }

    /// Updates a card's lifecycle status; unknown cards are ignored.
    pub fn set_status(&self, provider: &str, card_id: &str, status: &str) {
        let mut inner = self.inner.lock().expect("ledger lock");
        if let Some(&i) = inner
            .by_card
            .get(&(provider.to_string(), card_id.to_string()))
        {
            inner.entries[i].status = status.to_string();
        }
    }

    /// The entry of one card.
    pub fn get(&self, provider: &str, card_id: &str) -> Option<LedgerEntry> {
        let inner = self.inner.lock().expect("ledger lock");
        inner
            .by_card
            .get(&(provider.to_string(), card_id.to_string()))
            .map(|&i| inner.entries[i].clone())
    }

    /// Cards created for a reference value (`count_for("uqpay", "idempotency_key", k)`).
    pub fn count_for(&self, provider: &str, name: &str, value: &str) -> u64 {
        let inner = self.inner.lock().expect("ledger lock");
        inner
            .counts
            .get(&(provider.to_string(), name.to_string(), value.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Number of cards, all providers.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("ledger lock").entries.len()
    }

    /// Whether no card was created yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry, in creation order.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        self.inner.lock().expect("ledger lock").entries.clone()
    }

    /// Entries, counts and duplicates, optionally for one provider.
    pub fn snapshot(&self, provider: Option<&str>) -> LedgerSnapshot {
        let inner = self.inner.lock().expect("ledger lock");
        let keep = |p: &str| provider.is_none_or(|want| want == p);
        let cards: Vec<LedgerEntry> = inner
            .entries
            .iter()
            .filter(|e| keep(&e.provider))
            .cloned()
            .collect();
        let per_reference: Vec<ReferenceCount> = inner
            .counts
            .iter()
            .filter(|((p, _, _), _)| keep(p))
            .map(|((provider, name, value), &cards)| ReferenceCount {
                provider: provider.clone(),
                name: name.clone(),
                value: value.clone(),
                cards,
            })
            .collect();
        let duplicates = per_reference
            .iter()
            .filter(|r| r.cards > 1 && ORDER_REFERENCES.contains(&r.name.as_str()))
            .cloned()
            .collect();
        LedgerSnapshot {
            total_cards: cards.len(),
            cards,
            per_reference,
            duplicates,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(k: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("orderNo".to_string(), k.to_string())])
    }

    #[test]
    fn a_reference_used_twice_shows_up_as_a_duplicate() {
        let ledger = Ledger::default();
        ledger.record("alchemypay_vcc", "c_1", "INIT", "t", refs("o1"));
        ledger.record("alchemypay_vcc", "c_2", "INIT", "t", refs("o2"));
        ledger.record("alchemypay_vcc", "c_3", "INIT", "t", refs("o1"));

        let snap = ledger.snapshot(None);

        assert_eq!(snap.total_cards, 3);
        assert_eq!(snap.duplicates.len(), 1);
        assert_eq!(snap.duplicates[0].value, "o1");
        assert_eq!(snap.duplicates[0].cards, 2);
        assert_eq!(ledger.count_for("alchemypay_vcc", "orderNo", "o2"), 1);
    }

    #[test]
    fn references_shared_by_design_are_counted_but_are_not_duplicates() {
        let ledger = Ledger::default();
        for (card, key) in [("card-1", "k-1"), ("card-2", "k-2")] {
            let references = BTreeMap::from([
                ("idempotency_key".to_string(), key.to_string()),
                ("cardholder_id".to_string(), "holder".to_string()),
            ]);
            ledger.record("uqpay", card, "PENDING", "t", references);
        }

        let snap = ledger.snapshot(None);

        assert_eq!(snap.duplicates, []);
        assert!(
            snap.per_reference
                .iter()
                .any(|r| r.name == "cardholder_id" && r.cards == 2)
        );
    }

    #[test]
    fn a_status_update_reaches_the_card_entry() {
        let ledger = Ledger::default();
        ledger.record("uqpay", "card-1", "PENDING", "t", BTreeMap::new());
        ledger.set_status("uqpay", "card-1", "ACTIVE");
        assert_eq!(ledger.get("uqpay", "card-1").unwrap().status, "ACTIVE");
    }
}
