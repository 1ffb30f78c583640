//! `POST /open/api/card/info` `{"cardId": "..."}`: the card and its holder. A card of another
//! merchant key is "404005 Card does not exist".

use super::AlchemyPay;
use super::wire::{AchError, ok};
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::Arc;

/// The card-info handler.
pub async fn card_info(
    State(alchemy): State<Arc<AlchemyPay>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let (access_key, request) = alchemy.signed_object(&headers, &uri, &body).await?;
        let card_id = request
            .get("cardId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AchError::null("cardId"))?;
        let card = alchemy.cards.get_own(&access_key, card_id)?;
        Ok::<_, AchError>(card.info_model())
    }
    .await;
    match result {
        Ok(model) => ok(model),
        Err(e) => e.into_response(),
    }
}
