//! `POST /prepaid/card`, `GET /prepaid/card/{card_key}` and `GET /prepaid/card?account_key=`.
//!
//! There is no idempotency: every accepted POST creates a card, so a re-POST after a lost
//! answer makes a second card with the same `card_name` (the ledger shows it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::QiError;
use super::prepaid_request::{check_prepaid_fixtures, parse_prepaid_request};
use super::prepaid_store::{PrepaidCard, StatusEvent, iso, last_four};
use super::respond::admit;
use super::state::Qi;
use super::webhook::send_card_webhook;
use crate::core::{CreateFault, LostResponse};
use cardbatch_types::ProviderKind;

const PROVIDER: ProviderKind = ProviderKind::QitechPrepaid;
const WEBHOOK_TYPE: &str = "baas.prepaid_card.card";
/// Largest page size of the list endpoint \[inferred\].
const MAX_PAGE_SIZE: usize = 100;

/// `POST /prepaid/card`.
pub async fn create(
    State(qi): State<Arc<Qi>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match admit(&qi, PROVIDER, &method, &uri, &headers, &body).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    let req = match parse_prepaid_request(&call.body)
        .and_then(|req| check_prepaid_fixtures(&req, &qi.core.fixtures.qitech).map(|_| req))
    {
        Ok(req) => req,
        Err(e) => return call.reply.error(&qi, &e),
    };
    let fault = qi.core.create_fault(PROVIDER.as_str());
    if fault == CreateFault::Transient {
        return call.reply.error(&qi, &QiError::card_not_generated());
    }
    let card = create_card(&qi, req, &call.reply.api_key);
    if fault == CreateFault::LostResponse {
        return LostResponse.into_response();
    }
    let answer = json!({
        "card_key": card.card_key,
        "created_at": iso(&card.status_events[0].at),
        "status": "created",
    });
    call.reply.json(&qi, StatusCode::CREATED, &answer)
}

/// Stores the card, records it in the ledger, sends the creation webhook and schedules the
/// move out of `created` (virtual: `active`; plastic: `embossing`, which waits for an
/// activation the sandbox does not simulate).
fn create_card(
    qi: &Arc<Qi>,
    req: super::prepaid_request::PrepaidCardRequest,
    api_key: &str,
) -> PrepaidCard {
    let card_key = uuid::Uuid::new_v4().to_string();
    let now = qi.core.clock.now();
    let card = PrepaidCard {
        last_four_digits: last_four(&card_key),
        card_key: card_key.clone(),
        status_events: vec![StatusEvent {
            status: "created".into(),
            at: now,
        }],
        request: req,
    };
    let r = &card.request;
    // Only the client's own reference goes in the ledger: account and program keys are shared
    // by many cards, and the ledger counts every reference as a possible duplicate.
    let references = [("card_name".to_string(), r.card_name.clone())].into();
    qi.prepaid
        .lock()
        .expect("prepaid lock")
        .insert(card.clone());
    qi.core
        .record_card(PROVIDER.as_str(), &card_key, "created", references);

    let data = json!({
        "card_key": card_key,
        "account_key": r.account_key,
        "program_key": r.program_key,
        "status": "created",
        "type": r.card_type.as_str(),
    });
    send_card_webhook(qi, PROVIDER, WEBHOOK_TYPE, api_key, data);

    let next = qi.next_status(PROVIDER, r.card_type);
    let delay = Duration::from_millis(qi.core.settings(PROVIDER).lifecycle_delay_ms);
    let (later, api_key, card_type) = (Arc::clone(qi), api_key.to_string(), r.card_type);
    qi.core.after(delay, async move {
        let now = later.core.clock.now();
        let moved = later.prepaid.lock().expect("prepaid lock").transition_from(&card_key, "created", next, now);
        if moved {
            later.core.ledger.set_status(PROVIDER.as_str(), &card_key, next);
            let data =
                json!({"card_key": card_key, "type": card_type.as_str(), "status": next, "old_status": "created"});
            send_card_webhook(&later, PROVIDER, WEBHOOK_TYPE, &api_key, data);
        }
    });
    card
}

/// `GET /prepaid/card/{card_key}`.
pub async fn get(
    State(qi): State<Arc<Qi>>,
    Path(card_key): Path<String>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match admit(&qi, PROVIDER, &method, &uri, &headers, &body).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    let card = qi
        .prepaid
        .lock()
        .expect("prepaid lock")
        .get(&card_key)
        .map(PrepaidCard::detail_json);
    match card {
        Some(card) => call.reply.json(&qi, StatusCode::OK, &card),
        None => call.reply.error(&qi, &QiError::card_not_found(&card_key)),
    }
}

/// `GET /prepaid/card?account_key=&size=&page=`: `current_page` is the requested page
/// (0-based, default 0), `rows_per_page` the size (default 10), `next_page` `page + 1` or
/// `null` on the last page \[inferred: the documented example mixes conventions].
pub async fn list(
    State(qi): State<Arc<Qi>>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match admit(&qi, PROVIDER, &method, &uri, &headers, &body).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    match list_page(&qi, &query) {
        Ok(page) => call.reply.json(&qi, StatusCode::OK, &page),
        Err(e) => call.reply.error(&qi, &e),
    }
}

fn list_page(qi: &Qi, query: &HashMap<String, String>) -> Result<Value, QiError> {
    let account_key = query
        .get("account_key")
        .ok_or_else(|| QiError::schema("account_key: is required"))?;
    let number = |name: &str, default: usize| -> Result<usize, QiError> {
        query.get(name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| QiError::schema(&format!("{name}: must be an integer")))
        })
    };
    let size = number("size", 10)?;
    let page = number("page", 0)?;
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(QiError::schema(&format!(
            "size: must be within 1..={MAX_PAGE_SIZE}"
        )));
    }
    if !qi
        .core
        .fixtures
        .qitech
        .accounts
        .iter()
        .any(|a| &a.account_key == account_key)
    {
        return Err(QiError::account_not_found(account_key));
    }
    let store = qi.prepaid.lock().expect("prepaid lock");
    let (cards, more) = store.page(account_key, page, size);
    Ok(json!({
        "pagination": {
            "current_page": page,
            "rows_per_page": size,
            "next_page": if more { json!(page + 1) } else { Value::Null },
        },
        "data": cards.iter().map(|c| c.list_json()).collect::<Vec<_>>(),
    }))
}
