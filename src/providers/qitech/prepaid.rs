//! QI Tech prepaid cards: `POST /prepaid/card` (spec `qitech-prepaid.md` §6) and the lookups
//! that resolve doubt (§7, §10).
//!
//! The endpoint has no idempotency key: a re-POST makes a second card. The order's idempotency
//! key is sent as the card's `card_name` (unique per order, 15 characters, made at ingest), so
//! when an answer is lost the card is found by listing the account's cards and matching that
//! name, and only a search that finds nothing allows a re-send.
//!
//! A lookup that QI answered is recorded as `Accepted` with what it found (`{}` when the page
//! held no match): the call itself succeeded; [`Resolution`] says what it means for the order.

use super::classify::QiCall;
use super::outcome::{failure, local_refusal};
use super::transport::QiTransport;
use crate::domain::{ProviderOrder, ProviderRefs};
use crate::providers::{CallKind, CallReport, CardStatus, Classified, Provider, Resolution};
use futures::future::BoxFuture;
use reqwest::Method;
use serde_json::Value;

/// Cards asked for per page of the list (the sandbox's maximum; QI documents none).
const PAGE_SIZE: u32 = 100;
/// A bound on the pages read in one resolve, in case `next_page` never ends.
const MAX_PAGES: u32 = 10_000;

/// The QI Tech prepaid client of one profile.
pub struct QiPrepaid {
    transport: QiTransport,
}

impl QiPrepaid {
    /// A client sending through `transport`.
    pub fn new(transport: QiTransport) -> QiPrepaid {
        QiPrepaid { transport }
    }

    async fn create_card(&self, order: &ProviderOrder) -> CallReport {
        let body = match wire_body(order) {
            Ok(body) => body,
            Err(problem) => return local_refusal(problem),
        };
        let exchange = self
            .transport
            .call(Method::POST, "/prepaid/card", Some(body))
            .await;
        let classified = match &exchange.answer {
            Err(classified) => classified.clone(),
            Ok(answer) if answer.is_success() => match card_key(&answer.json) {
                Some(key) => Classified::Accepted {
                    refs: card_refs(key),
                },
                None => Classified::Unknown {
                    code: format!("http_{}", answer.status),
                    message: "QI answered success without a card_key".into(),
                },
            },
            Ok(answer) => failure(QiCall::PrepaidCreate, answer),
        };
        if !matches!(classified, Classified::Accepted { .. }) {
            tracing::debug!(order_ref = %order.order_ref, ?classified, "qitech prepaid create");
        }
        exchange.report(CallKind::Create, classified)
    }

    async fn resolve_card(&self, order: &ProviderOrder) -> (Resolution, Vec<CallReport>) {
        match order.refs.get(ProviderRefs::CARD_KEY) {
            Some(card_key) => self.get_by_key(card_key).await,
            None => self.find_by_name(order).await,
        }
    }

    /// `GET /prepaid/card/{card_key}`: the card of refs we already hold.
    async fn get_by_key(&self, card_key: &str) -> (Resolution, Vec<CallReport>) {
        let path = format!("/prepaid/card/{card_key}");
        let exchange = self.transport.call(Method::GET, &path, None).await;
        let (resolution, classified) = match &exchange.answer {
            Ok(answer) if answer.is_success() && card_key_is(&answer.json, card_key) => {
                let refs = card_refs(card_key);
                (
                    Resolution::Found { refs: refs.clone() },
                    Classified::Accepted { refs },
                )
            }
            Ok(answer) if answer.is_success() => {
                let c = Classified::Unknown {
                    code: format!("http_{}", answer.status),
                    message: format!("QI answered the card {card_key} with another card"),
                };
                (Resolution::after_failed_lookup(&c), c)
            }
            Ok(answer) => {
                let c = failure(QiCall::Lookup, answer);
                (Resolution::after_failed_lookup(&c), c)
            }
            Err(c) => (Resolution::after_failed_lookup(c), c.clone()),
        };
        (
            resolution,
            vec![exchange.report(CallKind::Lookup, classified)],
        )
    }

