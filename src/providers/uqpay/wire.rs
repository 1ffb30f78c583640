//! UQPAY's wire shapes as the client speaks them (spec `uqpay.md` §2, §3, §6, §7): the create
//! body made from the order's payload, the answers we read, and the error envelopes.
//!
//! Money is integer minor units inside cardbatch; UQPAY takes a decimal number (`card_limit`,
//! `spending_controls[].amount`), produced only here.

use serde::Deserialize;
use serde_json::{Map, Number, Value};

/// The order's payload as ingest produced it (`crate::ingest::uqpay::UqpayOrder`), read back.
/// Read independently of the ingest struct so that the payload stored in the database is the
/// contract, not a Rust type.
#[derive(Debug, Deserialize)]
struct Payload {
    cardholder_id: String,
    card_product_id: String,
    card_currency: String,
    #[serde(default)]
    card_limit_minor: Option<i64>,
    #[serde(default)]
    usage_type: Option<String>,
    #[serde(default)]
    auto_cancel_trigger: Option<String>,
    #[serde(default)]
    spending_controls: Vec<SpendingControl>,
    #[serde(default)]
    risk_controls: Option<Value>,
    #[serde(default)]
    expiry_at: Option<String>,
    #[serde(default)]
    name_on_card: Option<String>,
    #[serde(default)]
    metadata: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct SpendingControl {
    amount_minor: i64,
    interval: String,
}

/// The `POST /v1/issuing/cards` body for an order's payload. Fails only on a payload ingest
/// could not have produced (a bug or a hand-edited row).
pub fn create_body(payload: &Value) -> Result<Value, String> {
    let p: Payload = serde_json::from_value(payload.clone())
        .map_err(|e| format!("the order's payload is not a UQPAY order: {e}"))?;
    let mut body = Map::new();
    body.insert("cardholder_id".into(), p.cardholder_id.into());
    body.insert("card_product_id".into(), p.card_product_id.into());
    if let Some(minor) = p.card_limit_minor {
        body.insert("card_limit".into(), decimal(minor, &p.card_currency)?);
    }
    if !p.spending_controls.is_empty() {
        let controls = p
            .spending_controls
            .iter()
            .map(|c| {
                Ok(serde_json::json!({
                    "amount": decimal(c.amount_minor, &p.card_currency)?,
                    "interval": c.interval,
                }))
            })
            .collect::<Result<Vec<Value>, String>>()?;
        body.insert("spending_controls".into(), Value::Array(controls));
    }
    body.insert("card_currency".into(), p.card_currency.into());
    let optional = [
        ("usage_type", p.usage_type.map(Value::from)),
        (
            "auto_cancel_trigger",
            p.auto_cancel_trigger.map(Value::from),
        ),
        ("risk_controls", p.risk_controls.filter(|v| !v.is_null())),
        ("expiry_at", p.expiry_at.map(Value::from)),
        ("name_on_card", p.name_on_card.map(Value::from)),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            body.insert(name.into(), value);
        }
    }
    body.insert("metadata".into(), Value::Object(p.metadata));
    Ok(Value::Object(body))
}

/// Minor units as UQPAY's decimal number: `100000` USD cents is `1000`, `1050` is `10.5`.
/// Both card currencies (USD, SGD; XUSD per the card-order doc) have two decimals.
pub fn decimal(minor: i64, currency: &str) -> Result<Value, String> {
    if !["USD", "SGD", "XUSD"].contains(&currency) {
        return Err(format!("unsupported card_currency {currency}"));
    }
    if minor % 100 == 0 {
        return Ok(Value::Number(Number::from(minor / 100)));
    }
    // serde_json prints the shortest text that reads back as the same f64, so 12345 cents is
    // written `123.45`; every amount below 2^53 cents is exact.
    Number::from_f64(minor as f64 / 100.0)
        .map(Value::Number)
        .ok_or_else(|| format!("amount {minor} is not a finite number"))
}

