//! The UQPAY client: `POST /v1/issuing/cards` with the order's `x-idempotency-key`, and the
//! lookup that resolves an order in doubt.
//!
//! UQPAY replays the original answer to a repeated key for 24 hours (spec §4), so re-sending an
//! order with its own key is itself the safe lookup: a card created by a request whose answer
//! was lost comes back with its `card_id`, and no second card is made. Past that window a resend
//! could make a second card, so an order that old is looked for in its cardholder's card list
//! instead ([`UqpayClient::find_by_order_ref`]).

use super::classify::classify;
use super::token::{Token, TokenError, TokenManager};
use super::wire::{self, CreateCardResponse, ErrorBody};
use crate::domain::{ProviderOrder, ProviderRefs};
use crate::providers::http::{classify_transport, retry_after};
use crate::providers::{CallKind, CallReport, CardStatus, Classified, Provider, Resolution};
use axum::body::Bytes;
use futures::future::BoxFuture;
use reqwest::header::HeaderMap;
use std::sync::Arc;
use std::time::Instant;

/// How old an order may be for a resend to count on UQPAY's 24-hour replay: an hour of margin
/// for clocks and for a request still travelling. The order's queueing time bounds its first
/// call from below, so an order younger than this has no call older than this either.
pub const REPLAY_TRUSTED_FOR_MS: i64 = 23 * 3600 * 1000;

/// A client for one UQPAY profile.
#[derive(Debug)]
pub struct UqpayClient {
    profile: String,
    pub(super) cards_url: String,
    on_behalf_of: Option<String>,
    pub(super) http: reqwest::Client,
    tokens: Arc<TokenManager>,
}

/// One HTTP exchange: what came back (or the transport error) and its timing.
pub(super) struct Exchange {
    started_at_ms: i64,
    started: Instant,
    pub(super) result: Result<Answer, reqwest::Error>,
}

pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    /// reqwest's body bytes (`bytes::Bytes`, which axum re-exports).
    pub(super) body: Result<Bytes, reqwest::Error>,
}

impl Exchange {
    fn status(&self) -> Option<u16> {
        self.result.as_ref().ok().map(|a| a.status)
    }

    /// The report of this exchange, with `classified` as decided by the caller.
    pub(super) fn report(&self, kind: CallKind, classified: Classified) -> CallReport {
        let provider_code = match &classified {
            Classified::Accepted { .. } => None,
            Classified::Transient { code, .. }
            | Classified::Permanent { code, .. }
            | Classified::Unknown { code, .. }
            | Classified::NeedsReview { code, .. } => Some(code.clone()),
        };
        CallReport {
            kind,
            classified,
            started_at_ms: self.started_at_ms,
            duration_ms: self.started.elapsed().as_millis() as i64,
            http_status: self.status(),
            provider_code,
        }
    }

    /// Classifies a create answer: 2xx with refs is accepted (the replay of an earlier answer
    /// included); a 2xx we cannot read, or no answer after sending, is unknown.
    fn classify_create(&self) -> Classified {
        let answer = match &self.result {
            Ok(answer) => answer,
            Err(e) => return classify_transport(e),
        };
        let body = match &answer.body {
            Ok(body) => body,
            Err(e) if (200..300).contains(&answer.status) => return classify_transport(e),
            Err(_) => &Bytes::new(),
        };
        if (200..300).contains(&answer.status) {
            return match serde_json::from_slice::<CreateCardResponse>(body) {
                Ok(created) => Classified::Accepted {
                    refs: ProviderRefs::new()
                        .with(ProviderRefs::CARD_ID, created.card_id)
                        .with(ProviderRefs::CARD_ORDER_ID, created.card_order_id),
                },
                Err(e) => Classified::Unknown {
                    code: "unreadable_answer".into(),
                    message: format!(
                        "UQPAY answered HTTP {} with a body that is not a create answer: {e}",
                        answer.status
                    ),
                },
            };
        }
        classify(
            answer.status,
            &ErrorBody::parse(body),
            retry_after(&answer.headers),
        )
    }
}

impl UqpayClient {
    /// A client for `profile` at `base_url` (e.g. `https://api.uqpay.com/api`), using `tokens`
    /// (one manager per profile per process, shared by every worker). `on_behalf_of` is the
    /// optional `x-on-behalf-of` sub-account.
    pub fn new(
        profile: &str,
        base_url: &str,
        on_behalf_of: Option<String>,
        http: reqwest::Client,
        tokens: Arc<TokenManager>,
    ) -> UqpayClient {
        UqpayClient {
            profile: profile.to_string(),
            cards_url: format!("{}/v1/issuing/cards", base_url.trim_end_matches('/')),
            on_behalf_of,
            http,
            tokens,
        }
    }

    /// The profile's token manager.
    pub fn tokens(&self) -> &Arc<TokenManager> {
        &self.tokens
    }

