//! Finding an order's card without its refs and without the replay: list the cardholder's
//! cards (`GET /v1/issuing/cards?cardholder_id=...`, spec §7) and match the
//! `metadata.cardbatch_order_ref` that every create carries.
//!
//! UQPAY replays a key's answer for 24 hours only. An order in doubt for longer cannot be
//! resolved by re-sending (a new request would make a second card), so a reconciler uses this
//! instead. The list answer has no `card_order_id`, so the refs found hold `card_id` only.

use super::classify::classify;
use super::client::{UqpayClient, resolution_of};
use super::wire::ErrorBody;
use crate::domain::{ProviderOrder, ProviderRefs};
use crate::providers::http::{classify_transport, retry_after};
use crate::providers::{CallKind, CallReport, Classified, Resolution};
use serde::Deserialize;
use serde_json::Value;

/// Cards per page (UQPAY's maximum).
const PAGE_SIZE: u32 = 100;
/// Pages scanned at most, so one lookup costs at most this many calls of the lane's budget.
pub const MAX_LIST_PAGES: u32 = 20;

/// One page of `GET /v1/issuing/cards`. Both fields are required: a page that does not say how
/// many pages there are (or holds no card list) cannot prove that a card is absent, so it is
/// read as an unreadable answer (look again later), never as "not found".
#[derive(Deserialize)]
struct CardPage {
    total_pages: u32,
    data: Vec<Value>,
}

impl UqpayClient {
    /// Lists the cards of the order's cardholder, page by page (at most [`MAX_LIST_PAGES`]),
    /// for the one whose `metadata.cardbatch_order_ref` is the order's. `Found` carries
    /// `{"card_id"}`; `NotFound` means every page was read; `Unresolvable` that the
    /// cardholder has more cards than the scan reads.
    pub async fn find_by_order_ref(&self, order: &ProviderOrder) -> (Resolution, Vec<CallReport>) {
        let payload = &order.payload;
        let order_ref = payload["metadata"]["cardbatch_order_ref"]
            .as_str()
            .unwrap_or(&order.order_ref)
            .to_string();
        let Some(cardholder_id) = payload["cardholder_id"].as_str() else {
            return (
                Resolution::Unresolvable {
                    code: "invalid_payload".into(),
                    message: "the order's payload has no cardholder_id".into(),
                },
                Vec::new(),
            );
        };
        let mut reports = Vec::new();
        for page_number in 1..=MAX_LIST_PAGES {
            let query = [
                ("cardholder_id", cardholder_id.to_string()),
                ("page_size", PAGE_SIZE.to_string()),
                ("page_number", page_number.to_string()),
            ];
            let exchange = match self
                .with_token(|t| {
                    self.http
                        .get(&self.cards_url)
                        .query(&query)
                        .header("x-auth-token", t.header())
                })
                .await
            {
                Ok(exchange) => exchange,
                Err((e, started_at_ms, started)) => {
                    let report = e.report(started_at_ms, started);
                    return (resolution_of(&report.classified), push(reports, report));
                }
            };
            let page = match &exchange.result {
                Err(e) => Err(classify_transport(e)),
                Ok(answer) if answer.status == 200 => answer
                    .body
                    .as_ref()
                    .ok()
                    .and_then(|b| serde_json::from_slice::<CardPage>(b).ok())
                    .ok_or_else(|| Classified::Unknown {
                        code: "unreadable_answer".into(),
                        message: "the card list answer is not a page of cards".into(),
                    }),
                Ok(answer) => Err(classify(
                    answer.status,
                    &ErrorBody::parse(answer.body.as_deref().unwrap_or_default()),
                    retry_after(&answer.headers),
                )),
            };
            let page = match page {
                Ok(page) => page,
                Err(classified) => {
                    let resolution = match resolution_of(&classified) {
                        // A refused list is not evidence that the card does not exist.
                        Resolution::ResendIsSafe => Resolution::Unresolvable {
                            code: "list_refused".into(),
                            message: format!(
                                "listing the cardholder's cards failed: {classified:?}"
                            ),
                        },
                        other => other,
                    };
                    let report = exchange.report(CallKind::Lookup, classified);
                    return (resolution, push(reports, report));
                }
            };
            let found = page
                .data
                .iter()
                .find(|card| listed_order_ref(card).as_deref() == Some(order_ref.as_str()))
                .and_then(|card| card["card_id"].as_str())
                .map(|card_id| ProviderRefs::new().with(ProviderRefs::CARD_ID, card_id));
            // The page was read: the call succeeded, whether or not the card was on it.
            let refs = found.clone().unwrap_or_default();
            reports.push(exchange.report(CallKind::Lookup, Classified::Accepted { refs }));
            if let Some(refs) = found {
                return (Resolution::Found { refs }, reports);
            }
            if page_number >= page.total_pages {
                return (Resolution::NotFound, reports);
            }
        }
        (
            Resolution::Unresolvable {
                code: "too_many_cards".into(),
                message: format!(
                    "the cardholder has more than {} cards; the order's card was not among the first",
                    MAX_LIST_PAGES * PAGE_SIZE
                ),
            },
            reports,
        )
    }
}

/// The `cardbatch_order_ref` in a listed card's metadata. UQPAY lists `metadata` as JSON text
/// (`"{\"cardbatch_order_ref\": \"r-1\"}"`, the official SDKs' response fixtures) where a
/// single card's read has the object; both are read, so a card made for the order is found
/// whichever way it comes (missing it would mean sending again: a second card).
fn listed_order_ref(card: &Value) -> Option<String> {
    let order_ref = |metadata: &Value| metadata["cardbatch_order_ref"].as_str().map(str::to_string);
    match &card["metadata"] {
        Value::String(text) => serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|m| order_ref(&m)),
        object => order_ref(object),
    }
}

fn push(mut reports: Vec<CallReport>, report: CallReport) -> Vec<CallReport> {
    reports.push(report);
    reports
}

#[cfg(test)]
mod tests {
    use super::{CardPage, listed_order_ref};
    use serde_json::json;

    #[test]
    fn a_page_that_does_not_say_how_many_pages_there_are_proves_nothing() {
        // A page read as "no more pages" would end the scan with "not found": a re-send.
        let without_count = br#"{"data": [], "total_items": 0}"#;
        let not_a_number = br#"{"data": [], "total_pages": "2"}"#;
        let without_cards = br#"{"total_pages": 1}"#;
        let complete = br#"{"data": [], "total_pages": 0}"#;

        assert!(serde_json::from_slice::<CardPage>(without_count).is_err());
        assert!(serde_json::from_slice::<CardPage>(not_a_number).is_err());
        assert!(serde_json::from_slice::<CardPage>(without_cards).is_err());
        assert!(serde_json::from_slice::<CardPage>(complete).is_ok());
    }

    #[test]
    fn the_order_ref_is_read_from_listed_metadata_as_json_text_or_as_an_object() {
        let text = json!({"metadata": "{\"cardbatch_order_ref\": \"r-1\", \"x\": \"测试\"}"});
        let object = json!({"metadata": {"cardbatch_order_ref": "r-2"}});
        assert_eq!(listed_order_ref(&text).as_deref(), Some("r-1"));
        assert_eq!(listed_order_ref(&object).as_deref(), Some("r-2"));
        for none in [
            json!({"metadata": ""}),
            json!({"metadata": "{}"}),
            json!({"metadata": null}),
            json!({"metadata": "not json"}),
            json!({}),
        ] {
            assert_eq!(listed_order_ref(&none), None, "{none}");
        }
    }
}
