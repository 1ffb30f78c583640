//! The Alchemy Pay VCC client: signed POSTs, the create call and the card lookup, each answer
//! classified with [`super::classify`].

use super::classify::{CodeClass, classify};
use super::sign::{ACCESS_KEY, ACCESS_SIGN, ACCESS_TIMESTAMP, AccessKey, canonical_json};
use super::wire::{Envelope, OrderPayload};
use crate::domain::{ProviderOrder, ProviderRefs};
use crate::providers::http::{classify_status, classify_transport, retry_after};
use crate::providers::{CallKind, CallReport, CardStatus, Classified, Provider, Resolution};
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Instant;

/// `POST /open/api/card/create` relative to the base URL.
pub const CREATE_PATH: &str = "/open/api/card/create";
/// `POST /open/api/card/info` relative to the base URL.
pub const INFO_PATH: &str = "/open/api/card/info";

/// An Alchemy Pay client for one profile.
#[derive(Debug, Clone)]
pub struct AlchemyPayClient {
    profile: String,
    http: reqwest::Client,
    /// The base URL without a trailing slash; its path is part of every signed requestPath.
    base_url: String,
    key: AccessKey,
    callback_url: String,
}

/// One HTTP exchange: either the envelope, or the classification of what went wrong before
/// one could be read.
pub(super) struct Exchange {
    started_at_ms: i64,
    duration_ms: i64,
    http_status: Option<u16>,
    pub(super) answer: Result<Envelope, Classified>,
}

impl Exchange {
    pub(super) fn report(&self, kind: CallKind, classified: Classified) -> CallReport {
        CallReport {
            kind,
            classified,
            started_at_ms: self.started_at_ms,
            duration_ms: self.duration_ms,
            http_status: self.http_status,
            provider_code: self.answer.as_ref().ok().map(|e| e.code.to_string()),
        }
    }
}

impl AlchemyPayClient {
    /// A client for `profile` at `base_url` (e.g. `https://host/alchemypay`), signing with
    /// `key`, asking for callbacks on `callback_url`. Fails when `base_url` is not a URL.
    pub fn new(
        profile: &str,
        base_url: &str,
        key: AccessKey,
        callback_url: String,
        http: reqwest::Client,
    ) -> Result<AlchemyPayClient, String> {
        let base_url = base_url.trim_end_matches('/').to_string();
        reqwest::Url::parse(&base_url).map_err(|e| format!("base_url: {e}"))?;
        reqwest::Url::parse(&callback_url).map_err(|e| format!("callback url: {e}"))?;
        Ok(AlchemyPayClient {
            profile: profile.to_string(),
            http,
            base_url,
            key,
            callback_url,
        })
    }

    /// Where Alchemy Pay sends this client's creation callbacks; each create adds its order's
    /// tag ([`super::callback_tag`]) as the last path segment.
    pub fn callback_url(&self) -> &str {
        &self.callback_url
    }

