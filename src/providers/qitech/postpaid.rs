//! QI Tech postpaid cards, created as payment instruments:
//! `POST /wallet/{wallet_key}/payment_instrument` (spec `qitech-postpaid.md` §6, §9).
//!
//! The order's idempotency key is the `request_control_key`, sent on every attempt. QI refuses
//! a reused key with 409 `CIN000099` instead of replaying the first answer, and offers no lookup
//! by key: when the 409's `extra_fields` carry the instrument's keys the order is accepted with
//! them, otherwise it needs an operator (the spec's reconciliation gap). Doubt is therefore
//! resolved by re-sending with the same key, which answers the 201 or the 409.

use super::classify::QiCall;
use super::outcome::{failure, local_refusal};
use super::transport::QiTransport;
use crate::domain::{ProviderOrder, ProviderRefs};
use crate::providers::{CallKind, CallReport, CardStatus, Classified, Provider, Resolution};
use futures::future::BoxFuture;
use reqwest::Method;
use serde_json::Value;

/// The refs of an accepted instrument, by QI's own names.
const REF_KEYS: [&str; 3] = [
    "payment_instrument_key",
    "postpaid_card_key",
    "owner_person_key",
];

/// The QI Tech postpaid client of one profile.
pub struct QiPostpaid {
    transport: QiTransport,
}

impl QiPostpaid {
    /// A client sending through `transport`.
    pub fn new(transport: QiTransport) -> QiPostpaid {
        QiPostpaid { transport }
    }

    async fn create_instrument(&self, order: &ProviderOrder) -> CallReport {
        let (wallet_key, body) = match wire_body(order) {
            Ok(parts) => parts,
            Err(problem) => return local_refusal(problem),
        };
        let path = format!("/wallet/{wallet_key}/payment_instrument");
        let exchange = self.transport.call(Method::POST, &path, Some(body)).await;
        let classified = match &exchange.answer {
            Err(classified) => classified.clone(),
            Ok(answer) if answer.is_success() => match instrument_refs(&answer.json) {
                Some(refs) => Classified::Accepted { refs },
                None => Classified::Unknown {
                    code: format!("http_{}", answer.status),
                    message: "QI answered success without the instrument's keys".into(),
                },
            },
            Ok(answer) if answer.code() == Some("CIN000099") => {
                already_done(&answer.json, &order.idempotency_key, &wallet_key)
            }
            Ok(answer) => failure(QiCall::PostpaidCreate, answer),
        };
        if !matches!(classified, Classified::Accepted { .. }) {
            tracing::debug!(order_ref = %order.order_ref, ?classified, "qitech postpaid create");
        }
        exchange.report(CallKind::Create, classified)
    }

    async fn resolve_instrument(&self, order: &ProviderOrder) -> (Resolution, Vec<CallReport>) {
        let refs = &order.refs;
        if refs.is_empty() {
            // QI has no lookup by request_control_key; re-sending the same key is the lookup:
            // it answers 201 (the first attempt never arrived) or 409 CIN000099.
            return (Resolution::ResendIsSafe, Vec::new());
        }
        let wallet_key = order.payload.get("wallet_key").and_then(Value::as_str);
        let card_key = refs.get(ProviderRefs::POSTPAID_CARD_KEY);
        let (Some(wallet_key), Some(card_key)) = (wallet_key, card_key) else {
            return (
                Resolution::Unresolvable {
                    code: "incomplete_refs".into(),
                    message: format!(
                        "the order holds refs {refs} without a wallet_key and postpaid_card_key to look up"
                    ),
                },
                Vec::new(),
            );
        };
        let path = format!("/wallet/{wallet_key}/card/{card_key}");
        let exchange = self.transport.call(Method::GET, &path, None).await;
        let (resolution, classified) = match &exchange.answer {
            Ok(answer) if answer.is_success() => (
                Resolution::Found { refs: refs.clone() },
                Classified::Accepted { refs: refs.clone() },
            ),
            Ok(answer) => {
                let c = failure(QiCall::Lookup, answer);
                (Resolution::after_failed_lookup(&c), c)
            }
            Err(c) => (Resolution::after_failed_lookup(c), c.clone()),
        };
        (
            resolution,
            vec![exchange.report(CallKind::Lookup, classified)],
        )
    }
}

impl Provider for QiPostpaid {
    fn create<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, CallReport> {
        Box::pin(self.create_instrument(order))
    }

    fn resolve<'a>(
        &'a self,
        order: &'a ProviderOrder,
    ) -> BoxFuture<'a, (Resolution, Vec<CallReport>)> {
        Box::pin(self.resolve_instrument(order))
    }

    fn status<'a>(
        &'a self,
        order: &'a ProviderOrder,
    ) -> BoxFuture<'a, (CardStatus, Vec<CallReport>)> {
        Box::pin(async move {
            let wallet_key = order.payload.get("wallet_key").and_then(Value::as_str);
            let card_key = order.refs.get(ProviderRefs::POSTPAID_CARD_KEY);
            let (Some(wallet_key), Some(card_key)) = (wallet_key, card_key) else {
                return (
                    CardStatus::missing("wallet_key and postpaid_card_key"),
                    Vec::new(),
                );
            };
            let path = format!("/wallet/{wallet_key}/card/{card_key}");
            super::status::card_status(&self.transport, &path, card_key).await
        })
    }
}

