//! Validation of `POST /v1/issuing/cards` against spec section 6.1 and the fixtures.
//!
//! [inferred] UQPAY publishes no card-issuance error-code table, so the `code` strings here are
//! the sandbox's own (`missing_required_fields`, `cardholder_not_found`, `card_product_not_found`,
//! `product_disabled`, `card_form_not_supported`, `invalid_card_currency`,
//! `cardholder_status_invalid`, `invalid_card_limit`, `invalid_usage_type`,
//! `missing_auto_cancel_trigger`, `invalid_auto_cancel_trigger`, `metadata_too_large`,
//! `invalid_metadata`, `invalid_risk_controls`, `sub_account_not_found`); the `type` values and
//! HTTP statuses are the documented ones. Unknown ids in a body are 400 `not_found`.

use super::wire::{ApiError, BINS_REQUIRING_CARD_LIMIT, METADATA_MAX_BYTES};
use crate::fixtures::{Fixtures, UqpayCardholder, UqpayProduct};
use axum::http::StatusCode;
use serde_json::{Value, json};

/// A create request that passed validation.
#[derive(Debug, Clone)]
pub struct ValidCreate {
    pub product: UqpayProduct,
    pub cardholder: UqpayCardholder,
    pub card_currency: String,
    pub card_limit: Value,
    pub metadata: Value,
    pub spending_controls: Value,
    pub risk_controls: Value,
    pub usage_type: String,
    pub auto_cancel_trigger: Option<String>,
}

fn str_field<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(ApiError::invalid(
            "invalid_request",
            format!("{name} must be a string"),
        )),
    }
}

/// Checks a parsed create body; `cardholder` finds a cardholder the client may issue to.
pub fn validate_create(
    fixtures: &Fixtures,
    body: &Value,
    cardholder: impl Fn(&str) -> Option<UqpayCardholder>,
) -> Result<ValidCreate, ApiError> {
    if !body.is_object() {
        return Err(ApiError::invalid(
            "invalid_request",
            "request body must be a JSON object",
        ));
    }
    let currency = str_field(body, "card_currency")?;
    let cardholder_id = str_field(body, "cardholder_id")?;
    let product_id = str_field(body, "card_product_id")?;
    let missing: Vec<String> = [
        ("card_currency", currency),
        ("cardholder_id", cardholder_id),
        ("card_product_id", product_id),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_none_or(str::is_empty))
    .map(|(n, _)| n.to_string())
    .collect();
    if !missing.is_empty() {
        return Err(ApiError::missing(missing));
    }
    let (currency, cardholder_id, product_id) = (
        currency.unwrap_or_default(),
        cardholder_id.unwrap_or_default(),
        product_id.unwrap_or_default(),
    );

    let product = fixtures.uqpay_product(product_id).ok_or_else(|| {
        ApiError::not_found(
            StatusCode::BAD_REQUEST,
            "card_product_not_found",
            format!("Card product {product_id} does not exist"),
        )
    })?;
    if product.product_status != "ENABLED" {
        return Err(ApiError::invalid(
            "product_disabled",
            format!("Card product {product_id} is {}", product.product_status),
        ));
    }
    if !product.card_form.iter().any(|f| f == "VIR") {
        return Err(ApiError::invalid(
            "card_form_not_supported",
            "Card product does not support virtual cards",
        ));
    }
    if !["USD", "SGD", "XUSD"].contains(&currency)
        || !product.card_currency.iter().any(|c| c == currency)
    {
        return Err(ApiError::invalid(
            "invalid_card_currency",
            format!("card_currency {currency} is not supported by the card product"),
        ));
    }
    let cardholder = cardholder(cardholder_id).ok_or_else(|| {
        ApiError::not_found(
            StatusCode::BAD_REQUEST,
            "cardholder_not_found",
            format!("Cardholder {cardholder_id} does not exist"),
        )
    })?;
    if cardholder.cardholder_status != "SUCCESS" {
        return Err(ApiError::invalid(
            "cardholder_status_invalid",
            format!(
                "Cardholder status is {}; cards can only be issued to SUCCESS cardholders",
                cardholder.cardholder_status
            ),
        ));
    }

    let card_limit = validate_limit(product, body.get("card_limit"))?;
    let (usage_type, auto_cancel_trigger) = validate_usage(body)?;
    let metadata = validate_metadata(body.get("metadata"))?;
    let risk_controls = validate_risk_controls(body.get("risk_controls"))?;
    let spending_controls = validate_spending_controls(body.get("spending_controls"))?;
    Ok(ValidCreate {
        product: product.clone(),
        cardholder,
        card_currency: currency.to_string(),
        card_limit,
        metadata,
        spending_controls,
        risk_controls,
        usage_type,
        auto_cancel_trigger,
    })
}

