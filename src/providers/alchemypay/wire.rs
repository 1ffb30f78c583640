//! Wire types: the create body built from an ingested order, and the response envelope
//! `{code, msg, model, traceId, success, error}` read permissively (`code` may be a string or
//! a number). Only the fields cardbatch uses are kept: `model.activeLink` carries a login
//! token and is never deserialised, stored or logged.

use serde::Deserialize;
use serde_json::{Value, json};

/// The order payload as ingest wrote it (`crate::ingest::alchemypay_vcc`).
#[derive(Debug, Clone, Deserialize)]
pub struct OrderPayload {
    /// `{firstName, lastName}`.
    #[serde(rename = "cardHolder")]
    pub card_holder: CardHolder,
    /// Initial load in cents.
    pub deposit_cents: i64,
    /// `USD`, `EUR` or `CHF`.
    pub currency: String,
    /// Card segment id.
    pub vid: String,
    /// The merchant's own customer id.
    #[serde(rename = "customerId", default)]
    pub customer_id: Option<String>,
}

/// The cardholder's names.
#[derive(Debug, Clone, Deserialize)]
pub struct CardHolder {
    /// A–Z letters, 1–32.
    #[serde(rename = "firstName")]
    pub first_name: String,
    /// A–Z letters, 1–32.
    #[serde(rename = "lastName")]
    pub last_name: String,
}

impl OrderPayload {
    /// The `POST /open/api/card/create` body (spec §4.1): the deposit as a cents string.
    pub fn create_body(&self, order_no: &str, callback_url: &str) -> Value {
        json!({
            "cardHolder": {
                "firstName": self.card_holder.first_name,
                "lastName": self.card_holder.last_name,
            },
            "deposit": self.deposit_cents.to_string(),
            "currency": self.currency,
            "vid": self.vid,
            "orderNo": order_no,
            "callbackUrl": callback_url,
            "customerId": self.customer_id,
        })
    }
}

/// The response envelope.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    /// `0` on success; a string (`"0"`) or a number in the examples.
    #[serde(deserialize_with = "code")]
    pub code: i64,
    /// The provider's message (`成功`, `Success`, or the error text).
    #[serde(default)]
    pub msg: Option<String>,
    /// The success flag; success is `code == 0 && success`.
    #[serde(default)]
    pub success: bool,
    /// The payload; only `cardId` is read from it.
    #[serde(default)]
    pub model: Option<Model>,
}

/// The parts of `model` cardbatch reads. Everything else (`activeLink` above all) is skipped
/// by serde without being kept.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Model {
    /// Present in some variants of the create answer (v2, Prepaidify).
    #[serde(rename = "cardId", default)]
    pub card_id: Option<String>,
    /// Prepaidify's create answer and `/card/info` nest the card.
    #[serde(default)]
    pub card: Option<CardModel>,
}

/// `model.card` of `/open/api/card/info`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CardModel {
    /// The card id.
    #[serde(rename = "cardId", default)]
    pub card_id: Option<String>,
    /// The orderNo the card was created under, when the provider says.
    #[serde(rename = "orderNo", default)]
    pub order_no: Option<String>,
    /// The card's status (`INIT*`, `ACTIVE`, `CREATE_CARD_FAILED_REFUND`, ...).
    #[serde(default)]
    pub status: Option<String>,
}

impl Envelope {
    /// Success as the deposit page defines it: `code == 0` and `success == true`.
    pub fn is_success(&self) -> bool {
        self.code == 0 && self.success
    }

    /// The card id wherever the model carries it.
    pub fn card_id(&self) -> Option<&str> {
        let model = self.model.as_ref()?;
        model
            .card_id
            .as_deref()
            .or_else(|| model.card.as_ref()?.card_id.as_deref())
            .filter(|id| !id.is_empty())
    }

    /// The message, shortened: provider messages name fields, never their values, but a bound
    /// keeps an odd answer from flooding the attempts table.
    pub fn message(&self) -> String {
        let msg = self.msg.as_deref().unwrap_or("");
        msg.chars().take(200).collect()
    }
}

fn code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    use serde::de::Error;
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| D::Error::custom("code out of range")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| D::Error::custom(format!("code `{s}` is not a number"))),
        other => Err(D::Error::custom(format!("code {other} is not a number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_answer_is_a_success_without_a_card_id_and_the_link_is_not_kept() {
        let seed = r#"{"code":"0","msg":"成功","model":{"activeLink":"http://www.***.com/login?wallet=8012&token=eyJ"},"traceId":"665597457b9b37cb000187a035002030","success":true,"error":false}"#;
        let e: Envelope = serde_json::from_str(seed).unwrap();
        assert!(e.is_success());
        assert_eq!(e.card_id(), None);
        assert!(!format!("{e:?}").contains("token"));
    }

    #[test]
    fn a_numeric_code_and_a_nested_card_id_are_read() {
        let e: Envelope = serde_json::from_str(
            r#"{"code":0,"success":true,"model":{"card":{"cardId":"c_1","status":"ACTIVE"}}}"#,
        )
        .unwrap();
        assert!(e.is_success());
        assert_eq!(e.card_id(), Some("c_1"));
        let e: Envelope = serde_json::from_str(
            r#"{"code":"300001","msg":"Duplicate","success":false,"model":null}"#,
        )
        .unwrap();
        assert_eq!(e.code, 300001);
        assert!(!e.is_success());
    }

    #[test]
    fn code_zero_without_the_success_flag_is_not_a_success() {
        let e: Envelope = serde_json::from_str(r#"{"code":"0","success":false}"#).unwrap();
        assert!(!e.is_success());
    }

    #[test]
    fn the_create_body_carries_the_deposit_as_a_cents_string() {
        let payload: OrderPayload = serde_json::from_value(json!({
            "cardHolder": {"firstName": "Milton", "lastName": "Schmitt"},
            "deposit_cents": 1000, "currency": "USD", "vid": "USD"
        }))
        .unwrap();
        let body = payload.create_body("v_5bc814", "https://www.baidu.com");
        assert_eq!(body["deposit"], "1000");
        assert_eq!(body["orderNo"], "v_5bc814");
        assert_eq!(body["cardHolder"]["lastName"], "Schmitt");
        assert!(body["customerId"].is_null());
    }
}
