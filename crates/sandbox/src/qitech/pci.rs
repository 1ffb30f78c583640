//! A card's PCI data (spec §7.3): `GET /prepaid/card/{card_key}/pci` and, for postpaid cards,
//! `GET /wallet/{wallet_key}/card/{card_key}/pci` ([inferred]: the current-generation form of
//! the documented `/postpaid/wallet/{W}/card/{C}/pci`). Both answer `{printed_name,
//! valid_until, expiration_date "MM/YY", card_number, cvv}`, signed like every QI answer.
//!
//! The values are test data ([`TestCardData`]: derived from the card key on each read, never
//! stored or logged, Luhn-valid and ending with the card's `last_four_digits`).
//!
//! Sandbox choices where the spec is silent [inferred]: `CARD000012` (documented, 400, meaning
//! not captured) answers a card that is not `active`; the number starts with the test BIN
//! `400000` (QI cards are `visa`); the card is valid for five years from its creation,
//! `valid_until` being that date (`YYYY-MM-DD`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Months, Utc};
use serde_json::{Value, json};

use super::error::QiError;
use super::postpaid_request::find_wallet;
use super::respond::{QiCall, admit};
use super::state::Qi;
use crate::core::TestCardData;
use cardbatch_types::ProviderKind;

/// The test BIN the sandbox's QI card numbers start with.
pub const TEST_BIN: &str = "400000";

/// What a PCI read needs of a card, prepaid or postpaid.
struct PciCard {
    card_key: String,
    printed_name: String,
    last_four_digits: String,
    status: String,
    created: DateTime<Utc>,
}

/// `GET /prepaid/card/{card_key}/pci`.
pub async fn prepaid(
    State(qi): State<Arc<Qi>>,
    Path(card_key): Path<String>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match admit(
        &qi,
        ProviderKind::QitechPrepaid,
        &method,
        &uri,
        &headers,
        &body,
    )
    .await
    {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    let card = qi
        .prepaid
        .lock()
        .expect("prepaid lock")
        .get(&card_key)
        .map(|c| PciCard {
            card_key: c.card_key.clone(),
            printed_name: c.request.printed_name.clone(),
            last_four_digits: c.last_four_digits.clone(),
            status: c.status().to_string(),
            created: c.status_events[0].at,
        });
    answer(&qi, &call, card, &card_key)
}

/// `GET /wallet/{wallet_key}/card/{card_key}/pci`.
pub async fn postpaid(
    State(qi): State<Arc<Qi>>,
    Path((wallet_key, card_key)): Path<(String, String)>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match admit(
        &qi,
        ProviderKind::QitechPostpaid,
        &method,
        &uri,
        &headers,
        &body,
    )
    .await
    {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    if let Err(e) = find_wallet(&wallet_key, &qi.core.fixtures.qitech) {
        return call.reply.error(&qi, &e);
    }
    let card = qi
        .postpaid
        .lock()
        .expect("postpaid lock")
        .get(&wallet_key, &card_key)
        .map(|c| PciCard {
            card_key: c.card_key.clone(),
            printed_name: c.request.printed_name.clone(),
            last_four_digits: c.last_four_digits.clone(),
            status: c.status().to_string(),
            created: c.status_events[0].at,
        });
    answer(&qi, &call, card, &card_key)
}

/// The signed answer: the card's PCI data, or why there is none.
fn answer(qi: &Qi, call: &QiCall, card: Option<PciCard>, card_key: &str) -> Response {
    match pci(card, card_key) {
        Ok(data) => call.reply.json(qi, StatusCode::OK, &data),
        Err(e) => call.reply.error(qi, &e),
    }
}

/// The PCI answer of an active card.
fn pci(card: Option<PciCard>, card_key: &str) -> Result<Value, QiError> {
    let card = card.ok_or_else(|| QiError::card_not_found(card_key))?;
    if card.status != "active" {
        return Err(QiError::pci_unavailable(&card.status));
    }
    let data = TestCardData::derive(&card.card_key, TEST_BIN, &card.last_four_digits);
    let valid_until = card.created + Months::new(60);
    Ok(json!({
        "printed_name": card.printed_name,
        "valid_until": valid_until.format("%Y-%m-%d").to_string(),
        "expiration_date": valid_until.format("%m/%y").to_string(),
        "card_number": data.number,
        "cvv": data.cvv,
    }))
}