    /// Sends `body` (canonicalised, then signed) to `path`.
    pub(super) async fn post(&self, path: &str, body: &Value) -> Exchange {
        let started_at_ms = chrono::Utc::now().timestamp_millis();
        let clock = Instant::now();
        let url = format!("{}{path}", self.base_url);
        let body = canonical_json(body);
        let answer = match reqwest::Url::parse(&url) {
            Err(e) => Err(Classified::Permanent {
                code: "bad_url".into(),
                message: format!("{url}: {e}"),
            }),
            Ok(url) => {
                // The requestPath is the full path as sent, base path prefix included.
                let request_path = match url.query() {
                    Some(q) => format!("{}?{q}", url.path()),
                    None => url.path().to_string(),
                };
                let signed = self.key.sign(started_at_ms, "POST", &request_path, &body);
                let sent = self
                    .http
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(ACCESS_KEY, signed.key)
                    .header(ACCESS_TIMESTAMP, signed.timestamp)
                    .header(ACCESS_SIGN, signed.sign)
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Err(e) => Err(classify_transport(&e)),
                    Ok(response) => return self.read(response, started_at_ms, clock).await,
                }
            }
        };
        Exchange {
            started_at_ms,
            duration_ms: clock.elapsed().as_millis() as i64,
            http_status: None,
            answer,
        }
    }

    async fn read(
        &self,
        response: reqwest::Response,
        started_at_ms: i64,
        clock: Instant,
    ) -> Exchange {
        let status = response.status().as_u16();
        let wait = retry_after(response.headers());
        let bytes = response.bytes().await;
        let envelope = bytes
            .as_ref()
            .ok()
            .and_then(|b| serde_json::from_slice::<Envelope>(b).ok());
        let body_code = envelope.as_ref().map(|e| e.code.to_string());
        let answer = if let Some(c) = classify_status(status, wait, body_code.as_deref()) {
            Err(c)
        } else {
            match (envelope, bytes) {
                (Some(envelope), _) => Ok(envelope),
                // The status line arrived, the body did not: whatever the provider did is lost.
                (None, Err(e)) => Err(Classified::Unknown {
                    code: "transport".into(),
                    message: format!("HTTP {status}, then the body was lost: {e}"),
                }),
                (None, Ok(_)) if (200..300).contains(&status) => Err(Classified::Unknown {
                    code: "unreadable".into(),
                    message: format!("HTTP {status} with a body that is not the envelope"),
                }),
                (None, Ok(_)) => Err(Classified::Permanent {
                    code: format!("http_{status}"),
                    message: format!("the provider answered HTTP {status} without an envelope"),
                }),
            }
        };
        Exchange {
            started_at_ms,
            duration_ms: clock.elapsed().as_millis() as i64,
            http_status: Some(status),
            answer,
        }
    }

    /// The refs of an accepted order: `order_no`, and `card_id` when the answer carries one.
    fn refs(order_no: &str, envelope: &Envelope) -> ProviderRefs {
        let refs = ProviderRefs::new().with(ProviderRefs::ORDER_NO, order_no);
        match envelope.card_id() {
            Some(card_id) => refs.with(ProviderRefs::CARD_ID, card_id),
            None => refs,
        }
    }

    /// Sends the create call for `order` (its idempotency key is the `orderNo`).
    pub async fn create_card(&self, order: &ProviderOrder) -> CallReport {
        let payload = match OrderPayload::deserialize(&order.payload) {
            Ok(p) => p,
            Err(e) => {
                let now = chrono::Utc::now().timestamp_millis();
                return CallReport {
                    kind: CallKind::Create,
                    classified: Classified::Permanent {
                        code: "bad_payload".into(),
                        message: format!("the stored order is not an Alchemy Pay order: {e}"),
                    },
                    started_at_ms: now,
                    duration_ms: 0,
                    http_status: None,
                    provider_code: None,
                };
            }
        };
        // The callback URL names this order: see `callback_mac`.
        let callback_url = format!(
            "{}/{}",
            self.callback_url,
            super::callback_tag(&self.key.secret, &order.idempotency_key)
        );
        let body = payload.create_body(&order.idempotency_key, &callback_url);
        let exchange = self.post(CREATE_PATH, &body).await;
        let classified = match &exchange.answer {
            Err(c) => c.clone(),
            Ok(e) if e.is_success() => Classified::Accepted {
                refs: Self::refs(&order.idempotency_key, e),
            },
            Ok(e) => match classify(e.code) {
                (CodeClass::AlreadyDone, _) => Classified::Accepted {
                    refs: Self::refs(&order.idempotency_key, e),
                },
                (CodeClass::Success, _) => Classified::Unknown {
                    code: e.code.to_string(),
                    message: "code 0 without the success flag: the outcome is unclear".into(),
                },
                (class, why) => from_class(class, e, why),
            },
        };
        tracing::debug!(
            profile = %self.profile,
            order_ref = %order.order_ref,
            http_status = ?exchange.http_status,
            code = ?exchange.answer.as_ref().ok().map(|e| e.code),
            "alchemypay create answered"
        );
        exchange.report(CallKind::Create, classified)
    }

    /// Looks the order's card up by the `card_id` we hold; without one, re-sending the same
    /// orderNo is the lookup (`300001` means already created, never a second card).
    pub async fn resolve_order(&self, order: &ProviderOrder) -> (Resolution, Vec<CallReport>) {
        let Some(card_id) = order.refs.get(ProviderRefs::CARD_ID) else {
            return (Resolution::ResendIsSafe, Vec::new());
        };
        let (resolution, report) = self.card_lookup(card_id, &order.idempotency_key).await;
        (resolution, vec![report])
    }

    /// `POST /open/api/card/info` for `card_id`, expected to belong to `order_no`: `Found` with
    /// `{"order_no","card_id"}`, `Transient` when the read may pass later, `Unresolvable` when
    /// Alchemy Pay does not know the card or it belongs to another orderNo. Also what a
    /// callback handler can use to confirm a card before trusting an unsigned v1 callback.
    pub async fn card_lookup(&self, card_id: &str, order_no: &str) -> (Resolution, CallReport) {
        let exchange = self.post(INFO_PATH, &json!({ "cardId": card_id })).await;
        let (resolution, classified) = match &exchange.answer {
            Err(c) => (Resolution::after_failed_lookup(c), c.clone()),
            Ok(e) if e.is_success() => {
                let card = e.model.as_ref().and_then(|m| m.card.as_ref());
                let owner = card.and_then(|c| c.order_no.as_deref());
                if owner.is_some_and(|n| n != order_no) {
                    let c = Classified::NeedsReview {
                        code: "order_mismatch".into(),
                        message: format!("card {card_id} belongs to another orderNo"),
                    };
                    (Resolution::after_failed_lookup(&c), c)
                } else {
                    let refs = ProviderRefs::new()
                        .with(ProviderRefs::ORDER_NO, order_no)
                        .with(ProviderRefs::CARD_ID, card_id);
                    (
                        Resolution::Found { refs: refs.clone() },
                        Classified::Accepted { refs },
                    )
                }
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
                (Resolution::after_failed_lookup(&c), c)
            }
        };
        (resolution, exchange.report(CallKind::Lookup, classified))
    }
}

