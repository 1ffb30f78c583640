//! QI Tech prepaid (`POST /prepaid/card`) and postpaid
//! (`POST /wallet/{wallet_key}/payment_instrument`) simulators, served under `/qitech`.
//!
//! Requests are signed ES512 by the client (its public key comes from the sandbox config,
//! [`options::CLIENT_PUBLIC_KEY_PEM`], by default the [`DEV_CLIENT_PUBLIC_KEY_PEM`]); answers and
//! webhooks are signed by the sandbox's own key ([`options::SANDBOX_PRIVATE_KEY_PEM`], by default
//! the fixed [`DEV_SERVER_PRIVATE_KEY_PEM`], whose public half a client can be given up front as
//! [`DEV_SERVER_PUBLIC_KEY_PEM`]); the public half in use is also served at
//! `GET /qitech/_sandbox/public_key`.
//!
//! Configured per product in the sandbox config (`qitech_postpaid` reads the same option keys;
//! the prepaid section wins when both set one):
//!
//! ```toml
//! [providers.qitech_prepaid]
//! webhook_url = "http://127.0.0.1:8080/webhooks/qitech"   # default: cardbatch_url + that path
//! lifecycle_delay_ms = 2000
//! failure_rate = 0.0               # share of cards that end `canceled` instead of `active`
//! [providers.qitech_prepaid.options]
//! client_public_key_pem = "-----BEGIN PUBLIC KEY-----\n..."
//! sandbox_private_key_pem = "-----BEGIN EC PRIVATE KEY-----\n..."
//! lenient = "true"                 # postpaid: accept the seed example's `physical`
//! conflict_reveals_keys = "true"   # postpaid: 409 CIN000099 carries the original keys
//! partial_cin000072 = "true"       # postpaid: CIN000072 persists the instrument, no card
//! max_skew_secs = "300"
//! ```
//!
//! Sandbox choices where the specs say \[inferred\]:
//! - Both signing variants are accepted, told apart by the `QIT ` prefix of `Authorization`;
//!   the answer is signed the same way as the request (v1: `encoded_body` + `QIT` header whose
//!   signature covers the request's method and path; v2: plain JSON + an `AUTHORIZATION` JWT
//!   over the answer's MD5 with the request's method and path).
//! - A request whose signed time (v1: the date in the signed string, v2: `timestamp`) is more
//!   than 5 minutes from the sandbox clock is refused with 401 GDF000014
//!   ([`options::MAX_SKEW_SECS`]). A v1 request needs no `Date` header (QI documents only
//!   `AUTHORIZATION` and `API-CLIENT-KEY`); one that is sent must equal the signed date.
//! - The JWT registered claims (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`) that JWT
//!   libraries add to every token are not part of a request read from `encoded_body`.
//! - A bodiless v1 request may sign an empty content type or `application/json`; a v2 token's
//!   `uri` may include the query string or not.
//! - Prepaid lengths: `card_name` 1–15, `printed_name` 2–26 letters and spaces (accented Latin
//!   letters allowed), `cvv_rotation_interval_hours` ≥ 1; a field outside the documented ones
//!   for the card type is a QIT000001 (its `extra_fields.detail` names the field).
//! - Lifecycle: `created` → `active` (virtual) or `embossing` (plastic) after the provider's
//!   `lifecycle_delay_ms` scaled by `time_scale`. Prepaid sends a webhook for the creation and
//!   for the change; postpaid only for the change (QI documents no creation webhook there).
//! - Webhooks go to the provider's `webhook_url`; only a 2xx is an ack (the v1-era echo of a
//!   signed `encoded_body` is not required).
//! - Rate limit: 429 with the synthetic code QIT000429 and `Retry-After`.
//! - Postpaid: `request_control_key` is scoped per wallet; limits are not consumed by earlier
//!   instruments; the card's `account_key` is derived from the wallet (UUID v5).
//! - Status changes by `PATCH .../card/{card_key}` follow the rules in the `status` module doc and
//!   answer the card as the GET shows it.
//! - Phone digits only; legal representatives are validated as natural persons.
//! - Ledger references are the client's own keys only: `card_name` (prepaid) and
//!   `request_control_key` (postpaid); shared keys (account, wallet, program) would count as
//!   duplicates.
//! - `GET|POST /test/{api_key}` answers the auth self-test with the request echoed (the shape is
//!   not documented).
//! - `GET .../card/{card_key}/pci` (prepaid and postpaid) answers an active card's test card
//!   data (see the `pci` module).
//! - A path may be signed as received or relative to the `/qitech` mount; a signed date may be
//!   unpadded (Joda's `E, d MMM y H:m:s`); a request with no `Content-Type` may sign
//!   `application/json`, and a `Content-Type` with parameters is its media type.

mod auth;
mod dev_keys;
mod error;
mod fields;
mod jws;
mod patch;
mod pci;
mod postpaid;
mod postpaid_request;
mod postpaid_store;
mod prepaid;
mod prepaid_request;
mod prepaid_store;
mod respond;
mod selftest;
mod sign;
mod state;
mod status;
mod webhook;

pub use auth::{
    AuthSettings, AuthVersion, Authenticated, RequestView, authenticate, detect_version, md5_hex,
};
pub use dev_keys::{
    DEV_CLIENT_PRIVATE_KEY_PEM, DEV_CLIENT_PUBLIC_KEY_PEM, DEV_SERVER_PRIVATE_KEY_PEM,
    DEV_SERVER_PUBLIC_KEY_PEM,
};
pub use error::QiError;
pub use jws::{
    JwsError, SIGNATURE_LEN, generate_signing_key, public_key_pem, sign as jws_sign,
    signing_key_from_pem, verify as jws_verify, verifying_key_from_pem,
};
pub use postpaid_request::{PostpaidRequest, check_postpaid_fixtures, parse_postpaid_request};
pub use prepaid_request::{
    CardType, PrepaidCardRequest, check_prepaid_fixtures, parse_prepaid_request,
};
pub use sign::{Signed, sign_v1, sign_v2, sign_v2_headers, v2_timestamp};
pub use state::options;
pub use webhook::{RETRIES as WEBHOOK_RETRIES, RETRY_EVERY as WEBHOOK_RETRY_EVERY};

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use super::core::Core;
use state::Qi;

/// The QI Tech routes, nested under `/qitech`.
pub fn router(core: Arc<Core>) -> Router {
    let qi = Arc::new(Qi::new(core));
    Router::new()
        .route("/prepaid/card", post(prepaid::create).get(prepaid::list))
        .route(
            "/prepaid/card/{card_key}",
            get(prepaid::get).patch(patch::prepaid),
        )
        .route("/prepaid/card/{card_key}/pci", get(pci::prepaid))
        .route(
            "/wallet/{wallet_key}/payment_instrument",
            post(postpaid::create),
        )
        .route(
            "/wallet/{wallet_key}/card/{card_key}/pci",
            get(pci::postpaid),
        )
        .route(
            "/wallet/{wallet_key}/card/{card_key}",
            get(postpaid::get).patch(patch::postpaid),
        )
        .route(
            "/test/{api_key}",
            get(selftest::self_test).post(selftest::self_test),
        )
        .route("/_sandbox/public_key", get(public_key))
        .with_state(qi)
}

/// `GET /qitech/_sandbox/public_key`: the sandbox's public key (SPKI PEM), to verify its
/// answers and webhooks.
async fn public_key(State(qi): State<Arc<Qi>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        qi.public_key_pem(),
    )
}