/// `(wallet_key, body)`: the order as ingest validated it, with `wallet_key` moved into the
/// path, the limit converted from centavos to QI's BRL number, and `request_control_key` = the
/// order's key.
fn wire_body(order: &ProviderOrder) -> Result<(String, Vec<u8>), String> {
    let Value::Object(mut body) = order.payload.clone() else {
        return Err("the order payload is not a JSON object".into());
    };
    let wallet_key = match body.remove("wallet_key") {
        Some(Value::String(key)) if is_path_safe(&key) => key,
        _ => return Err("the order has no usable wallet_key".into()),
    };
    if let Some(minor) = body.remove("limit_amount_minor") {
        let minor = minor
            .as_i64()
            .ok_or("limit_amount_minor is not an integer")?;
        body.insert("limit_amount".into(), brl(minor));
    }
    body.insert(
        "request_control_key".into(),
        Value::String(order.idempotency_key.clone()),
    );
    let bytes = serde_json::to_vec(&body).expect("a JSON map serialises");
    Ok((wallet_key, bytes))
}

/// Centavos as QI's float BRL amount (`200000` -> `2000.0`). Dividing exactly representable
/// integers by 100 gives the double nearest the decimal amount, which prints as that decimal.
fn brl(minor: i64) -> Value {
    serde_json::Number::from_f64(minor as f64 / 100.0).map_or(Value::Null, Value::Number)
}

/// A key that can go in a URL path as it is (ingest validates UUIDs; this guards the path).
fn is_path_safe(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The refs of a 201: the three keys, of which the first two are required.
fn instrument_refs(json: &Value) -> Option<ProviderRefs> {
    let refs: ProviderRefs = REF_KEYS
        .iter()
        .filter_map(|name| Some((*name, json.get(*name)?.as_str()?)))
        .collect();
    let complete = REF_KEYS[..2].iter().all(|k| refs.get(k).is_some());
    complete.then_some(refs)
}

/// 409 `CIN000099`: an earlier attempt with this key was carried out.
fn already_done(json: &Value, key: &str, wallet_key: &str) -> Classified {
    let extra = json.get("extra_fields").unwrap_or(&Value::Null);
    if let Some(refs) = instrument_refs(extra) {
        return Classified::Accepted { refs };
    }
    let message = match extra.get("payment_instrument_key").and_then(Value::as_str) {
        Some(instrument) => format!(
            "QI confirms request_control_key {key} was used: instrument {instrument} exists in wallet {wallet_key} but QI reports no card for it; check the instrument's card"
        ),
        None => format!(
            "QI confirms request_control_key {key} was used but offers no lookup by it; check the instruments of wallet {wallet_key}"
        ),
    };
    Classified::NeedsReview {
        code: "CIN000099".into(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn centavos_become_the_decimal_brl_number() {
        assert_eq!(brl(200_000).to_string(), "2000.0");
        assert_eq!(brl(123_456).to_string(), "1234.56");
        assert_eq!(brl(1).to_string(), "0.01");
    }

    #[test]
    fn a_conflict_with_both_keys_is_accepted_and_without_them_needs_review() {
        let with_keys = json!({"code": "CIN000099", "extra_fields": {
            "payment_instrument_key": "pi", "postpaid_card_key": "pc"}});
        let partial = json!({"code": "CIN000099", "extra_fields": {
            "payment_instrument_key": "pi", "postpaid_card_key": null}});
        let bare = json!({"code": "CIN000099", "extra_fields": {}});

        assert_eq!(
            already_done(&with_keys, "k", "w"),
            Classified::Accepted {
                refs: ProviderRefs::new()
                    .with(ProviderRefs::PAYMENT_INSTRUMENT_KEY, "pi")
                    .with(ProviderRefs::POSTPAID_CARD_KEY, "pc")
            }
        );
        assert!(
            matches!(already_done(&partial, "k", "w"), Classified::NeedsReview { message, .. } if message.contains("pi"))
        );
        assert!(
            matches!(already_done(&bare, "k", "w"), Classified::NeedsReview { message, .. } if message.contains("offers no lookup"))
        );
    }

    #[test]
    fn a_wallet_key_that_would_change_the_path_is_refused() {
        assert!(is_path_safe("3f9a7c2e-1b4d-4e8f-9a6c-5d2e8b7f1a30"));
        assert!(!is_path_safe("../prepaid/card"));
        assert!(!is_path_safe("a?b"));
    }
}
