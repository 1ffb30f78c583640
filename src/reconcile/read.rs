//! What an inbox event says, per provider, before any order is looked at.

use crate::domain::ProviderKind;
use crate::store::{CardMatchKey, WebhookEvent};
use crate::webhooks::{ENDPOINT_ALCHEMYPAY, ENDPOINT_QITECH, ENDPOINT_UQPAY};
use serde_json::Value;

/// What an event means for the order it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventMeaning {
    /// The card exists and is usable: `submitted` -> `issued`.
    Issued,
    /// The provider gave up on the card: `submitted` -> `failed`.
    Failed {
        /// The code recorded as the order's last error.
        code: String,
        /// The message recorded with it.
        message: String,
    },
    /// An unsigned Alchemy Pay `CREATE_CARD`: trusted only once the card-info lookup of
    /// `card_id` confirms it belongs to the order.
    IssuedIfLookupConfirms {
        /// The card the callback names.
        card_id: String,
    },
    /// Nothing to do (QI `created`, an event type that is not about creation). The reason.
    Nothing(String),
}

/// An event read: the keys that find its order and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventReading {
    /// The keys to match orders with.
    pub key: CardMatchKey,
    /// What it means for the order.
    pub meaning: EventMeaning,
}

/// QI card states from which a card never becomes usable (prepaid spec §8, "Terminated").
const QI_TERMINATED: [&str; 5] = ["lost", "robbed", "fraud", "canceled", "theft"];

