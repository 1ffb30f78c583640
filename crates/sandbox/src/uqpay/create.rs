//! `POST /v1/issuing/cards`: auth, rate limit, idempotency, faults, validation, then a PENDING
//! card whose lifecycle continues in the background (see `lifecycle.rs`).

use super::auth::authenticate;
use super::cards::Card;
use super::funds::limit_cents;
use super::idempotency::{fingerprint, required_key, take_key};
use super::validate::{ValidCreate, validate_create};
use super::wire::{ApiError, CreateCardResponse, parse_body, uqpay_time};
use super::{PROVIDER, Uqpay, lifecycle};
use crate::core::{CreateFault, LostResponse};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The create-card handler.
pub async fn create_card(
    State(uqpay): State<Arc<Uqpay>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let client = authenticate(&uqpay, &headers)?;
    uqpay.rate_limit(&client)?;
    if headers.contains_key("x-on-behalf-of") {
        // The fixtures define no Issuing sub-accounts, so any value names an unknown one.
        return Err(ApiError::not_found(
            StatusCode::BAD_REQUEST,
            "sub_account_not_found",
            "x-on-behalf-of does not name an Issuing sub-account of this account",
        ));
    }
    let key = required_key(&headers)?;
    let core = &uqpay.core;
    if let Some(replay) = take_key(&uqpay, &client, key, fingerprint(&body))? {
        return Ok(replay);
    }
    // Counted once the key is in flight, so a test can wait for this before sending a duplicate.
    core.stats.incr(PROVIDER, "idempotency_keys_locked");
    // The latency is served while the key is in flight, as a slow provider would.
    core.latency(PROVIDER).await;

    let fault = core.create_fault(PROVIDER);
    if fault == CreateFault::Transient {
        uqpay.idempotency.abandon(&client, key);
        return Err(ApiError::internal());
    }
    let outcome = parse_body(&body)
        .and_then(|parsed| {
            validate_create(&core.fixtures, &parsed, |id| {
                uqpay.cardholders.find(&client, id)
            })
        })
        .and_then(|valid| uqpay.funds.take(&valid, core.clock.now()).map(|()| valid));
    let (status, answer) = match outcome {
        Ok(valid) => {
            let created = issue(&uqpay, &client, key, valid);
            (
                StatusCode::OK,
                serde_json::to_value(created).expect("create response serialises"),
            )
        }
        Err(e) => e.parts(),
    };
    uqpay
        .idempotency
        .finish(&client, key, status, answer.clone(), core.clock.now_ms());
    if fault == CreateFault::LostResponse {
        return Ok(LostResponse.into_response());
    }
    Ok((status, Json(answer)).into_response())
}

/// Creates the card (PENDING / PROCESSING), records it and starts its lifecycle.
fn issue(uqpay: &Arc<Uqpay>, client: &str, key: &str, v: ValidCreate) -> CreateCardResponse {
    let now = uqpay.core.clock.now();
    let card_id = uuid::Uuid::new_v4().to_string();
    let card_order_id = uuid::Uuid::new_v4().to_string();
    let last4 = format!(
        "{:04}",
        u128::from_str_radix(&card_id.replace('-', ""), 16).unwrap_or(0) % 10_000
    );
    let mut references = BTreeMap::from([
        ("idempotency_key".to_string(), key.to_string()),
        (
            "cardholder_id".to_string(),
            v.cardholder.cardholder_id.clone(),
        ),
    ]);
    if v.metadata.as_object().is_some_and(|m| !m.is_empty()) {
        references.insert("metadata".to_string(), v.metadata.to_string());
    }
    // cardbatch tags every create with its order in the metadata: recorded on its own, a card
    // made twice for one order under two idempotency keys shows as a duplicate.
    if let Some(order_ref) = v.metadata["cardbatch_order_ref"].as_str() {
        references.insert("cardbatch_order_ref".to_string(), order_ref.to_string());
    }
    let balance_cents = if v.product.mode_type == "SINGLE" {
        limit_cents(&v.card_limit)
    } else {
        0
    };
    let card = Card {
        card_id: card_id.clone(),
        card_order_id: card_order_id.clone(),
        client_id: client.to_string(),
        product: v.product,
        cardholder: v.cardholder,
        card_currency: v.card_currency,
        card_limit: v.card_limit,
        balance_cents,
        metadata: v.metadata,
        no_pin_payment_amount: serde_json::Value::Null,
        spending_controls: v.spending_controls,
        risk_controls: v.risk_controls,
        usage_type: v.usage_type,
        auto_cancel_trigger: v.auto_cancel_trigger,
        card_status: "PENDING".into(),
        order_status: "PROCESSING".into(),
        last4,
        create_time: now,
        update_time: now,
        complete_time: None,
    };
    uqpay.cards.insert(card);
    uqpay
        .core
        .record_card(PROVIDER, &card_id, "PENDING", references);
    lifecycle::schedule(uqpay, card_id.clone());
    CreateCardResponse {
        card_id,
        card_order_id,
        card_status: "PENDING".into(),
        order_status: "PROCESSING".into(),
        create_time: uqpay_time(now),
    }
}