    async fn exchange(&self, request: reqwest::RequestBuilder) -> Exchange {
        let started_at_ms = chrono::Utc::now().timestamp_millis();
        let started = Instant::now();
        let result = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let body = response.bytes().await;
                Ok(Answer {
                    status,
                    headers,
                    body,
                })
            }
            Err(e) => Err(e),
        };
        Exchange {
            started_at_ms,
            started,
            result,
        }
    }

    fn post_create(&self, token: &Token, key: &str, body: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.cards_url)
            .header("x-auth-token", token.header())
            .header("x-idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(account) = &self.on_behalf_of {
            request = request.header("x-on-behalf-of", account);
        }
        request
    }

    /// Sends `build(token)`; on a 401 gets another token (adopted or minted) and sends once
    /// more. The 401 exchange is noted in tracing only: the caller reports the final one.
    pub(super) async fn with_token(
        &self,
        build: impl Fn(&Token) -> reqwest::RequestBuilder,
    ) -> Result<Exchange, (TokenError, i64, Instant)> {
        let (started_at_ms, started) = (chrono::Utc::now().timestamp_millis(), Instant::now());
        let token = self
            .tokens
            .token()
            .await
            .map_err(|e| (e, started_at_ms, started))?;
        let first = self.exchange(build(&token)).await;
        if first.status() != Some(401) {
            return Ok(first);
        }
        tracing::info!(
            profile = %self.profile,
            "UQPAY refused the access token (401); getting another and sending once more with the same key"
        );
        let token = self
            .tokens
            .rejected(&token)
            .await
            .map_err(|e| (e, started_at_ms, started))?;
        Ok(self.exchange(build(&token)).await)
    }

    async fn create_card(&self, order: &ProviderOrder) -> CallReport {
        let body = match wire::create_body(&order.payload) {
            Ok(body) => body.to_string(),
            Err(message) => {
                return CallReport {
                    kind: CallKind::Create,
                    classified: Classified::Permanent {
                        code: "invalid_payload".into(),
                        message,
                    },
                    started_at_ms: chrono::Utc::now().timestamp_millis(),
                    duration_ms: 0,
                    http_status: None,
                    provider_code: Some("invalid_payload".into()),
                };
            }
        };
        let key = order.idempotency_key.as_str();
        match self.with_token(|t| self.post_create(t, key, &body)).await {
            Ok(exchange) => exchange.report(CallKind::Create, exchange.classify_create()),
            Err((e, started_at_ms, started)) => e.report(started_at_ms, started),
        }
    }

    /// With a `card_id` from an earlier attempt: `GET /v1/issuing/cards/{card_id}`. Without
    /// one: re-sending with the order's key replays UQPAY's original answer, so it is safe, as
    /// long as the order is younger than [`REPLAY_TRUSTED_FOR_MS`]; an older one is looked for
    /// by listing its cardholder's cards.
    async fn resolve_order(&self, order: &ProviderOrder) -> (Resolution, Vec<CallReport>) {
        self.resolve_order_at(order, chrono::Utc::now().timestamp_millis())
            .await
    }

    /// [`Self::resolve_order`] with the clock given, for tests.
    pub async fn resolve_order_at(
        &self,
        order: &ProviderOrder,
        now_ms: i64,
    ) -> (Resolution, Vec<CallReport>) {
        let refs = &order.refs;
        let card_id = refs
            .get(ProviderRefs::CARD_ID)
            .filter(|id| id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        let Some(card_id) = card_id else {
            if self.resend_needs_lookup(order, now_ms) {
                return self.find_by_order_ref(order).await;
            }
            return (Resolution::ResendIsSafe, Vec::new());
        };
        let url = format!("{}/{card_id}", self.cards_url);
        let exchange = match self
            .with_token(|t| self.http.get(&url).header("x-auth-token", t.header()))
            .await
        {
            Ok(exchange) => exchange,
            Err((e, started_at_ms, started)) => {
                // Always transient: no token, no lookup.
                let report = e.report(started_at_ms, started);
                return (resolution_of(&report.classified), vec![report]);
            }
        };
        let classified = match &exchange.result {
            Err(e) => classify_transport(e),
            Ok(answer) if answer.status == 200 => Classified::Accepted { refs: refs.clone() },
            Ok(answer) => classify(
                answer.status,
                &ErrorBody::parse(answer.body.as_deref().unwrap_or_default()),
                retry_after(&answer.headers),
            ),
        };
        (
            resolution_of(&classified),
            vec![exchange.report(CallKind::Lookup, classified)],
        )
    }
}

/// What a lookup's answer says about the order in doubt.
pub(super) fn resolution_of(classified: &Classified) -> Resolution {
    match classified {
        Classified::Accepted { refs } => Resolution::Found { refs: refs.clone() },
        Classified::Transient {
            code,
            message,
            retry_after,
            ..
        } => Resolution::Transient {
            code: code.clone(),
            message: message.clone(),
            retry_after: *retry_after,
        },
        Classified::Unknown { code, message } => Resolution::Transient {
            code: code.clone(),
            message: message.clone(),
            retry_after: None,
        },
        // The card we hold refs for is not there (or the lookup is refused): the replay of the
        // key is still authoritative, so re-sending is the safe lookup.
        Classified::Permanent { .. } | Classified::NeedsReview { .. } => Resolution::ResendIsSafe,
    }
}

impl Provider for UqpayClient {
    /// The key's replay may have lapsed: no call for the order can be older than the order.
    fn resend_needs_lookup(&self, order: &ProviderOrder, now_ms: i64) -> bool {
        now_ms - order.queued_at_ms >= REPLAY_TRUSTED_FOR_MS
    }

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
