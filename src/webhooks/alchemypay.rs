//! `POST /webhooks/alchemypay/<tag>` (spec §5.1): creation callbacks (`CREATE_CARD`,
//! `CREATE_CARD_FAIL`) are unsigned, so one is accepted only when its `data.orderNo` is the
//! idempotency key of one of our Alchemy Pay orders (anything else answers 404 and is not
//! stored) and it came to the URL tagged for that order (`providers::alchemypay::callback_mac`;
//! anything else, the bare endpoint included, answers 401), and the processor confirms a
//! `CREATE_CARD` with a card-info lookup (the card must carry the same orderNo) before trusting
//! it. The event key is `eventId`.

use super::inbox::{ENDPOINT_ALCHEMYPAY, event_key_hash, json_object, persist, stored_body, text};
use super::{Error, WebhookState};
use crate::domain::ProviderKind;
use crate::providers::alchemypay::callback_tag_matches;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// A callback on the bare endpoint: no order's tag, so never one of ours.
pub(crate) async fn refuse_untagged() -> Error {
    Error::Unauthorized("an Alchemy Pay callback without its order's tag in the URL".into())
}

pub(crate) async fn receive(
    State(state): State<WebhookState>,
    Path(tag): Path<String>,
    body: Bytes,
) -> Result<StatusCode, Error> {
    let event = json_object(&body)?;
    let event_type = text(&event, "/eventType")
        .ok_or_else(|| Error::Malformed("no eventType".into()))?
        .to_string();
    let order_no =
        text(&event, "/data/orderNo").ok_or_else(|| Error::Malformed("no data.orderNo".into()))?;
    let order = state
        .store
        .order_lookup_by_key(ProviderKind::AlchemypayVcc, order_no)
        .await?
        .ok_or_else(|| {
            Error::UnknownOrder(format!("no Alchemy Pay order has orderNo {order_no}"))
        })?;
    // The URL must be the one made for this orderNo under the order's profile's key (checked
    // after the order lookup, which answers the same 404 for any unknown orderNo).
    let tagged = state
        .keys
        .alchemypay
        .iter()
        .filter(|(profile, _)| *profile == order.profile)
        .any(|(_, secret)| callback_tag_matches(secret, order_no, &tag));
    if !tagged {
        return Err(Error::Unauthorized(format!(
            "the callback URL does not carry the tag of orderNo {order_no}"
        )));
    }
    let event_id = text(&event, "/eventId").map(str::to_string);
    let stored = stored_body(event);
    let key = match event_id {
        Some(id) => id,
        // The hash of a body holding a card number would be a guessable digest of it: hash the
        // scrubbed body.
        None => event_key_hash(&[&stored]),
    };
    persist(
        &state,
        ENDPOINT_ALCHEMYPAY,
        key,
        event_type,
        Some(order.profile),
        stored,
    )
    .await
}
