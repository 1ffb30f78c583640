//! The status lookup: `POST /open/api/card/info` `{"cardId"}` answers the card with its
//! `status` (spec, card status enum): `INIT`, `INIT_CREATE_CARD_HOLDER`, `INIT_CREATE_CARD`,
//! `INIT_ACTIVE_CARD` while it is being made, `ACTIVE` once made, `CREATE_CARD_FAILED_REFUND`
//! when creation failed. The create answer carries no card id and there is no lookup by
//! `orderNo`, so an order whose callback never came has nothing to look up by: it is
//! [`CardStatus::Unknowable`] (Alchemy Pay's reconciliation gap; the spec's advice is to escalate
//! it after 24 hours, which the reconciler does).

use super::classify::{CodeClass, classify};
use super::client::{AlchemyPayClient, INFO_PATH, from_class};
use crate::domain::{ProviderOrder, ProviderRefs};
use crate::providers::{CallKind, CallReport, CardStatus, Classified};
use serde_json::json;

/// Alchemy Pay's "Card does not exist".
const CARD_NOT_FOUND: i64 = 404005;

impl AlchemyPayClient {
    /// The status of the order's card, by the `card_id` its refs hold.
    pub async fn card_status(&self, order: &ProviderOrder) -> (CardStatus, Vec<CallReport>) {
        let Some(card_id) = order.refs.get(ProviderRefs::CARD_ID) else {
            let why = format!(
                "Alchemy Pay gives the card id only in the CREATE_CARD callback, which has not \
                 come, and has no lookup by orderNo; look for orderNo {} in the merchant portal",
                order.idempotency_key
            );
            return (CardStatus::Unknowable { why }, Vec::new());
        };
        let exchange = self.post(INFO_PATH, &json!({ "cardId": card_id })).await;
        let (status, classified) = match &exchange.answer {
            Err(c) => (CardStatus::lookup_failed(c), c.clone()),
            Ok(e) if e.is_success() => {
                let card = e.model.as_ref().and_then(|m| m.card.as_ref());
                let owner = card.and_then(|c| c.order_no.as_deref());
                if owner.is_some_and(|n| n != order.idempotency_key) {
                    // Our refs name a card of another order: as far as this order goes, the
                    // provider does not know its card.
                    let c = Classified::NeedsReview {
                        code: "order_mismatch".into(),
                        message: format!("card {card_id} belongs to another orderNo"),
                    };
                    (CardStatus::NotFound, c)
                } else {
                    let status = card.and_then(|c| c.status.clone()).unwrap_or_default();
                    let refs = ProviderRefs::new()
                        .with(ProviderRefs::CARD_ID, card_id)
                        .with("status", status.as_str());
                    (read_status(&status), Classified::Accepted { refs })
                }
            }
            Ok(e) if e.code == CARD_NOT_FOUND => {
                let (class, why) = classify(e.code);
                (CardStatus::NotFound, from_class(class, e, why))
            }
            Ok(e) => {
                let (class, why) = classify(e.code);
                let c = match class {
                    CodeClass::Transient { .. } | CodeClass::Unknown => from_class(class, e, why),
                    _ => Classified::NeedsReview {
                        code: e.code.to_string(),
                        message: format!("card {card_id} lookup refused: {}", e.message()),
                    },
                };
                (CardStatus::lookup_failed(&c), c)
            }
        };
        (status, vec![exchange.report(CallKind::Lookup, classified)])
    }
}

/// An Alchemy Pay card status as the reconciler reads it.
fn read_status(status: &str) -> CardStatus {
    match status {
        "CREATE_CARD_FAILED_REFUND" => CardStatus::Failed {
            code: "CREATE_CARD_FAILED_REFUND".into(),
            message: "Alchemy Pay reports the card creation failed (refunded)".into(),
        },
        s if s.is_empty() || s.starts_with("INIT") => CardStatus::Pending,
        // ACTIVE, and the states a made card moves on to (FROZEN, DELETE).
        _ => CardStatus::Active,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_states_wait_a_refund_fails_and_active_is_issued() {
        assert_eq!(read_status("INIT_CREATE_CARD"), CardStatus::Pending);
        assert_eq!(read_status("ACTIVE"), CardStatus::Active);
        assert!(matches!(
            read_status("CREATE_CARD_FAILED_REFUND"),
            CardStatus::Failed { .. }
        ));
    }
}
