//! The Alchemy Pay VCC simulator (seed 001), nested under `/alchemypay`.
//!
//! - `POST /open/api/card/create` (`create.rs`): `ach-access-*` signature (`auth.rs`), reverse
//!   validation with the merchant (`reverse.rs`), `orderNo` uniqueness (300001, or 600003 while
//!   the first request with that orderNo is still being processed), merchant balance (300004),
//!   then the card lifecycle and its callbacks (`lifecycle.rs`).
//! - `POST /open/api/card/info` (`info.rs`).
//! - `POST /open/api/card/deposit`: tops up an `ACTIVE` card from the merchant balance
//!   (`orderNo` unique among deposits: 300001; merchant balance: 300004).
//! - `POST /open/api/card/withdraw/refund`: moves part of an `ACTIVE` card's balance back to the
//!   merchant balance (`orderNo` unique among refunds; above the card's balance: 403101).
//! - `POST /open/api/card/cancel`: the card becomes `CANCELED` and its balance goes back.
//! - `POST /open/api/card/trade/list`: the card's deposits and refunds (a cancellation's
//!   too), newest first, paged.
//!
//! The last four are in `operations.rs` (their choices there), their records in `trades.rs`.
//! A card of another access key is "404005 Card does not exist" everywhere.
//!
//! Every answer is the envelope `{code, msg, model, traceId, success, error}`.
//!
//! Sandbox choices where the spec is silent or says [inferred]:
//! - Business errors are HTTP 200 with `success: false`; `code` is a string (`"300001"`).
//! - The signature check comes first (content type, headers, key, window, signature), then the
//!   rate limit, the latency, the fault roll, validation, `orderNo`, reverse validation, balance.
//! - POSTs must be `application/json` (200003).
//! - Rate limit (token bucket `faults.rate_limit_per_sec` per access key; none is documented):
//!   HTTP 429, envelope code `"429"`, `Retry-After` in seconds.
//! - Transient faults answer one of 100000 / 500000 / 600002 (picked on the seeded RNG); the
//!   orderNo is not consumed, so the client may retry it.
//! - A lost response happens after the card was created, so a retry with the same orderNo gets
//!   300001 and the client must wait for the callback (or the ledger shows the card).
//! - The merchant balance is shared by every access key (one merchant).
//! - A card's `balance` is its deposits minus its refunds (0 once cancelled, or after a refused
//!   creation); its `deposit` is everything deposited, the initial deposit included. The card
//!   operations roll no faults.

mod auth;
mod card_data;
mod cards;
mod create;
mod info;
mod lifecycle;
mod operations;
mod reverse;
mod trades;
mod wire;

pub use auth::{canonical_body, sign};
pub use create::DEPOSIT_RANGE_CENTS;
pub use lifecycle::retry_schedule;

use super::config::{DEV_ALCHEMYPAY_SECRET_KEY, ProviderSettings};
use super::core::{Core, retry_after_secs};
use super::server::ALCHEMYPAY_MOUNT;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cardbatch_types::ProviderKind;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::Arc;
use wire::AchError;

/// The provider name in stats, faults and the ledger.
pub const PROVIDER: &str = "alchemypay_vcc";

/// The simulator's state.
#[derive(Debug)]
pub struct AlchemyPay {
    core: Arc<Core>,
    cards: cards::CardStore,
    http: reqwest::Client,
}

impl AlchemyPay {
    fn settings(&self) -> &ProviderSettings {
        self.core.settings(ProviderKind::AlchemypayVcc)
    }

    /// The secret of an access key: configured, or the development secret for a key listed in
    /// the fixtures.
    fn secret_of(&self, key: &str) -> Option<String> {
        self.settings().credentials.get(key).cloned().or_else(|| {
            self.core
                .fixtures
                .alchemypay
                .access_keys
                .iter()
                .any(|k| k == key)
                .then(|| DEV_ALCHEMYPAY_SECRET_KEY.to_string())
        })
    }