    /// Lists the account's cards page by page and matches the order's `card_name`.
    async fn find_by_name(&self, order: &ProviderOrder) -> (Resolution, Vec<CallReport>) {
        let name = order.idempotency_key.as_str();
        let Some(account_key) = order.payload.get("account_key").and_then(Value::as_str) else {
            let problem = "the order has no account_key to list cards of".to_string();
            return (
                Resolution::Unresolvable {
                    code: "invalid_payload".into(),
                    message: problem,
                },
                Vec::new(),
            );
        };
        let mut reports = Vec::new();
        let mut found: Vec<String> = Vec::new();
        let mut page = 0;
        loop {
            let path =
                format!("/prepaid/card?account_key={account_key}&size={PAGE_SIZE}&page={page}");
            let exchange = self.transport.call(Method::GET, &path, None).await;
            let listed = match &exchange.answer {
                Ok(answer) if answer.is_success() => read_page(&answer.json, name),
                Ok(answer) => Err(failure(QiCall::Lookup, answer)),
                Err(c) => Err(c.clone()),
            };
            let (matches, next) = match listed {
                Ok(listed) => listed,
                Err(classified) => {
                    reports.push(exchange.report(CallKind::Lookup, classified.clone()));
                    return (Resolution::after_failed_lookup(&classified), reports);
                }
            };
            let refs = match matches.first() {
                Some(key) => card_refs(key),
                None => ProviderRefs::new(),
            };
            reports.push(exchange.report(CallKind::Lookup, Classified::Accepted { refs }));
            found.extend(matches);
            // Only a page that says it is the last proves that the card is absent.
            match next {
                None => break,
                Some(next) if next <= page => {
                    let c = Classified::Unknown {
                        code: "unreadable_list".into(),
                        message: format!(
                            "QI's card list went from page {page} back to page {next}"
                        ),
                    };
                    return (Resolution::after_failed_lookup(&c), reports);
                }
                Some(_) if found.is_empty() && page + 1 >= MAX_PAGES => {
                    return (
                        Resolution::Unresolvable {
                            code: "too_many_cards".into(),
                            message: format!(
                                "account {account_key} has more than {} cards; card_name {name} \
                                 was not on the first {MAX_PAGES} pages and cannot be ruled out",
                                MAX_PAGES * PAGE_SIZE
                            ),
                        },
                        reports,
                    );
                }
                Some(_) if page + 1 >= MAX_PAGES => break,
                Some(next) => page = next,
            }
        }
        let resolution = match found.as_slice() {
            [] => Resolution::NotFound,
            [card_key] => Resolution::Found {
                refs: card_refs(card_key),
            },
            several => Resolution::Unresolvable {
                code: "duplicate_card_name".into(),
                message: format!(
                    "{} cards carry card_name {name}: {}; an operator must keep one and cancel the others",
                    several.len(),
                    several.join(", ")
                ),
            },
        };
        (resolution, reports)
    }
}

impl Provider for QiPrepaid {
    fn create<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, CallReport> {
        Box::pin(self.create_card(order))
    }

    fn resolve<'a>(
        &'a self,
        order: &'a ProviderOrder,
    ) -> BoxFuture<'a, (Resolution, Vec<CallReport>)> {
        Box::pin(self.resolve_card(order))
    }

    fn status<'a>(
        &'a self,
        order: &'a ProviderOrder,
    ) -> BoxFuture<'a, (CardStatus, Vec<CallReport>)> {
        Box::pin(async move {
            let Some(card_key) = order.refs.get(ProviderRefs::CARD_KEY) else {
                return (CardStatus::missing("card_key"), Vec::new());
            };
            let path = format!("/prepaid/card/{card_key}");
            super::status::card_status(&self.transport, &path, card_key).await
        })
    }
}

/// The create body: the order as ingest validated it, plus `card_name` = the order's key.
fn wire_body(order: &ProviderOrder) -> Result<Vec<u8>, String> {
    let Value::Object(mut body) = order.payload.clone() else {
        return Err("the order payload is not a JSON object".into());
    };
    body.insert(
        "card_name".into(),
        Value::String(order.idempotency_key.clone()),
    );
    Ok(serde_json::to_vec(&body).expect("a JSON map serialises"))
}

/// `(card_keys named name, next page)` of one list page; `None` = this is the last page (QI
/// says so with `"next_page": null`). A page whose pagination cannot be read is an error: it
/// cannot prove that the card is absent.
fn read_page(json: &Value, name: &str) -> Result<(Vec<String>, Option<u32>), Classified> {
    let Some(cards) = json.get("data").and_then(Value::as_array) else {
        return Err(Classified::Unknown {
            code: "unreadable_list".into(),
            message: "QI's card list has no `data` array".into(),
        });
    };
    let matches = cards
        .iter()
        .filter(|card| card.get("card_name").and_then(Value::as_str) == Some(name))
        .filter_map(|card| card_key(card).map(str::to_string))
        .collect();
    let unreadable = |why: &str| Classified::Unknown {
        code: "unreadable_list".into(),
        message: format!("QI's card list {why}: it cannot prove the card is absent"),
    };
    let next = match json.pointer("/pagination/next_page") {
        None => return Err(unreadable("has no pagination.next_page")),
        Some(Value::Null) => None,
        Some(n) => Some(
            n.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| unreadable("has a next_page that is not a page number"))?,
        ),
    };
    Ok((matches, next))
}

/// The refs of a QI prepaid card: its `card_key`.
fn card_refs(card_key: &str) -> ProviderRefs {
    ProviderRefs::new().with(ProviderRefs::CARD_KEY, card_key)
}

fn card_key(json: &Value) -> Option<&str> {
    json.get("card_key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
}

fn card_key_is(json: &Value, expected: &str) -> bool {
    card_key(json) == Some(expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_page_whose_next_page_is_null_is_the_last() {
        let last = json!({"pagination": {"next_page": null}, "data": [
            {"card_name": "cbx", "card_key": "k1"}, {"card_name": "other", "card_key": "k2"}]});
        assert_eq!(read_page(&last, "cbx"), Ok((vec!["k1".to_string()], None)));
        let more = json!({"pagination": {"next_page": 3}, "data": []});
        assert_eq!(read_page(&more, "cbx"), Ok((vec![], Some(3))));
    }

    #[test]
    fn a_page_whose_pagination_cannot_be_read_proves_nothing() {
        for page in [
            json!({"data": []}),
            json!({"pagination": {}, "data": []}),
            json!({"pagination": {"next_page": "2"}, "data": []}),
            json!({"pagination": {"next_page": -1}, "data": []}),
        ] {
            let err = read_page(&page, "cbx").unwrap_err();
            assert!(
                matches!(
                    Resolution::after_failed_lookup(&err),
                    Resolution::Transient { .. }
                ),
                "{page}: {err:?}"
            );
        }
    }
}
