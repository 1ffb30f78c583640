//! The card operations after creation (spec §6, §7): deposit, refund (withdraw), cancel, and the
//! card's trade records. Each request is signed, rate limited and delayed like the others, and
//! must be a JSON object (200004). A card of another access key is "404005 Card does not exist".
//!
//! Sandbox choices (all [inferred]; the spec gives the paths, and the deposit's body only):
//! - `orderNo` (1-64 characters) is the idempotency key of a deposit and of a refund, unique per
//!   access key among the operations of the same kind ("unique per business operation", §8):
//!   deposits, refunds and card creations each have their own namespace. A repeat is 300001 and
//!   moves no money; a refused operation does not consume its orderNo.
//! - `amount` is positive cents, a string of digits or a JSON integer (as create's `deposit`);
//!   0, decimals or a negative number -> 400005. No single-amount limit is applied to a deposit
//!   or a refund (the spec's 10-5000 USD range is documented for create's deposit; v2 says a
//!   top-up's minimum is 60). `payCurrency` is optional, and `USD` only (400007); a top-up is added to the
//!   card as it is, whatever the card's currency (create does the same with its deposit).
//! - Only an `ACTIVE` card can be topped up, refunded or cancelled: a card still being created
//!   -> 600006 "card need active"; a failed or cancelled card -> 403010 "Card status is
//!   abnormal". A refund above the card's balance -> 403101 "Insufficient account amount"; a
//!   deposit above the merchant balance -> 300004.
//! - Checks run in this order: fields, card (404005), orderNo (300001, so a retry of an
//!   operation that went through says so even once the card has changed), status, balances.
//! - Deposit and refund answer `{cardId, orderNo, amount, balance}` (the card's new balance);
//!   cancel `{cardId, status, statusText, refundAmount}`. A cancelled card is `CANCELED` (the
//!   spec's status table), its balance 0, the balance it had back on the merchant balance, and
//!   its card data stays in info. The ledger keeps the card's issuance status.
//! - `trade/list` `{cardId, current, size}`: `current` from 1 (default 1), `size` 1-100 (default
//!   10), each an integer or a string of digits, else 200002; records newest first.

use super::AlchemyPay;
use super::cards::{CANCELED, Card};
use super::create::{cents, order_no, required_str};
use super::trades::Movement;
use super::wire::{AchError, ok};
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

/// The largest `size` of a `trade/list` page.
pub const MAX_PAGE_SIZE: u64 = 100;

type Operation = fn(&AlchemyPay, &str, &Value) -> Result<Value, AchError>;

/// Signature, rate limit, latency, a JSON object body, then `op` with the access key.
async fn serve(
    alchemy: &AlchemyPay,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    op: Operation,
) -> Response {
    let result = async {
        let (access_key, request) = alchemy.signed_object(headers, uri, body).await?;
        op(alchemy, &access_key, &request)
    }
    .await;
    match result {
        Ok(model) => ok(model),
        Err(e) => e.into_response(),
    }
}

/// `POST /open/api/card/deposit`.
pub async fn deposit_card(
    State(alchemy): State<Arc<AlchemyPay>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&alchemy, &uri, &headers, &body, deposit).await
}

/// `POST /open/api/card/withdraw/refund`.
pub async fn refund_card(
    State(alchemy): State<Arc<AlchemyPay>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&alchemy, &uri, &headers, &body, refund).await
}

/// `POST /open/api/card/cancel`.
pub async fn cancel_card(
    State(alchemy): State<Arc<AlchemyPay>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&alchemy, &uri, &headers, &body, cancel).await
}

/// `POST /open/api/card/trade/list`.
pub async fn trade_list(
    State(alchemy): State<Arc<AlchemyPay>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&alchemy, &uri, &headers, &body, list).await
}

/// `amount`: positive cents.
fn amount(body: &Value) -> Result<i64, AchError> {
    Some(cents(body, "amount")?)
        .filter(|a| *a > 0)
        .ok_or_else(AchError::illegal_amount)
}

/// 600006 for a card still being created, 403010 for a failed or cancelled one.
fn must_be_active(card: &Card) -> Result<(), AchError> {
    match card.status.as_str() {
        "ACTIVE" => Ok(()),
        s if s.starts_with("INIT") => Err(AchError::new(600006, "card need active")),
        _ => Err(AchError::new(403010, "Card status is abnormal")),
    }
}

