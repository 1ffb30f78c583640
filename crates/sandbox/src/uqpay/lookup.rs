//! Read endpoints: `GET /v1/issuing/cards/{card_id}`, `GET /v1/issuing/cards` (pagination,
//! filters `cardholder_id`, `card_status`, `card_number`; each card's `metadata` is JSON text
//! there, an object in the single read, as the SDKs' response fixtures show), `GET /v1/issuing/cards/{id}/order`
//! and `GET /v1/issuing/products`.
//!
//! [inferred] The order lookup's `{id}` is the `card_order_id` (as the SDK and CLI pass it) of a
//! create, recharge, withdrawal or update; a `card_id` names its create order too. Pages: `page_size` 1-100 (default 10), `page_number` from 1.
//! Cards of another client are not found.

use super::auth::authenticate;
use super::cards::Card;
use super::wire::ApiError;
use super::{PROVIDER, Uqpay};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// An authenticated read: authenticates, counts it against the client's rate limit, serves the
/// latency, then answers what `read` makes for the client.
pub(super) async fn read(
    uqpay: &Uqpay,
    headers: &HeaderMap,
    read: impl FnOnce(&str) -> Result<Value, ApiError>,
) -> Result<Json<Value>, ApiError> {
    read_with(uqpay, headers, read).await.map(Json)
}

/// [`read`] for an answer of any kind (a file).
pub(super) async fn read_with<T>(
    uqpay: &Uqpay,
    headers: &HeaderMap,
    read: impl FnOnce(&str) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let client = authenticate(uqpay, headers)?;
    uqpay.rate_limit(&client)?;
    uqpay.core.latency(PROVIDER).await;
    read(&client)
}

pub(super) fn card_not_found() -> ApiError {
    ApiError::not_found(
        StatusCode::NOT_FOUND,
        "card_not_found",
        "Card does not exist",
    )
}

/// `GET /v1/issuing/cards/{card_id}`.
pub async fn get_card(
    State(uqpay): State<Arc<Uqpay>>,
    Path(card_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    read(&uqpay, &headers, |client| {
        let card = uqpay
            .cards
            .get(&card_id)
            .filter(|c| c.client_id == client)
            .ok_or_else(card_not_found)?;
        Ok(card.retrieve_json())
    })
    .await
}

/// `GET /v1/issuing/cards/{id}/order`.
pub async fn get_order(
    State(uqpay): State<Arc<Uqpay>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    read(&uqpay, &headers, |client| {
        uqpay.cards.order_json(client, &id).ok_or_else(|| {
            ApiError::not_found(
                StatusCode::NOT_FOUND,
                "card_order_not_found",
                "Card order does not exist",
            )
        })
    })
    .await
}

pub(super) struct Page {
    size: usize,
    number: usize,
}

pub(super) fn page(query: &HashMap<String, String>) -> Result<Page, ApiError> {
    let number = |name: &str, default: usize, max: usize| -> Result<usize, ApiError> {
        match query.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "invalid_request",
                        format!("{name} must be an integer between 1 and {max}"),
                    )
                }),
        }
    };
    Ok(Page {
        size: number("page_size", 10, 100)?,
        number: number("page_number", 1, usize::MAX)?,
    })
}

pub(super) fn paginate(items: Vec<Value>, page: &Page) -> Value {
    let total = items.len();
    let data: Vec<Value> = items
        .into_iter()
        .skip((page.number - 1).saturating_mul(page.size))
        .take(page.size)
        .collect();
    json!({ "total_items": total, "total_pages": total.div_ceil(page.size), "data": data })
}

/// `GET /v1/issuing/cards`.
pub async fn list_cards(
    State(uqpay): State<Arc<Uqpay>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    read(&uqpay, &headers, |client| {
        let page = page(&query)?;
        let wanted = |name: &str| query.get(name).filter(|v| !v.is_empty());
        let keep = |c: &Card| {
            wanted("cardholder_id").is_none_or(|v| *v == c.cardholder.cardholder_id)
                && wanted("card_status").is_none_or(|v| *v == c.card_status)
                && wanted("card_number").is_none_or(|v| {
                    *v == c.masked_number() || c.masked_number().ends_with(v.as_str())
                })
        };
        let cards = uqpay.cards.list(client, keep);
        Ok(paginate(
            cards.iter().map(Card::list_item_json).collect(),
            &page,
        ))
    })
    .await
}

/// `GET /v1/issuing/products`.
pub async fn list_products(
    State(uqpay): State<Arc<Uqpay>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    read(&uqpay, &headers, |_| {
        let page = page(&query)?;
        let products = uqpay
            .core
            .fixtures
            .uqpay
            .products
            .iter()
            .map(|p| {
                json!({
                    "product_id": p.product_id, "card_bin": p.card_bin, "card_scheme": p.card_scheme,
                    "mode_type": p.mode_type, "card_form": p.card_form,
                    "card_currency": p.card_currency, "product_status": p.product_status,
                })
            })
            .collect();
        Ok(paginate(products, &page))
    })
    .await
}
