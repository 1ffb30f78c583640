//! The status lookup shared by both QI products: `GET /prepaid/card/{card_key}` (prepaid spec
//! §7) and `GET /wallet/{wallet_key}/card/{card_key}` (postpaid spec §7.1) answer the card
//! with its `status`, read here the way the webhook processor reads the card webhook: `active`
//! is issued, a terminated status is a failure, anything else is not final yet.

use super::classify::QiCall;
use super::outcome::failure;
use super::transport::QiTransport;
use crate::domain::ProviderRefs;
use crate::providers::{CallKind, CallReport, CardStatus, Classified};
use reqwest::Method;
use serde_json::Value;

/// QI card states from which a card never becomes usable (prepaid spec §8, "Terminated").
const TERMINATED: [&str; 5] = ["lost", "robbed", "fraud", "canceled", "theft"];

/// QI's "no card has this card_key".
const CARD_NOT_FOUND: &str = "CARD000011";

/// `GET path`, the card `card_key`, read as a [`CardStatus`].
pub async fn card_status(
    transport: &QiTransport,
    path: &str,
    card_key: &str,
) -> (CardStatus, Vec<CallReport>) {
    let exchange = transport.call(Method::GET, path, None).await;
    let (status, classified) = match &exchange.answer {
        Ok(answer) if answer.is_success() => {
            let key = answer.json.get("card_key").and_then(Value::as_str);
            if key.is_some_and(|k| k != card_key) {
                let c = Classified::Unknown {
                    code: format!("http_{}", answer.status),
                    message: format!("QI answered the card {card_key} with another card"),
                };
                (CardStatus::lookup_failed(&c), c)
            } else {
                let status = answer
                    .json
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let refs = ProviderRefs::new()
                    .with(ProviderRefs::CARD_KEY, card_key)
                    .with("status", status);
                (read_status(status), Classified::Accepted { refs })
            }
        }
        Ok(answer) if answer.code() == Some(CARD_NOT_FOUND) || answer.status == 404 => {
            let c = failure(QiCall::Lookup, answer);
            (CardStatus::NotFound, c)
        }
        Ok(answer) => {
            let c = failure(QiCall::Lookup, answer);
            (CardStatus::lookup_failed(&c), c)
        }
        Err(c) => (CardStatus::lookup_failed(c), c.clone()),
    };
    (status, vec![exchange.report(CallKind::Lookup, classified)])
}

/// A QI card status as the reconciler reads it.
fn read_status(status: &str) -> CardStatus {
    if status == "active" {
        CardStatus::Active
    } else if TERMINATED.contains(&status) {
        CardStatus::Failed {
            code: format!("qitech_{status}"),
            message: format!("QI reports the card as {status}"),
        }
    } else {
        // `created`, `building`, `embossing`, the temporary blocks: not final.
        CardStatus::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_is_issued_terminated_is_failed_and_the_rest_is_pending() {
        assert_eq!(read_status("active"), CardStatus::Active);
        assert!(
            matches!(read_status("canceled"), CardStatus::Failed { code, .. } if code == "qitech_canceled")
        );
        assert_eq!(read_status("created"), CardStatus::Pending);
        assert_eq!(read_status("embossing"), CardStatus::Pending);
    }
}
