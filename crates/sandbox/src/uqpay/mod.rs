//! The UQPAY issuing simulator, nested under `/uqpay/api` (UQPAY's base URL ends in `/api`).
//!
//! - `POST /v1/connect/token` (`x-client-id`, `x-api-key`): a 30-minute HS256 JWT carrying the
//!   account claims the SDKs read; a new token revokes the client's older ones (see `auth.rs`).
//! - `POST /v1/issuing/cards` with `x-auth-token: Bearer ...` and `x-idempotency-key`: see
//!   `create.rs`, `validate.rs`, `idempotency.rs`, `funds.rs` (SINGLE-mode issuing balance,
//!   BIN card pools); the card is PENDING, then ACTIVE or FAILED
//!   with a signed webhook (`lifecycle.rs`).
//! - `GET /v1/issuing/cards[/{card_id}[/order]]`, `GET /v1/issuing/products` (`lookup.rs`).
//! - `POST /v1/issuing/cardholders`, `GET /v1/issuing/cardholders[/{id}]`, `POST
//!   /v1/issuing/cardholders/{id}` (update) (`cardholders.rs`):
//!   cards can be issued to the fixtures' cardholders and to those a client creates.
//! - `POST /v1/issuing/cards/{card_id}/status`: freeze, unfreeze, cancel (`status.rs`).
//! - `POST /v1/issuing/cards/{card_id}` (update: limits, controls, metadata; `update.rs`),
//!   `POST /v1/issuing/cards/{card_id}/recharge` and `/withdraw` (a SINGLE-mode card's own
//!   balance; `recharge.rs`); their orders are read like the create's.
//! - `GET /v1/issuing/cards/{card_id}/secure`, `POST .../token`: test card data and an iframe
//!   token (`secure.rs`).
//! - `POST /v1/issuing/reports`, `GET /v1/issuing/reports/{id}`: LEDGER and SETTLEMENT reports
//!   as CSV files (`reports.rs`).
//! - `GET`/`POST /v1/issuing/balances`, `GET /v1/issuing/balances/transactions`
//!   (`balances.rs`).
//! - `POST /v1/simulation/issuing/authorization` and `/reversal` (UQPAY's sandbox simulator of
//!   card use), `GET /v1/issuing/transactions[/{id}]` (`simulator.rs`).
//! - Any other path answers 404 `{"type":"not_found","code":"resource_not_found",...}`, and a
//!   method a path does not take 405 `{"type":"invalid_request_error","code":"method_not_allowed"}`.
//!
//! Sandbox choices where the spec is silent or says [inferred]:
//! - Rate limit: `faults.rate_limit_per_minute` (UQPAY's fixed per-minute window per client;
//!   500/min is the documented sandbox value) applies to every authenticated call of a client;
//!   the token endpoint has its own window of the same size per client. Off by default. A 429
//!   carries the documented body and a `Retry-After` (seconds to the next minute).
//! - The injected transient error is HTTP 500 `{"type":"api_error","code":"api_error",...}`
//!   and is not cached under the idempotency key.
//! - A lost response happens after the answer was cached, so a retry with the same key replays
//!   the original answer (the card is created once).
//! - The create answers HTTP 200 (the spec notes the status is not stated; SDKs accept any 2xx).
//! - `x-on-behalf-of`: no sub-accounts exist in the fixtures, so it always answers
//!   `sub_account_not_found`.

mod auth;
mod balances;
mod cardholders;
mod cards;
mod create;
mod funds;
mod idempotency;
mod lifecycle;
mod lookup;
mod recharge;
mod reports;
mod secure;
mod simulator;
mod status;
mod update;
mod validate;
mod wire;

pub use auth::{ACCOUNT_ID, SHORT_ACCOUNT_ID, TOKEN_SECRET, TOKEN_TTL_SECS};
pub use lifecycle::{retry_schedule, sign as sign_webhook};
pub use wire::{PROCESSING_MESSAGE, TOO_MANY_REQUESTS_MESSAGE};

use super::config::ProviderSettings;
use super::core::{Core, retry_after_secs};
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cardbatch_types::ProviderKind;
use std::sync::Arc;
use wire::ApiError;

/// The provider name in stats, faults and the ledger.
pub const PROVIDER: &str = "uqpay";

