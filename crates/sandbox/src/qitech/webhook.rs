//! Card webhooks (`baas.prepaid_card.card`, `baas.pospaid_card.card`), signed v2-style with the
//! sandbox key: `AUTHORIZATION` = ES512 JWT of `{payload_md5, timestamp, method, uri}` over the
//! exact bytes sent, plus `API-CLIENT-KEY`. Retried every 5 minutes, 3 times (scaled by
//! `time_scale`) on any non-2xx answer.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use serde_json::{Value, json};

use super::sign::sign_v2_headers;
use super::state::Qi;
use crate::core::{Delivery, every};
use cardbatch_types::ProviderKind;

/// QI's redundancy: every 5 minutes, 3 times.
pub const RETRY_EVERY: Duration = Duration::from_secs(5 * 60);
/// Number of retries after the first attempt.
pub const RETRIES: usize = 3;

/// Queues a card webhook of `webhook_type` with `data` to `provider`'s configured URL (none
/// configured: nothing is sent). `api_key` is the client the card belongs to.
pub fn send_card_webhook(
    qi: &Arc<Qi>,
    provider: ProviderKind,
    webhook_type: &str,
    api_key: &str,
    data: Value,
) {
    let Some(url) = qi.core.settings(provider).webhook_url.clone() else {
        return;
    };
    let body = json!({
        "webhook_type": webhook_type,
        "event_datetime": qi.core.clock.now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "data": data,
    });
    // The `uri` claim is the receiver's path, as QI signs "your endpoint".
    let uri = reqwest::Url::parse(&url)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| "/".into());
    let signer_qi = Arc::clone(qi);
    let api_key = api_key.to_string();
    let delivery = Delivery {
        url,
        body: Bytes::from(body.to_string()),
        sign: Arc::new(move |bytes: &[u8]| {
            let now = signer_qi.core.clock.now();
            sign_v2_headers(&signer_qi.sandbox_key, &api_key, "POST", &uri, bytes, now)
        }),
        schedule: every(RETRY_EVERY, RETRIES),
    };
    qi.core.webhooks.send(provider.as_str(), delivery);
}