fn deposit(alchemy: &AlchemyPay, access_key: &str, body: &Value) -> Result<Value, AchError> {
    let card_id = required_str(body, "cardId")?;
    let amount = amount(body)?;
    match body.get("payCurrency") {
        None | Some(Value::Null) => {}
        Some(Value::String(c)) if c == "USD" => {}
        Some(_) => return Err(AchError::new(400007, "Currency error")),
    }
    let order_no = order_no(body)?;
    let now = alchemy.core.clock.now_secs();
    alchemy
        .cards
        .transact(access_key, &card_id, |card, merchant, book| {
            if book.is_used(Movement::Deposit, access_key, &order_no) {
                return Err(AchError::duplicate_order());
            }
            must_be_active(card)?;
            if *merchant < amount {
                return Err(AchError::merchant_balance());
            }
            *merchant -= amount;
            card.deposit_cents = card.deposit_cents.saturating_add(amount);
            card.balance_cents += amount;
            book.record(card, Movement::Deposit, amount, Some(&order_no), now);
            Ok(moved(card, &order_no, amount))
        })
}

fn refund(alchemy: &AlchemyPay, access_key: &str, body: &Value) -> Result<Value, AchError> {
    let card_id = required_str(body, "cardId")?;
    let amount = amount(body)?;
    let order_no = order_no(body)?;
    let now = alchemy.core.clock.now_secs();
    alchemy
        .cards
        .transact(access_key, &card_id, |card, merchant, book| {
            if book.is_used(Movement::Refund, access_key, &order_no) {
                return Err(AchError::duplicate_order());
            }
            must_be_active(card)?;
            if card.balance_cents < amount {
                return Err(AchError::new(403101, "Insufficient account amount"));
            }
            card.balance_cents -= amount;
            *merchant += amount;
            book.record(card, Movement::Refund, amount, Some(&order_no), now);
            Ok(moved(card, &order_no, amount))
        })
}

/// The model of a deposit or refund that went through.
fn moved(card: &Card, order_no: &str, amount: i64) -> Value {
    json!({
        "cardId": card.card_id, "orderNo": order_no, "amount": amount,
        "balance": card.balance(),
    })
}

fn cancel(alchemy: &AlchemyPay, access_key: &str, body: &Value) -> Result<Value, AchError> {
    let card_id = required_str(body, "cardId")?;
    let now = alchemy.core.clock.now_secs();
    alchemy
        .cards
        .transact(access_key, &card_id, |card, merchant, book| {
            must_be_active(card)?;
            let refunded = card.balance_cents;
            card.balance_cents = 0;
            card.status = CANCELED.to_string();
            *merchant += refunded;
            if refunded > 0 {
                book.record(card, Movement::Cancel, refunded, None, now);
            }
            Ok(json!({
                "cardId": card.card_id, "status": card.status,
                "statusText": card.status_text(), "refundAmount": refunded,
            }))
        })
}

/// A page parameter: absent -> `default`; else an integer from 1 up to `max`.
fn page_param(body: &Value, field: &str, default: u64, max: u64) -> Result<u64, AchError> {
    let value = match body.get(field) {
        None | Some(Value::Null) => return Ok(default),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) if s.len() <= 9 => s.parse().ok(),
        Some(_) => None,
    };
    value
        .filter(|v| (1..=max).contains(v))
        .ok_or_else(|| AchError::param(field, &format!(", expected an integer from 1 to {max}")))
}

fn list(alchemy: &AlchemyPay, access_key: &str, body: &Value) -> Result<Value, AchError> {
    let card_id = required_str(body, "cardId")?;
    let current = page_param(body, "current", 1, u64::from(u32::MAX))?;
    let size = page_param(body, "size", 10, MAX_PAGE_SIZE)?;
    let card = alchemy.cards.get_own(access_key, &card_id)?;
    let trades = alchemy.cards.trades(&card_id);
    let skip = usize::try_from((current - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let records: Vec<Value> = trades
        .iter()
        .rev()
        .skip(skip)
        .take(size as usize)
        .map(|t| t.record(&card))
        .collect();
    Ok(json!({ "records": records, "total": trades.len(), "current": current }))
}