/// The create answer (seed 003): only the refs matter to cardbatch.
#[derive(Debug, Deserialize)]
pub struct CreateCardResponse {
    pub card_id: String,
    pub card_order_id: String,
}

/// `POST /v1/connect/token` answer: `expired_at` is Unix seconds.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub auth_token: String,
    pub expired_at: i64,
}

/// Any of UQPAY's error envelopes (spec §3.1): typed `{type, code, message}`, legacy numeric
/// `{code: 400, message}` (and the in-flight idempotency answer `{code: 200, ...}`), or the auth
/// gateway's `{error}`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<Value>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

impl ErrorBody {
    /// Parses an error answer; a body that is not one of the envelopes gives an empty one.
    pub fn parse(bytes: &[u8]) -> ErrorBody {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    /// The code as text: `"key_conflict"`, or `"200"` for the legacy numeric envelope.
    pub fn code_text(&self) -> Option<String> {
        match &self.code {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The human-readable part: `message`, else the gateway's `error`.
    pub fn text(&self) -> String {
        self.message
            .clone()
            .or_else(|| self.error.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seed_example_body_is_produced_from_a_payload_in_cents() {
        // Arrange: what ingest stores for the seed's row (card_limit 1000 USD).
        let payload = json!({
            "cardholder_id": "25ea804d-7fd5-43d5-8792-0fc0214cdb2f",
            "card_product_id": "467e993f-317a-49fc-9ea0-bf49de7d1f76",
            "card_currency": "USD", "card_limit_minor": 100000, "usage_type": "NORMAL",
            "metadata": {"cardbatch_order_ref": "r-1"}
        });

        // Act
        let body = create_body(&payload).unwrap();

        // Assert: the seed's body plus the defaults we always send.
        assert_eq!(
            body.to_string(),
            r#"{"card_currency":"USD","card_limit":1000,"card_product_id":"467e993f-317a-49fc-9ea0-bf49de7d1f76","cardholder_id":"25ea804d-7fd5-43d5-8792-0fc0214cdb2f","metadata":{"cardbatch_order_ref":"r-1"},"usage_type":"NORMAL"}"#
        );
    }

    #[test]
    fn cents_become_decimal_numbers_and_spending_controls_are_renamed() {
        let payload = json!({
            "cardholder_id": "h", "card_product_id": "p", "card_currency": "SGD",
            "card_limit_minor": 1050, "usage_type": "ONE_TIME", "auto_cancel_trigger": "ON_AUTH",
            "spending_controls": [{"amount_minor": 1, "interval": "DAILY"}],
            "risk_controls": {"allowed_mcc": ["5734"]}, "metadata": {}
        });
        let body = create_body(&payload).unwrap();
        assert_eq!(body["card_limit"].to_string(), "10.5");
        assert_eq!(
            body["spending_controls"],
            json!([{"amount": 0.01, "interval": "DAILY"}])
        );
        assert_eq!(body["auto_cancel_trigger"], "ON_AUTH");
        assert_eq!(body["risk_controls"]["allowed_mcc"][0], "5734");
    }

    #[test]
    fn a_payload_that_is_not_a_uqpay_order_is_refused() {
        assert!(create_body(&json!({"card_name": "x"})).is_err());
    }

    #[test]
    fn every_error_envelope_gives_its_code_and_text() {
        let typed = ErrorBody::parse(
            br#"{"type":"idempotency_error","code":"key_conflict","message":"m"}"#,
        );
        assert_eq!(typed.code_text().as_deref(), Some("key_conflict"));
        let legacy = ErrorBody::parse(br#"{"code":200,"message":"Request is processing"}"#);
        assert_eq!(legacy.code_text().as_deref(), Some("200"));
        let gateway = ErrorBody::parse(br#"{"error":"token has expired"}"#);
        assert_eq!(gateway.text(), "token has expired");
        assert_eq!(ErrorBody::parse(b"<html>").code_text(), None);
    }
}