/// Reads an inbox event. An unreadable body (it was JSON when it was accepted, so this means a
/// hand-edited row) reads as [`EventMeaning::Nothing`].
pub fn read_event(event: &WebhookEvent) -> EventReading {
    let nothing = |why: String| EventReading {
        key: CardMatchKey::default(),
        meaning: EventMeaning::Nothing(why),
    };
    let Ok(body) = serde_json::from_str::<Value>(&event.body) else {
        return nothing("the stored body is not JSON".into());
    };
    let text = |pointer: &str| {
        body.pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match event.endpoint.as_str() {
        ENDPOINT_UQPAY => {
            let key = CardMatchKey {
                providers: vec![ProviderKind::Uqpay],
                card_ref: text("/data/card_id"),
                // `source_id` is the card order id for card events (spec §9.2).
                card_order_ref: text("/source_id").or_else(|| text("/data/card_order_id")),
                idempotency_key: None,
            };
            let meaning = match event.event_type.as_str() {
                "card.create.succeeded" => EventMeaning::Issued,
                "card.create.failed" => EventMeaning::Failed {
                    code: "card.create.failed".into(),
                    message: "UQPAY reported that the card creation failed".into(),
                },
                other => EventMeaning::Nothing(format!("UQPAY event {other} changes no order")),
            };
            EventReading { key, meaning }
        }
        ENDPOINT_QITECH => {
            let provider = match event.event_type.as_str() {
                "baas.prepaid_card.card" => ProviderKind::QitechPrepaid,
                // QI spells the postpaid card webhook `pospaid` (postpaid spec §8).
                "baas.pospaid_card.card" | "baas.postpaid_card.card" => {
                    ProviderKind::QitechPostpaid
                }
                other => return nothing(format!("QI webhook {other} is not a card webhook")),
            };
            let key = CardMatchKey {
                providers: vec![provider],
                card_ref: text("/data/card_key"),
                card_order_ref: text("/data/payment_instrument_key"),
                idempotency_key: None,
            };
            let status = text("/data/status").unwrap_or_default();
            let meaning = if status == "active" {
                EventMeaning::Issued
            } else if QI_TERMINATED.contains(&status.as_str()) {
                EventMeaning::Failed {
                    code: format!("qitech_{status}"),
                    message: format!("QI reported the card as {status}"),
                }
            } else {
                // `created`, `building`, `embossing`, blocks: not final, so not a confirmation.
                EventMeaning::Nothing(format!("QI card status `{status}` is not final"))
            };
            EventReading { key, meaning }
        }
        ENDPOINT_ALCHEMYPAY => {
            let key = CardMatchKey {
                providers: vec![ProviderKind::AlchemypayVcc],
                card_ref: None,
                card_order_ref: None,
                idempotency_key: text("/data/orderNo"),
            };
            let meaning = match (event.event_type.as_str(), text("/data/cardId")) {
                ("CREATE_CARD", Some(card_id)) => EventMeaning::IssuedIfLookupConfirms { card_id },
                ("CREATE_CARD", None) => {
                    EventMeaning::Nothing("CREATE_CARD without a cardId cannot be checked".into())
                }
                // Accepted only for an orderNo we issued (128 random bits that only Alchemy Pay
                // and we know); the card-info lookup cannot tell a failed card from a live one.
                ("CREATE_CARD_FAIL", _) => EventMeaning::Failed {
                    code: "CREATE_CARD_FAIL".into(),
                    message: "Alchemy Pay reported that the card creation failed".into(),
                },
                (other, _) => {
                    EventMeaning::Nothing(format!("Alchemy Pay event {other} changes no order"))
                }
            };
            EventReading { key, meaning }
        }
        other => nothing(format!("unknown endpoint {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EventOutcome;

    fn event(endpoint: &str, event_type: &str, body: serde_json::Value) -> WebhookEvent {
        WebhookEvent {
            id: 1,
            endpoint: endpoint.into(),
            event_key: "k".into(),
            event_type: event_type.into(),
            profile: None,
            received_at_ms: 0,
            body: body.to_string(),
            outcome: EventOutcome::Pending,
            checks: 0,
            processed_at_ms: None,
            order_id: None,
            note: None,
        }
    }

    fn qi(event_type: &str, status: &str) -> EventReading {
        read_event(&event(
            ENDPOINT_QITECH,
            event_type,
            serde_json::json!({"webhook_type": event_type, "data": {"card_key": "ck", "status": status, "payment_instrument_key": "pi"}}),
        ))
    }

    #[test]
    fn qi_active_issues_and_created_changes_nothing() {
        assert_eq!(
            qi("baas.prepaid_card.card", "active").meaning,
            EventMeaning::Issued
        );
        assert!(matches!(
            qi("baas.prepaid_card.card", "created").meaning,
            EventMeaning::Nothing(_)
        ));
    }

    #[test]
    fn a_terminated_qi_card_fails_with_its_status_as_the_code() {
        assert!(matches!(
            qi("baas.prepaid_card.card", "canceled").meaning,
            EventMeaning::Failed { code, .. } if code == "qitech_canceled"
        ));
    }

    #[test]
    fn the_postpaid_webhook_with_qis_spelling_matches_postpaid_orders_by_card_or_instrument() {
        let reading = qi("baas.pospaid_card.card", "active");
        assert_eq!(reading.key.providers, vec![ProviderKind::QitechPostpaid]);
        assert_eq!(reading.key.card_ref.as_deref(), Some("ck"));
        assert_eq!(reading.key.card_order_ref.as_deref(), Some("pi"));
    }

    #[test]
    fn a_qi_balance_webhook_is_not_a_card_webhook() {
        assert!(matches!(
            qi("prepaid_card.balance_transaction_event", "active").meaning,
            EventMeaning::Nothing(_)
        ));
    }

    #[test]
    fn uqpay_events_match_by_card_id_and_card_order_id() {
        let reading = read_event(&event(
            ENDPOINT_UQPAY,
            "card.create.failed",
            serde_json::json!({"source_id": "co", "data": {"card_id": "c"}}),
        ));
        assert_eq!(reading.key.card_ref.as_deref(), Some("c"));
        assert_eq!(reading.key.card_order_ref.as_deref(), Some("co"));
        assert!(matches!(reading.meaning, EventMeaning::Failed { .. }));
    }

    #[test]
    fn an_alchemy_create_card_needs_the_lookup_and_matches_by_order_no() {
        let reading = read_event(&event(
            ENDPOINT_ALCHEMYPAY,
            "CREATE_CARD",
            serde_json::json!({"data": {"cardId": "c_1", "orderNo": "k"}}),
        ));
        assert_eq!(reading.key.idempotency_key.as_deref(), Some("k"));
        assert_eq!(
            reading.meaning,
            EventMeaning::IssuedIfLookupConfirms {
                card_id: "c_1".into()
            }
        );
    }

    #[test]
    fn an_unknown_uqpay_event_type_changes_nothing() {
        let reading = read_event(&event(
            ENDPOINT_UQPAY,
            "card.recharge.succeeded",
            serde_json::json!({"data": {"card_id": "c"}}),
        ));
        assert!(matches!(reading.meaning, EventMeaning::Nothing(_)));
    }
}
