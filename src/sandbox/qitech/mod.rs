//! QI Tech prepaid (`POST /prepaid/card`) and postpaid (`POST /wallet/{wallet_key}/payment_instrument`)
//! simulators, served under `/qitech`.
//!
//! Sandbox choices where the specs say [inferred]:
//! - Both signing variants are accepted, told apart by the `QIT ` prefix of `Authorization`;
//!   the answer is signed the same way as the request (v1: `encoded_body` + `QIT` header; v2:
//!   plain JSON + an `AUTHORIZATION` JWT over the answer's MD5).
//! - A request whose time (v1 `Date`, v2 `timestamp`) is more than 5 minutes from the sandbox
//!   clock is refused with 401 GDF000014.
//! - A bodiless v1 request may sign an empty content type or `application/json`; a v2 token's
//!   `uri` may include the query string or not.

mod auth;
mod error;
mod jws;
mod sign;

pub use auth::{
    AuthSettings, AuthVersion, Authenticated, RequestView, authenticate, detect_version, md5_hex,
};
pub use error::QiError;
pub use jws::{
    JwsError, SIGNATURE_LEN, generate_signing_key, public_key_pem, sign as jws_sign,
    signing_key_from_pem, verify as jws_verify, verifying_key_from_pem,
};
pub use sign::{Signed, sign_v1, sign_v2, sign_v2_headers, v2_timestamp};
// fields, prepaid_request and postpaid_request are declared once the core's fixtures.rs is merged.
