//! `PATCH /prepaid/card/{card_key}` and `PATCH /wallet/{wallet_key}/card/{card_key}` with
//! `{"status": ...}`: a client's status change, checked by [`check_transition`], answered with
//! the card as the GET shows it, and notified by the card webhook with `old_status`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::error::QiError;
use super::fields::Obj;
use super::postpaid_request::find_wallet;
use super::respond::admit;
use super::state::Qi;
use super::status::{STATUSES, check_transition};
use super::webhook::send_card_webhook;
use cardbatch_types::ProviderKind;

/// The `status` of a PATCH body.
fn requested_status(body: &Value) -> Result<String, QiError> {
    let obj = Obj::root(body)?;
    obj.only(&["status"])?;
    Ok(obj.choice("status", &STATUSES)?.to_string())
}

/// `PATCH /prepaid/card/{card_key}`.
pub async fn prepaid(
    State(qi): State<Arc<Qi>>,
    Path(card_key): Path<String>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const PROVIDER: ProviderKind = ProviderKind::QitechPrepaid;
    let call = match admit(&qi, PROVIDER, &method, &uri, &headers, &body).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    let outcome = requested_status(&call.body).and_then(|new| {
        let mut store = qi.prepaid.lock().expect("prepaid lock");
        let card = store.get(&card_key).ok_or_else(|| QiError::card_not_found(&card_key))?;
        let old = card.status().to_string();
        check_transition(&old, &new)?;
        store.transition_from(&card_key, &old, &new, qi.core.clock.now());
        let card = store.get(&card_key).expect("the card was just updated");
        let data = json!({"card_key": card_key, "type": card.request.card_type.as_str(), "status": new, "old_status": old});
        Ok((card.detail_json(), new, data))
    });
    match outcome {
        Ok((card, new, data)) => {
            qi.core
                .ledger
                .set_status(PROVIDER.as_str(), &card_key, &new);
            send_card_webhook(
                &qi,
                PROVIDER,
                "baas.prepaid_card.card",
                &call.reply.api_key,
                data,
            );
            call.reply.json(&qi, StatusCode::OK, &card)
        }
        Err(e) => call.reply.error(&qi, &e),
    }
}

/// `PATCH /wallet/{wallet_key}/card/{card_key}`.
pub async fn postpaid(
    State(qi): State<Arc<Qi>>,
    Path((wallet_key, card_key)): Path<(String, String)>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const PROVIDER: ProviderKind = ProviderKind::QitechPostpaid;
    let call = match admit(&qi, PROVIDER, &method, &uri, &headers, &body).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    let outcome = requested_status(&call.body).and_then(|new| {
        find_wallet(&wallet_key, &qi.core.fixtures.qitech)?;
        let mut store = qi.postpaid.lock().expect("postpaid lock");
        let card = store
            .get(&wallet_key, &card_key)
            .ok_or_else(|| QiError::card_not_found(&card_key))?;
        let old = card.status().to_string();
        check_transition(&old, &new)?;
        store.transition_from(&card_key, &old, &new, qi.core.clock.now());
        let card = store
            .get(&wallet_key, &card_key)
            .expect("the card was just updated");
        let data = json!({
            "card_key": card_key,
            "wallet_key": wallet_key,
            "payment_instrument_key": card.payment_instrument_key,
            "type": card.request.card_type.as_str(),
            "status": new,
            "old_status": old,
        });
        Ok((card.detail_json(), new, data))
    });
    match outcome {
        Ok((card, new, data)) => {
            qi.core
                .ledger
                .set_status(PROVIDER.as_str(), &card_key, &new);
            send_card_webhook(
                &qi,
                PROVIDER,
                "baas.pospaid_card.card",
                &call.reply.api_key,
                data,
            );
            call.reply.json(&qi, StatusCode::OK, &card)
        }
        Err(e) => call.reply.error(&qi, &e),
    }
}