    /// Checks the content type and the `ach-access-*` signature; returns the access key.
    fn authenticate(
        &self,
        headers: &HeaderMap,
        method: &str,
        uri: &Uri,
        body: &[u8],
    ) -> Result<String, AchError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if method == "POST" {
            let content_type = header("content-type").unwrap_or_default();
            if !content_type
                .to_ascii_lowercase()
                .starts_with("application/json")
            {
                return Err(AchError::new(
                    200003,
                    format!("the content must be application/json,[{content_type}]"),
                ));
            }
        }
        let path_and_query = uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or_else(|| uri.path());
        // At Alchemy Pay there is no mount: a client given the sandbox's base URL signs the
        // path it asked for, `/open/api/card/create`.
        let relative = path_and_query
            .strip_prefix(ALCHEMYPAY_MOUNT)
            .unwrap_or(path_and_query);
        auth::verify(
            auth::Signed {
                key: header("ach-access-key"),
                timestamp: header("ach-access-timestamp"),
                sign: header("ach-access-sign"),
            },
            |k| self.secret_of(k),
            self.core.clock.now_ms(),
            method,
            &[path_and_query, relative],
            body,
        )
    }

    /// What every request but create goes through: the signature, the rate limit and the
    /// latency, then a body that must be a JSON object (200004). Returns the access key and the
    /// body.
    async fn signed_object(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
        body: &[u8],
    ) -> Result<(String, Value), AchError> {
        let access_key = self.authenticate(headers, "POST", uri, body)?;
        self.rate_limit(&access_key)?;
        self.core.latency(PROVIDER).await;
        let request = serde_json::from_slice(body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| {
                AchError::new(200004, "Request parameter format error requires JSON:body")
            })?;
        Ok((access_key, request))
    }

    fn rate_limit(&self, access_key: &str) -> Result<(), AchError> {
        self.core
            .rate_limit(PROVIDER, access_key)
            .map_err(|wait| AchError::rate_limited(retry_after_secs(wait)))
    }

    /// An issuer login link with a one-hour HS256 token, shaped like the seed's `activeLink`.
    fn active_link(&self, card: &cards::Card) -> String {
        let now = self.core.clock.now_secs();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = json!({
            "sub": card.card_id, "aud": "urn:my-resource-server", "iss": "https://web3auth.io",
            "iat": now, "exp": now + 3600,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut mac =
            Hmac::<Sha256>::new_from_slice(format!("ach-{}", self.core.config.seed).as_bytes())
                .expect("any key length");
        mac.update(format!("{header}.{claims}").as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("https://card.sandbox.invalid/login?wallet=8012&token={header}.{claims}.{sig}")
    }
}

/// The Alchemy Pay routes, nested under `/alchemypay`.
pub fn router(core: Arc<Core>) -> Router {
    let http = reqwest::Client::builder()
        .timeout(reverse::CHECK_TIMEOUT)
        .build()
        .expect("a plain reqwest client builds");
    let state = Arc::new(AlchemyPay {
        cards: cards::CardStore::new(core.fixtures.alchemypay.merchant_balance_cents),
        http,
        core,
    });
    Router::new()
        .route("/open/api/card/create", post(create::create_card))
        .route("/open/api/card/info", post(info::card_info))
        .route("/open/api/card/deposit", post(operations::deposit_card))
        .route(
            "/open/api/card/withdraw/refund",
            post(operations::refund_card),
        )
        .route("/open/api/card/cancel", post(operations::cancel_card))
        .route("/open/api/card/trade/list", post(operations::trade_list))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            count_request,
        ))
        .with_state(state)
}

async fn count_request(
    State(alchemy): State<Arc<AlchemyPay>>,
    request: Request,
    next: Next,
) -> Response {
    alchemy.core.stats.incr(PROVIDER, "requests");
    next.run(request).await
}
