//! `POST /open/api/card/create`: signature, rate limit, faults, validation, orderNo uniqueness,
//! reverse validation, merchant balance, then a card in `INIT` whose lifecycle continues in the
//! background.
//!
//! Validation ([inferred] where the seed gives only the rule, not the code): a body that is not
//! a JSON object -> 200004; a missing `vid`, `deposit`, `orderNo`, `callbackUrl` (or a
//! `cardHolder` without a name) -> 200001; an unknown `vid`, a name outside `[a-zA-Z]{1,32}`, an
//! `orderNo` over 64 characters or a `callbackUrl` that is not an http(s) URL of at most 256
//! characters -> 200002; a `deposit` that is not whole cents -> 400005; a deposit outside
//! 1000-500000 cents (10-5000 USD) -> 300003; a `currency` other than USD/EUR/CHF -> 400007.
//! `cardHolder` is optional, as in the seed. `deposit` may be a string (as documented) or an
//! integer.

use super::card_data::CardSecrets;
use super::wire::{AchError, ok};
use super::{AlchemyPay, PROVIDER, cards::Card, cards::Reserve, lifecycle, reverse};
use crate::core::{CreateFault, LostResponse};
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Smallest and largest initial deposit, in cents.
pub const DEPOSIT_RANGE_CENTS: std::ops::RangeInclusive<i64> = 1_000..=500_000;

/// A create request that passed validation.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub vid: String,
    pub first_name: String,
    pub last_name: String,
    pub deposit_cents: i64,
    pub currency: String,
    pub order_no: String,
    pub callback_url: String,
    pub customer_id: Option<String>,
}