pub(super) fn from_class(class: CodeClass, e: &Envelope, why: &str) -> Classified {
    let code = e.code.to_string();
    let message = format!("{} ({why})", e.message());
    match class {
        CodeClass::Transient { retry_after } => Classified::Transient {
            code,
            message,
            retry_after,
            rate_limited: false,
        },
        CodeClass::Unknown => Classified::Unknown { code, message },
        CodeClass::Permanent | CodeClass::Success | CodeClass::AlreadyDone => {
            Classified::Permanent { code, message }
        }
    }
}

impl Provider for AlchemyPayClient {
    fn create<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, CallReport> {
        Box::pin(self.create_card(order))
    }

    fn resolve<'a>(
        &'a self,
        order: &'a ProviderOrder,
    ) -> BoxFuture<'a, (Resolution, Vec<CallReport>)> {
        Box::pin(self.resolve_order(order))
    }

    fn status<'a>(
        &'a self,
        order: &'a ProviderOrder,
    ) -> BoxFuture<'a, (CardStatus, Vec<CallReport>)> {
        Box::pin(self.card_status(order))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_carry_the_card_id_when_the_answer_has_one() {
        let with: Envelope =
            serde_json::from_str(r#"{"code":"0","success":true,"model":{"cardId":"c_9"}}"#)
                .unwrap();
        let without: Envelope =
            serde_json::from_str(r#"{"code":"0","success":true,"model":{"activeLink":"x"}}"#)
                .unwrap();
        assert_eq!(
            AlchemyPayClient::refs("cb1", &with),
            ProviderRefs::new()
                .with(ProviderRefs::ORDER_NO, "cb1")
                .with(ProviderRefs::CARD_ID, "c_9")
        );
        assert_eq!(
            AlchemyPayClient::refs("cb1", &without),
            ProviderRefs::new().with(ProviderRefs::ORDER_NO, "cb1")
        );
    }
}
