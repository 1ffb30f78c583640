//! `POST /wallet/{wallet_key}/payment_instrument` and `GET /wallet/{wallet_key}/card/{card_key}`.
//!
//! A reused `request_control_key` (per wallet) answers 409 CIN000099 and creates nothing; with
//! `conflict_reveals_keys` its `extra_fields` carry the original keys. A key is only used up by
//! a request that created something, so a retry after CIN000067/CIN000072 may reuse it, except
//! after a partial CIN000072 (`partial_cin000072`), which persists the instrument without a card.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::error::QiError;
use super::postpaid_request::{
    PostpaidRequest, check_postpaid_fixtures, find_wallet, parse_postpaid_request,
};
use super::postpaid_store::{ControlKeyUse, PostpaidCard};
use super::prepaid_store::{StatusEvent, last_four};
use super::respond::admit;
use super::state::Qi;
use super::webhook::send_card_webhook;
use crate::core::{CreateFault, LostResponse};
use cardbatch_types::ProviderKind;

const PROVIDER: ProviderKind = ProviderKind::QitechPostpaid;
/// Sic: QI spells it "pospaid".
const WEBHOOK_TYPE: &str = "baas.pospaid_card.card";

/// `POST /wallet/{wallet_key}/payment_instrument`.
pub async fn create(
    State(qi): State<Arc<Qi>>,
    Path(wallet_key): Path<String>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match admit(&qi, PROVIDER, &method, &uri, &headers, &body).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    let req = match parse_postpaid_request(&call.body, qi.lenient).and_then(|req| {
        check_postpaid_fixtures(&wallet_key, &req, &qi.core.fixtures.qitech).map(|_| req)
    }) {
        Ok(req) => req,
        Err(e) => return call.reply.error(&qi, &e),
    };
    let control_key = req.request_control_key.clone();
    if let Some(key) = &control_key {
        let reserved = qi
            .postpaid
            .lock()
            .expect("postpaid lock")
            .reserve(&wallet_key, key);
        if let Err(used) = reserved {
            return call.reply.error(&qi, &conflict(&qi, &used));
        }
    }

    let fault = qi.core.create_fault(PROVIDER.as_str());
    if fault == CreateFault::Transient {
        return call
            .reply
            .error(&qi, &transient_failure(&qi, &wallet_key, &req));
    }
    let created = create_instrument(&qi, &wallet_key, req, &call.reply.api_key);
    if fault == CreateFault::LostResponse {
        return LostResponse.into_response();
    }
    let mut answer = json!({
        "payment_instrument_key": created.payment_instrument_key,
        "postpaid_card_key": created.card_key,
        "owner_person_key": created.owner_person_key,
    });
    if let Some(key) = control_key {
        answer["request_control_key"] = json!(key);
    }
    call.reply.json(&qi, StatusCode::CREATED, &answer)
}

fn conflict(qi: &Qi, used: &ControlKeyUse) -> QiError {
    let err = QiError::request_control_key_exists();
    match used {
        ControlKeyUse::Done {
            payment_instrument_key,
            postpaid_card_key,
        } if qi.conflict_reveals_keys => {
            let mut extra = Map::new();
            extra.insert(
                "payment_instrument_key".into(),
                json!(payment_instrument_key),
            );
            extra.insert("postpaid_card_key".into(), json!(postpaid_card_key));
            err.with_extra_fields(extra)
        }
        _ => err,
    }
}

