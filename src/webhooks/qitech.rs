//! `POST /webhooks/qitech` (prepaid spec §9.3, the same for postpaid): `AUTHORIZATION` is an
//! ES512 JWT signed by QI whose claims are `payload_md5` (MD5 hex of the exact body),
//! `method`, `uri` (our endpoint's path) and `timestamp` (within the tolerance of our clock).
//! The card webhook has no event id, so its key is the documented composite
//! `(webhook_type, data.card_key, data.status, event_datetime)`, hashed.

use super::inbox::{ENDPOINT_QITECH, event_key_hash, json_object, persist, stored_body, text};
use super::{Error, WebhookKeys, WebhookState, now_ms};
use crate::providers::qitech::verify_jws;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use md5::{Digest, Md5};
use serde_json::Value;

/// Checks a QI v2 webhook signature against every QI profile's public key; returns the
/// profile whose key verified it. `path` is the path the request arrived at.
pub fn verify(
    keys: &WebhookKeys,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
    now_ms: i64,
) -> Result<String, Error> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::Unauthorized("no AUTHORIZATION header".into()))?;
    let (profile, claims) = keys
        .qitech
        .iter()
        .find_map(|(profile, key)| verify_jws(key, token).ok().map(|c| (profile, c)))
        .ok_or_else(|| {
            Error::Unauthorized("the JWT verifies with no QI profile's public key".into())
        })?;
    let claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let md5 = hex::encode(Md5::digest(body));
    if !claim("payload_md5").eq_ignore_ascii_case(&md5) {
        return Err(Error::Unauthorized(
            "payload_md5 is not the body's MD5".into(),
        ));
    }
    if !claim("method").eq_ignore_ascii_case(method) {
        return Err(Error::Unauthorized(format!(
            "signed for method `{}`, received {method}",
            claim("method")
        )));
    }
    // QI signs the URI it calls: our route, under `public_url`'s path when a proxy serves us
    // there (it may strip that prefix before we see the request).
    let uri = claim("uri");
    if uri != path && uri.strip_prefix(keys.public_path.as_str()) != Some(path) {
        return Err(Error::Unauthorized(format!(
            "signed for uri `{uri}`, received at {path}"
        )));
    }
    let signed_at = chrono::DateTime::parse_from_rfc3339(claim("timestamp"))
        .map_err(|_| Error::Unauthorized("the timestamp claim is not RFC 3339".into()))?
        .timestamp_millis();
    let drift = now_ms.abs_diff(signed_at);
    if u128::from(drift) > keys.tolerance.as_millis() {
        return Err(Error::Unauthorized(format!(
            "the timestamp claim is {drift} ms away from our clock"
        )));
    }
    Ok(profile.clone())
}

