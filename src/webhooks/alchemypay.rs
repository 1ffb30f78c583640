//! `POST /webhooks/alchemypay` (spec §5.1): creation callbacks (`CREATE_CARD`,
//! `CREATE_CARD_FAIL`) are unsigned, so one is accepted only when its `data.orderNo` is the
//! idempotency key of one of our Alchemy Pay orders (anything else answers 404 and is not
//! stored), and the processor confirms it with a card-info lookup before trusting it. The
//! event key is `eventId`.

use super::inbox::{ENDPOINT_ALCHEMYPAY, event_key_hash, json_object, persist, text};
use super::{Error, WebhookState};
use crate::domain::ProviderKind;
use crate::domain::card_data::scrub_card_data_text;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;

pub(crate) async fn receive(
    State(state): State<WebhookState>,
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
    let key = match text(&event, "/eventId") {
        Some(id) => id.to_string(),
        // The hash of a body holding a card number would be a guessable digest of it: hash the
        // scrubbed body.
        None => event_key_hash(&[&scrub_card_data_text(&String::from_utf8_lossy(&body))]),
    };
    persist(
        &state,
        ENDPOINT_ALCHEMYPAY,
        key,
        event_type,
        Some(order.profile),
        &body,
    )
    .await
}