/// `risk_controls`: an object, `allowed_mcc` and `blocked_mcc` not both; `Null` when absent.
pub(super) fn validate_risk_controls(risk_controls: Option<&Value>) -> Result<Value, ApiError> {
    let risk_controls = risk_controls.cloned().unwrap_or(Value::Null);
    if !risk_controls.is_null() {
        let has = |k: &str| risk_controls.get(k).is_some_and(|v| !v.is_null());
        if !risk_controls.is_object() || (has("allowed_mcc") && has("blocked_mcc")) {
            return Err(ApiError::invalid(
                "invalid_risk_controls",
                "risk_controls must be an object; allowed_mcc and blocked_mcc are mutually exclusive",
            ));
        }
    }
    Ok(risk_controls)
}

/// `spending_controls`: an array; empty when absent.
pub(super) fn validate_spending_controls(controls: Option<&Value>) -> Result<Value, ApiError> {
    let controls = controls.cloned().unwrap_or(json!([]));
    if !controls.is_array() {
        return Err(ApiError::invalid(
            "invalid_request",
            "spending_controls must be an array",
        ));
    }
    Ok(controls)
}

/// `card_limit`: a number, at least 0 (0.01 on the BINs that require one); 0 when absent.
pub(super) fn validate_limit(
    product: &UqpayProduct,
    limit: Option<&Value>,
) -> Result<Value, ApiError> {
    let requires = BINS_REQUIRING_CARD_LIMIT.contains(&product.card_bin.as_str());
    let value = match limit {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some((n.as_f64().unwrap_or(0.0), Value::Number(n.clone()))),
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_card_limit",
                "card_limit must be a number",
            ));
        }
    };
    match value {
        None if requires => Err(ApiError::invalid(
            "invalid_card_limit",
            format!(
                "card_limit is required and must be at least 0.01 for BIN {}",
                product.card_bin
            ),
        )),
        None => Ok(json!(0)),
        Some((v, _)) if requires && v < 0.01 => Err(ApiError::invalid(
            "invalid_card_limit",
            format!(
                "card_limit must be at least 0.01 for BIN {}",
                product.card_bin
            ),
        )),
        Some((v, _)) if v < 0.0 => Err(ApiError::invalid(
            "invalid_card_limit",
            "card_limit must be greater than or equal to 0",
        )),
        Some((_, raw)) => Ok(raw),
    }
}

fn validate_usage(body: &Value) -> Result<(String, Option<String>), ApiError> {
    let usage = str_field(body, "usage_type")?.unwrap_or("NORMAL");
    if !["NORMAL", "ONE_TIME"].contains(&usage) {
        return Err(ApiError::invalid(
            "invalid_usage_type",
            format!("usage_type must be NORMAL or ONE_TIME, got {usage}"),
        ));
    }
    let trigger = str_field(body, "auto_cancel_trigger")?;
    match (usage, trigger) {
        ("ONE_TIME", None) => Err(ApiError::invalid(
            "missing_auto_cancel_trigger",
            "auto_cancel_trigger is required when usage_type is ONE_TIME",
        )),
        (_, Some(t)) if !["ON_AUTH", "ON_CAPTURE"].contains(&t) => Err(ApiError::invalid(
            "invalid_auto_cancel_trigger",
            format!("auto_cancel_trigger must be ON_AUTH or ON_CAPTURE, got {t}"),
        )),
        (u, t) => Ok((u.to_string(), t.map(str::to_string))),
    }
}

/// `metadata`: an object of at most [`METADATA_MAX_BYTES`]; `{}` when absent.
pub(super) fn validate_metadata(metadata: Option<&Value>) -> Result<Value, ApiError> {
    match metadata {
        None | Some(Value::Null) => Ok(json!({})),
        Some(m @ Value::Object(_)) => {
            let size = m.to_string().len();
            if size > METADATA_MAX_BYTES {
                Err(ApiError::invalid(
                    "metadata_too_large",
                    format!("metadata is {size} bytes; at most {METADATA_MAX_BYTES} are allowed"),
                ))
            } else {
                Ok(m.clone())
            }
        }
        Some(_) => Err(ApiError::invalid(
            "invalid_metadata",
            "metadata must be a JSON object of key-value pairs",
        )),
    }
}