pub(crate) async fn receive(
    State(state): State<WebhookState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Error> {
    let profile = verify(&state.keys, &headers, "POST", uri.path(), &body, now_ms())?;
    let event = json_object(&body)?;
    let webhook_type = text(&event, "/webhook_type")
        .ok_or_else(|| Error::Malformed("no webhook_type".into()))?
        .to_string();
    let key = match (
        text(&event, "/data/card_key"),
        text(&event, "/event_datetime"),
    ) {
        (Some(card_key), Some(at)) => event_key_hash(&[
            &webhook_type,
            card_key,
            text(&event, "/data/status").unwrap_or_default(),
            at,
        ]),
        // Other QI webhooks (balance transactions, invoices) have a `key` of their own, or
        // else the exact body identifies them.
        _ => match text(&event, "/key") {
            Some(k) => event_key_hash(&[&webhook_type, k]),
            None => event_key_hash(&[&String::from_utf8_lossy(&body)]),
        },
    };
    persist(
        &state,
        ENDPOINT_QITECH,
        key,
        webhook_type,
        Some(profile),
        stored_body(event),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::qitech::{
        DEV_CLIENT_PRIVATE_KEY_PEM, DEV_CLIENT_PUBLIC_KEY_PEM, sign_v2_headers,
        signing_key_from_pem,
    };
    use chrono::{TimeZone, Utc};

    const BODY: &[u8] = br#"{"webhook_type":"baas.prepaid_card.card"}"#;

    fn keys() -> WebhookKeys {
        let mut keys = WebhookKeys::new();
        keys.add_qitech(
            "qi",
            crate::providers::qitech::public_key_from_pem(DEV_CLIENT_PUBLIC_KEY_PEM).unwrap(),
        );
        keys
    }

    /// Headers as the sandbox signs a webhook (an independent implementation of the rules).
    fn signed(method: &str, uri: &str, body: &[u8], at_ms: i64) -> HeaderMap {
        let key = signing_key_from_pem(DEV_CLIENT_PRIVATE_KEY_PEM).unwrap();
        let at = Utc.timestamp_millis_opt(at_ms).unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in sign_v2_headers(&key, "api-key", method, uri, body, at) {
            headers.insert(name, value);
        }
        headers
    }

    const NOW: i64 = 1_790_000_000_000;

    #[test]
    fn a_webhook_signed_for_our_path_and_body_verifies() {
        let headers = signed("POST", "/webhooks/qitech", BODY, NOW - 1_000);
        let profile = verify(&keys(), &headers, "POST", "/webhooks/qitech", BODY, NOW).unwrap();
        assert_eq!(profile, "qi");
    }

    #[test]
    fn a_body_other_than_the_signed_one_is_refused() {
        let headers = signed("POST", "/webhooks/qitech", BODY, NOW);
        let err = verify(&keys(), &headers, "POST", "/webhooks/qitech", b"{}", NOW).unwrap_err();
        assert!(err.to_string().contains("payload_md5"), "{err}");
    }

    #[test]
    fn a_signature_older_than_the_tolerance_is_refused() {
        let headers = signed("POST", "/webhooks/qitech", BODY, NOW - 6 * 60 * 1000);
        let err = verify(&keys(), &headers, "POST", "/webhooks/qitech", BODY, NOW).unwrap_err();
        assert!(err.to_string().contains("away from our clock"), "{err}");
    }

    #[test]
    fn behind_a_proxy_the_uri_qi_signed_is_our_public_urls_path_plus_our_route() {
        let proxied = keys().with_public_path("/cardbatch");
        let via_proxy = signed("POST", "/cardbatch/webhooks/qitech", BODY, NOW);
        let elsewhere = signed("POST", "/other/webhooks/qitech", BODY, NOW);

        assert!(verify(&proxied, &via_proxy, "POST", "/webhooks/qitech", BODY, NOW).is_ok());
        // Or the proxy passed the prefix on.
        assert!(
            verify(
                &proxied,
                &via_proxy,
                "POST",
                "/cardbatch/webhooks/qitech",
                BODY,
                NOW
            )
            .is_ok()
        );
        let err = verify(&proxied, &elsewhere, "POST", "/webhooks/qitech", BODY, NOW).unwrap_err();
        assert!(err.to_string().contains("uri"), "{err}");
        // Without that public URL, the prefixed URI is not ours.
        assert!(verify(&keys(), &via_proxy, "POST", "/webhooks/qitech", BODY, NOW).is_err());
    }

    #[test]
    fn a_signature_for_another_method_is_refused() {
        let headers = signed("PUT", "/webhooks/qitech", BODY, NOW);
        let err = verify(&keys(), &headers, "POST", "/webhooks/qitech", BODY, NOW).unwrap_err();
        assert!(err.to_string().contains("method"), "{err}");
    }

    #[test]
    fn without_a_configured_public_key_every_webhook_is_refused() {
        let headers = signed("POST", "/webhooks/qitech", BODY, NOW);
        let err = verify(
            &WebhookKeys::new(),
            &headers,
            "POST",
            "/webhooks/qitech",
            BODY,
            NOW,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Unauthorized(_)));
    }
}
