//! The one-for-one check: the cards cardbatch recorded against the cards the sandbox made.
//!
//! Every card in the ledger must carry the idempotency reference of exactly one order; no
//! reference may have two cards; every order holding card refs must have exactly one card, and
//! the card refs it recorded must name that card; an order without refs must have none.

use super::report::DemoBatch;
use crate::domain::{OrderState, ProviderKind, ProviderRefs};
use crate::sandbox::core::Ledger;
use crate::store::Store;
use std::collections::BTreeMap;
use std::fmt;

/// One difference between the orders and the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// A ledger card carries no idempotency reference at all.
    CardWithoutKey {
        /// The provider.
        provider: ProviderKind,
        /// The sandbox's card id.
        card_id: String,
    },
    /// A ledger card's reference belongs to no order.
    CardOfNoOrder {
        /// The provider.
        provider: ProviderKind,
        /// The sandbox's card id.
        card_id: String,
        /// The reference it carries.
        key: String,
    },
    /// An order has more than one card: a card issued twice.
    OrderWithCards {
        /// The order.
        order_ref: String,
        /// The sandbox's card ids.
        card_ids: Vec<String>,
    },
    /// An order recorded card refs but the provider has no card for it.
    OrderWithoutCard {
        /// The order.
        order_ref: String,
        /// Its state.
        state: OrderState,
    },
    /// The provider made a card for an order that recorded none.
    UnrecordedCard {
        /// The order.
        order_ref: String,
        /// Its state.
        state: OrderState,
        /// The sandbox's card id.
        card_id: String,
    },
    /// The order's refs name another card than the one the provider made for it.
    RefsDiffer {
        /// The order.
        order_ref: String,
        /// The card key the order recorded.
        recorded: String,
        /// The sandbox's card id.
        card_id: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::CardWithoutKey { provider, card_id } => {
                write!(
                    f,
                    "{provider} card {card_id} carries no idempotency reference"
                )
            }
            Mismatch::CardOfNoOrder {
                provider,
                card_id,
                key,
            } => write!(f, "{provider} card {card_id} ({key}) belongs to no order"),
            Mismatch::OrderWithCards {
                order_ref,
                card_ids,
            } => write!(
                f,
                "order {order_ref} has {} cards: {}",
                card_ids.len(),
                card_ids.join(", ")
            ),
            Mismatch::OrderWithoutCard { order_ref, state } => write!(
                f,
                "order {order_ref} ({state}) recorded card refs but the provider has no card for it"
            ),
            Mismatch::UnrecordedCard {
                order_ref,
                state,
                card_id,
            } => write!(
                f,
                "order {order_ref} ({state}) recorded no card, yet the provider made {card_id}"
            ),
            Mismatch::RefsDiffer {
                order_ref,
                recorded,
                card_id,
            } => write!(
                f,
                "order {order_ref} recorded card {recorded}, the provider's card is {card_id}"
            ),
        }
    }
}

/// The result of the check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Cards in the ledger, every provider.
    pub cards: usize,
    /// Orders holding card refs.
    pub carded_orders: usize,
    /// Every difference found; empty when the two agree one for one.
    pub mismatches: Vec<Mismatch>,
}

/// The ledger reference that carries an order's idempotency key, per provider.
pub fn ledger_key(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Uqpay => "idempotency_key",
        ProviderKind::QitechPrepaid => "card_name",
        ProviderKind::QitechPostpaid => "request_control_key",
        ProviderKind::AlchemypayVcc => "orderNo",
    }
}

/// Compares the orders of `batches` with every card in `ledger`.
pub(super) async fn against_ledger(
    store: &Store,
    ledger: &Ledger,
    batches: &[DemoBatch],
) -> Result<Verification, crate::store::Error> {
    let mut out = Verification::default();
    for batch in batches {
        let kind = batch.provider;
        let snapshot = ledger.snapshot(Some(kind.as_str()));
        out.cards += snapshot.cards.len();
        // Order id -> the cards whose reference is that order's idempotency key.
        let mut cards_of: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for card in &snapshot.cards {
            let Some(key) = card.references.get(ledger_key(kind)) else {
                out.mismatches.push(Mismatch::CardWithoutKey {
                    provider: kind,
                    card_id: card.card_id.clone(),
                });
                continue;
            };
            match store.order_find_by_key(kind, key).await? {
                Some((id, _)) => cards_of.entry(id).or_default().push(card.card_id.clone()),
                None => out.mismatches.push(Mismatch::CardOfNoOrder {
                    provider: kind,
                    card_id: card.card_id.clone(),
                    key: key.clone(),
                }),
            }
        }
        for order in store.order_list(batch.batch_id, None).await? {
            let cards = cards_of.remove(&order.id).unwrap_or_default();
            let refs = order.provider_refs.as_ref();
            if refs.is_some() {
                out.carded_orders += 1;
            }
            match (refs, cards.as_slice()) {
                (None, []) => {}
                (Some(_), []) => out.mismatches.push(Mismatch::OrderWithoutCard {
                    order_ref: order.order_ref,
                    state: order.state,
                }),
                (None, [card]) => out.mismatches.push(Mismatch::UnrecordedCard {
                    order_ref: order.order_ref,
                    state: order.state,
                    card_id: card.clone(),
                }),
                (Some(refs), [card]) => {
                    if let Some(recorded) = refs.card_key()
                        && !names_card(refs, card)
                    {
                        out.mismatches.push(Mismatch::RefsDiffer {
                            order_ref: order.order_ref,
                            recorded: recorded.to_string(),
                            card_id: card.clone(),
                        });
                    }
                }
                (_, many) => out.mismatches.push(Mismatch::OrderWithCards {
                    order_ref: order.order_ref,
                    card_ids: many.to_vec(),
                }),
            }
        }
        // Cards left over matched an order of another batch; the demo's database holds only its
        // own batches, so that would be a card of an order the demo did not submit.
        for (_, card_ids) in cards_of {
            for card_id in card_ids {
                out.mismatches.push(Mismatch::CardOfNoOrder {
                    provider: kind,
                    card_id,
                    key: "(an order outside the demo's batches)".into(),
                });
            }
        }
    }
    Ok(out)
}

/// Whether any string value of the refs is the ledger's card id (providers name their card
/// key differently: QI `card_key`, UQPAY `card_id`, Alchemy Pay `cardId`).
fn names_card(refs: &ProviderRefs, card_id: &str) -> bool {
    refs.iter().any(|(_, v)| v == card_id)
}