/// The create handler.
pub async fn create_card(
    State(alchemy): State<Arc<AlchemyPay>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match create(&alchemy, &uri, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn create(
    alchemy: &Arc<AlchemyPay>,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, AchError> {
    let access_key = alchemy.authenticate(headers, "POST", uri, body)?;
    alchemy.rate_limit(&access_key)?;
    let core = &alchemy.core;
    core.latency(PROVIDER).await;
    let fault = core.create_fault(PROVIDER);
    if fault == CreateFault::Transient {
        let transient = [
            (100000, "Card issuer error"),
            (500000, "System abnormality"),
            (600002, "create card error"),
        ];
        let (code, msg) = transient[core.fault_board.rng(PROVIDER).up_to(2) as usize];
        return Err(AchError::new(code, msg));
    }
    let request = parse(alchemy, body)?;
    match alchemy.cards.reserve(&access_key, &request.order_no) {
        Reserve::Reserved => {}
        Reserve::InFlight => {
            return Err(AchError::new(
                600003,
                "Card already applied, please do not make duplicate requests",
            ));
        }
        Reserve::Used => return Err(AchError::duplicate_order()),
    }
    if let Err(e) = check_with_merchant(alchemy, &access_key, &request.order_no).await {
        alchemy.cards.release(&access_key, &request.order_no);
        return Err(e);
    }
    if !alchemy.cards.debit(request.deposit_cents) {
        alchemy.cards.release(&access_key, &request.order_no);
        return Err(AchError::merchant_balance());
    }
    let card = issue(alchemy, &access_key, request);
    let model = json!({ "activeLink": alchemy.active_link(&card) });
    if fault == CreateFault::LostResponse {
        return Ok(LostResponse.into_response());
    }
    Ok(ok(model))
}

async fn check_with_merchant(
    alchemy: &AlchemyPay,
    access_key: &str,
    order_no: &str,
) -> Result<(), AchError> {
    let Some(check_url) = alchemy.settings().options.get("check_url") else {
        alchemy
            .core
            .stats
            .incr(PROVIDER, "reverse_validation_skipped");
        return Ok(());
    };
    let secret = alchemy.secret_of(access_key).unwrap_or_default();
    let result = reverse::validate(
        &alchemy.http,
        check_url,
        order_no,
        access_key,
        &secret,
        alchemy.core.clock.now_ms(),
    )
    .await;
    let counter = if result.is_ok() {
        "reverse_validation_passed"
    } else {
        "reverse_validation_failed"
    };
    alchemy.core.stats.incr(PROVIDER, counter);
    result
}

fn issue(alchemy: &Arc<AlchemyPay>, access_key: &str, r: CreateRequest) -> Card {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let now = alchemy.core.clock.now();
    let card = Card {
        card_id: format!("c_{}", &id[..20]),
        user_id: format!("u_{}", &id[20..31]),
        card_holder_id: format!("ch_{}", &id[..12]),
        card_seq_no: id[24..31].to_uppercase(),
        access_key: access_key.to_string(),
        order_no: r.order_no.clone(),
        first_name: r.first_name,
        last_name: r.last_name,
        deposit_cents: r.deposit_cents,
        balance_cents: r.deposit_cents,
        currency: r.currency,
        vid: r.vid,
        secrets: CardSecrets::generate(&mut rand::rng()),
        status: "INIT".into(),
        callback_url: r.callback_url,
        customer_id: r.customer_id.clone(),
        gmt_create_ms: now.timestamp_millis(),
        exp_year: now.year() + 3,
        exp_month: now.month(),
    };
    let mut references = BTreeMap::from([("orderNo".to_string(), r.order_no)]);
    if let Some(customer_id) = r.customer_id {
        references.insert("customerId".to_string(), customer_id);
    }
    alchemy.cards.insert(card.clone());
    alchemy
        .core
        .record_card(PROVIDER, &card.card_id, "INIT", references);
    lifecycle::start(alchemy, card.card_id.clone());
    card
}

/// A required string field: missing, `null` or `""` -> 200001; not a string -> 200002.
pub fn required_str(body: &Value, field: &str) -> Result<String, AchError> {
    match body.get(field) {
        None | Some(Value::Null) => Err(AchError::null(field)),
        Some(Value::String(s)) if s.is_empty() => Err(AchError::null(field)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(AchError::param(field, ", expected a string")),
    }
}

/// An amount in cents, as a string of digits (as documented) or a JSON integer: missing ->
/// 200001; anything else (decimals, a number too large) -> 400005.
pub fn cents(body: &Value, field: &str) -> Result<i64, AchError> {
    match body.get(field) {
        None | Some(Value::Null) => Err(AchError::null(field)),
        Some(Value::String(s)) if s.is_empty() => Err(AchError::null(field)),
        Some(Value::String(s)) if s.len() <= 24 && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<i64>().map_err(|_| AchError::illegal_amount())
        }
        Some(Value::Number(n)) => n.as_i64().ok_or_else(AchError::illegal_amount),
        Some(_) => Err(AchError::illegal_amount()),
    }
}

/// `orderNo`: required, at most 64 characters (200002).
pub fn order_no(body: &Value) -> Result<String, AchError> {
    let order_no = required_str(body, "orderNo")?;
    if order_no.chars().count() > 64 {
        return Err(AchError::param("orderNo", ", at most 64 characters"));
    }
    Ok(order_no)
}

fn valid_name(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn valid_callback(url: &str) -> bool {
    url.len() <= 256
        && reqwest::Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// Validates a create body against the seed's rules and the fixtures.
pub fn parse(alchemy: &AlchemyPay, body: &[u8]) -> Result<CreateRequest, AchError> {
    let body: Value = serde_json::from_slice(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            AchError::new(200004, "Request parameter format error requires JSON:body")
        })?;
    let vid = required_str(&body, "vid")?;
    if !alchemy.core.fixtures.alchemypay.segments.contains(&vid) {
        return Err(AchError::param("vid", ", unknown card segment"));
    }
    let (first_name, last_name) = match body.get("cardHolder") {
        None | Some(Value::Null) => (String::new(), String::new()),
        Some(holder @ Value::Object(_)) => {
            let first = required_str(holder, "firstName")?;
            let last = required_str(holder, "lastName")?;
            for (field, name) in [("firstName", &first), ("lastName", &last)] {
                if !valid_name(name) {
                    return Err(AchError::param(field, ", must match [a-zA-Z]{1,32}"));
                }
            }
            (first, last)
        }
        Some(_) => return Err(AchError::param("cardHolder", ", expected an object")),
    };
    let deposit_cents = cents(&body, "deposit")?;
    if !DEPOSIT_RANGE_CENTS.contains(&deposit_cents) {
        return Err(AchError::new(300003, "Single amount limit"));
    }
    let currency = match body.get("currency") {
        None | Some(Value::Null) => "USD".to_string(),
        Some(Value::String(c)) if ["USD", "EUR", "CHF"].contains(&c.as_str()) => c.clone(),
        Some(_) => return Err(AchError::new(400007, "Currency error")),
    };
    let order_no = order_no(&body)?;
    let callback_url = required_str(&body, "callbackUrl")?;
    if !valid_callback(&callback_url) {
        return Err(AchError::param(
            "callbackUrl",
            ", expected an http(s) URL of at most 256 characters",
        ));
    }
    let customer_id = body
        .get("customerId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok(CreateRequest {
        vid,
        first_name,
        last_name,
        deposit_cents,
        currency,
        order_no,
        callback_url,
        customer_id,
    })
}