/// The simulator's state.
#[derive(Debug)]
pub struct Uqpay {
    core: Arc<Core>,
    tokens: auth::TokenStore,
    idempotency: idempotency::IdempotencyStore,
    cards: cards::CardStore,
    cardholders: cardholders::CardholderStore,
    funds: funds::Funds,
    reports: reports::ReportStore,
    transactions: simulator::TransactionStore,
}

impl Uqpay {
    fn settings(&self) -> &ProviderSettings {
        self.core.settings(ProviderKind::Uqpay)
    }

    fn rate_limit(&self, credential: &str) -> Result<(), ApiError> {
        self.core
            .rate_limit(PROVIDER, credential)
            .map_err(|wait| ApiError::RateLimited {
                retry_after_secs: retry_after_secs(wait),
            })
    }
}

/// The UQPAY routes, nested under `/uqpay/api`.
pub fn router(core: Arc<Core>) -> Router {
    let state = Arc::new(Uqpay {
        tokens: auth::TokenStore::new(),
        idempotency: idempotency::IdempotencyStore::default(),
        cards: cards::CardStore::default(),
        cardholders: cardholders::CardholderStore::new(&core.fixtures.uqpay.cardholders),
        funds: funds::Funds::new(&core.fixtures),
        reports: reports::ReportStore::default(),
        transactions: simulator::TransactionStore::default(),
        core,
    });
    Router::new()
        .route("/v1/connect/token", post(auth::token))
        .route(
            "/v1/issuing/cards",
            post(create::create_card).get(lookup::list_cards),
        )
        .route(
            "/v1/issuing/cards/{card_id}",
            get(lookup::get_card).post(update::update_card),
        )
        .route(
            "/v1/issuing/cards/{card_id}/recharge",
            post(recharge::recharge),
        )
        .route(
            "/v1/issuing/cards/{card_id}/withdraw",
            post(recharge::withdraw),
        )
        .route(
            "/v1/issuing/cards/{card_id}/secure",
            get(secure::get_secure),
        )
        .route(
            "/v1/issuing/cards/{card_id}/token",
            post(secure::create_pan_token),
        )
        .route("/v1/issuing/cards/{card_id}/order", get(lookup::get_order))
        .route(
            "/v1/issuing/cards/{card_id}/status",
            post(status::update_status),
        )
        .route("/v1/issuing/products", get(lookup::list_products))
        .route(
            "/v1/issuing/cardholders",
            post(cardholders::create_cardholder).get(cardholders::list_cardholders),
        )
        .route(
            "/v1/issuing/cardholders/{id}",
            get(cardholders::get_cardholder).post(cardholders::update_cardholder),
        )
        .route(
            "/v1/issuing/balances",
            get(balances::list_balances).post(balances::retrieve_balance),
        )
        .route(
            "/v1/issuing/balances/transactions",
            get(balances::list_balance_transactions),
        )
        .route("/v1/issuing/reports", post(reports::create_report))
        .route("/v1/issuing/reports/{id}", get(reports::download_report))
        .route(
            "/v1/issuing/transactions",
            get(simulator::list_transactions),
        )
        .route(
            "/v1/issuing/transactions/{id}",
            get(simulator::get_transaction),
        )
        .route(
            "/v1/simulation/issuing/authorization",
            post(simulator::authorize),
        )
        .route("/v1/simulation/issuing/reversal", post(simulator::reverse))
        .fallback(unknown_path)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            count_request,
        ))
        .with_state(state)
}

/// A path UQPAY's issuing API does not have: its typed `not_found` rather than an empty 404.
async fn unknown_path(request: Request) -> Response {
    ApiError::not_found(
        axum::http::StatusCode::NOT_FOUND,
        "resource_not_found",
        format!(
            "{} {} does not exist",
            request.method(),
            request.uri().path()
        ),
    )
    .into_response()
}

/// A path UQPAY has, with a method it does not take there.
async fn wrong_method(request: Request) -> Response {
    ApiError::Typed {
        status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
        kind: "invalid_request_error",
        code: "method_not_allowed",
        message: format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
        missing_fields: Vec::new(),
    }
    .into_response()
}

async fn count_request(State(uqpay): State<Arc<Uqpay>>, request: Request, next: Next) -> Response {
    uqpay.core.stats.incr(PROVIDER, "requests");
    next.run(request).await
}
