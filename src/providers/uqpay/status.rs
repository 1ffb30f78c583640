//! The status lookup: `GET /v1/issuing/cards/{card_id}` (spec §7) answers the card with its
//! `card_status` (§8): `PENDING` while UQPAY creates it, `FAILED` when it gave up, `ACTIVE` once
//! usable, and later lifecycle states (`FROZEN`, `BLOCKED`, `CANCELLED`, ...) which all mean the
//! card was made.

use super::classify::classify;
use super::client::UqpayClient;
use super::wire::ErrorBody;
use crate::domain::{ProviderOrder, ProviderRefs};
use crate::providers::http::{classify_transport, retry_after};
use crate::providers::{CallKind, CallReport, CardStatus, Classified};
use serde_json::Value;

impl UqpayClient {
    /// The status of the order's card, by the `card_id` its refs hold.
    pub async fn card_status(&self, order: &ProviderOrder) -> (CardStatus, Vec<CallReport>) {
        let card_id = order
            .refs
            .get(ProviderRefs::CARD_ID)
            .filter(|id| id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        let Some(card_id) = card_id else {
            return (CardStatus::missing("card_id"), Vec::new());
        };
        let url = format!("{}/{card_id}", self.cards_url);
        let exchange = match self
            .with_token(|t| self.http.get(&url).header("x-auth-token", t.header()))
            .await
        {
            Ok(exchange) => exchange,
            Err((e, started_at_ms, started)) => {
                let report = e.report(started_at_ms, started);
                return (CardStatus::lookup_failed(&report.classified), vec![report]);
            }
        };
        let (status, classified) = match &exchange.result {
            Err(e) => {
                let c = classify_transport(e);
                (CardStatus::lookup_failed(&c), c)
            }
            Ok(answer) if answer.status == 200 => {
                let card_status = answer
                    .body
                    .as_ref()
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                    .and_then(|v| v.get("card_status")?.as_str().map(str::to_string));
                match card_status {
                    Some(s) => {
                        let refs = ProviderRefs::new()
                            .with(ProviderRefs::CARD_ID, card_id)
                            .with("card_status", s.as_str());
                        (read_status(&s), Classified::Accepted { refs })
                    }
                    None => {
                        let c = Classified::Unknown {
                            code: "unreadable_answer".into(),
                            message: "the card answer has no card_status".into(),
                        };
                        (CardStatus::lookup_failed(&c), c)
                    }
                }
            }
            Ok(answer) => {
                let c = classify(
                    answer.status,
                    &ErrorBody::parse(answer.body.as_deref().unwrap_or_default()),
                    retry_after(&answer.headers),
                );
                let status = if answer.status == 404 {
                    CardStatus::NotFound
                } else {
                    CardStatus::lookup_failed(&c)
                };
                (status, c)
            }
        };
        (status, vec![exchange.report(CallKind::Lookup, classified)])
    }
}

/// A UQPAY `card_status` as the reconciler reads it.
fn read_status(status: &str) -> CardStatus {
    match status {
        "PENDING" => CardStatus::Pending,
        "FAILED" => CardStatus::Failed {
            code: "card_status_failed".into(),
            message: "UQPAY reports the card creation as FAILED".into(),
        },
        // ACTIVE, and the states a made card moves on to.
        _ => CardStatus::Active,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_waits_failed_fails_and_a_made_card_is_active() {
        assert_eq!(read_status("PENDING"), CardStatus::Pending);
        assert!(matches!(read_status("FAILED"), CardStatus::Failed { .. }));
        assert_eq!(read_status("ACTIVE"), CardStatus::Active);
        assert_eq!(read_status("FROZEN"), CardStatus::Active);
    }
}