/// An injected transient failure: CIN000067 (owner creation, only when an `owner` is sent, on
/// half of the rolls) or CIN000072 (card service). Frees the key unless the CIN000072 is
/// partial.
fn transient_failure(qi: &Qi, wallet_key: &str, req: &PostpaidRequest) -> QiError {
    let owner_failed = req.owner_person_type.is_some() && qi.core.roll(PROVIDER.as_str(), 0.5);
    let mut store = qi.postpaid.lock().expect("postpaid lock");
    if let Some(key) = &req.request_control_key {
        if !owner_failed && qi.partial_cin000072 {
            let used = ControlKeyUse::Done {
                payment_instrument_key: uuid::Uuid::new_v4().to_string(),
                postpaid_card_key: None,
            };
            store.complete(wallet_key, key, used);
        } else {
            store.release(wallet_key, key);
        }
    }
    if owner_failed {
        QiError::owner_failed()
    } else {
        QiError::postpaid_card_failed()
    }
}

/// Creates the instrument and its card, records the card in the ledger, and schedules its
/// move out of `created` (virtual: `active`; plastic: `embossing`) with a webhook.
fn create_instrument(
    qi: &Arc<Qi>,
    wallet_key: &str,
    req: PostpaidRequest,
    api_key: &str,
) -> PostpaidCard {
    let card_key = uuid::Uuid::new_v4().to_string();
    let card = PostpaidCard {
        card_key: card_key.clone(),
        wallet_key: wallet_key.to_string(),
        payment_instrument_key: uuid::Uuid::new_v4().to_string(),
        owner_person_key: req
            .person_key
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        last_four_digits: last_four(&card_key),
        status_events: vec![StatusEvent {
            status: "created".into(),
            at: qi.core.clock.now(),
        }],
        request: req,
    };
    // Only the client's idempotency key goes in the ledger: wallets and card names are shared
    // by many cards, and the ledger counts every reference as a possible duplicate.
    let mut references = std::collections::BTreeMap::new();
    {
        let mut store = qi.postpaid.lock().expect("postpaid lock");
        if let Some(key) = &card.request.request_control_key {
            references.insert("request_control_key".to_string(), key.clone());
            let used = ControlKeyUse::Done {
                payment_instrument_key: card.payment_instrument_key.clone(),
                postpaid_card_key: Some(card_key.clone()),
            };
            store.complete(wallet_key, key, used);
        }
        store.insert(card.clone());
    }
    qi.core
        .record_card(PROVIDER.as_str(), &card_key, "created", references);

    let next = qi.next_status(PROVIDER, card.request.card_type);
    let delay = Duration::from_millis(qi.core.settings(PROVIDER).lifecycle_delay_ms);
    let (later, api_key, card_type) = (Arc::clone(qi), api_key.to_string(), card.request.card_type);
    let (wallet, instrument) = (wallet_key.to_string(), card.payment_instrument_key.clone());
    qi.core.after(delay, async move {
        let now = later.core.clock.now();
        let moved = later
            .postpaid
            .lock()
            .expect("postpaid lock")
            .transition_from(&card_key, "created", next, now);
        if moved {
            later
                .core
                .ledger
                .set_status(PROVIDER.as_str(), &card_key, next);
            let data = json!({
                "card_key": card_key,
                "wallet_key": wallet,
                "payment_instrument_key": instrument,
                "type": card_type.as_str(),
                "status": next,
                "old_status": "created",
            });
            send_card_webhook(&later, PROVIDER, WEBHOOK_TYPE, &api_key, data);
        }
    });
    card
}

/// `GET /wallet/{wallet_key}/card/{card_key}`.
pub async fn get(
    State(qi): State<Arc<Qi>>,
    Path((wallet_key, card_key)): Path<(String, String)>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match admit(&qi, PROVIDER, &method, &uri, &headers, &body).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    if let Err(e) = find_wallet(&wallet_key, &qi.core.fixtures.qitech) {
        return call.reply.error(&qi, &e);
    }
    let card: Option<Value> = qi
        .postpaid
        .lock()
        .expect("postpaid lock")
        .get(&wallet_key, &card_key)
        .map(PostpaidCard::detail_json);
    match card {
        Some(card) => call.reply.json(&qi, StatusCode::OK, &card),
        None => call.reply.error(&qi, &QiError::card_not_found(&card_key)),
    }
}
