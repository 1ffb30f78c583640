//! QI Tech prepaid (`POST /prepaid/card`) and postpaid
//! (`POST /wallet/{wallet_key}/payment_instrument`) clients, signing ES512 in either of QI's
//! variants (`jws`, `signing`), sending through one signed transport (`transport`), and
//! classifying answers with one table (`classify`). `prepaid` resolves doubt by listing the
//! account's cards and matching the order's unique `card_name`; `postpaid` by re-sending the
//! same `request_control_key`, whose 409 `CIN000099` says "already done".

mod build;
mod classify;
mod jws;
mod outcome;
mod postpaid;
mod prepaid;
mod signing;
mod status;
mod transport;

pub use build::{
    OPTION_PRIVATE_KEY_FILE, OPTION_QITECH_PUBLIC_KEY_FILE, OPTION_SIGNING, build_postpaid,
    build_prepaid, transport,
};
pub use classify::{CODES, Class, QiCall, classify, rule};
pub use jws::{JwsError, private_key_from_pem, public_key_from_pem, verify as verify_jws};
pub use postpaid::QiPostpaid;
pub use prepaid::QiPrepaid;
pub use signing::{AnswerError, RequestSigner, SignedRequest, Variant, read_answer};
pub use transport::{Answer, BadBaseUrl, Exchange, QiTransport};
