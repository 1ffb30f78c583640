//! UQPAY cards (`POST /v1/issuing/cards`, spec `uqpay.md` §6).
//!
//! `x-idempotency-key` is the order's idempotency key, sent by the client as a header. cardbatch
//! adds `cardbatch_order_ref` to `metadata` so that a card whose create answer was lost can be
//! found by listing the cardholder's cards.

use super::fields;
use super::reader::Validated;
use super::row::Row;
use super::schema::{Schema, columns};
use crate::domain::money::parse_amount_minor;
use crate::domain::text::is_digits;
use crate::domain::{Payload, ProviderKind, masking};
use serde::Serialize;
use std::borrow::Cow;

columns! {
    ORDER_REF = "order_ref",
    CARDHOLDER_ID = "cardholder_id",
    CARD_PRODUCT_ID = "card_product_id",
    CARD_CURRENCY = "card_currency",
    CARD_BIN = "card_bin",
    CARD_LIMIT = "card_limit",
    USAGE_TYPE = "usage_type",
    AUTO_CANCEL_TRIGGER = "auto_cancel_trigger",
    SPENDING_LIMIT_AMOUNT = "spending_limit_amount",
    SPENDING_LIMIT_INTERVAL = "spending_limit_interval",
    ALLOWED_MCC = "allowed_mcc",
    BLOCKED_MCC = "blocked_mcc",
    ALLOW_3DS_TRANSACTIONS = "allow_3ds_transactions",
    EXPIRY_AT = "expiry_at",
    NAME_ON_CARD = "name_on_card",
    METADATA = "metadata",
}

/// BINs whose cards need a `card_limit` of at least 0.01 (spec §6.1).
const LIMIT_BINS: [&str; 3] = ["527735", "555071", "555243"];
/// UQPAY's limit on the metadata object, serialised.
const METADATA_MAX_BYTES: usize = 3200;
/// The metadata key cardbatch adds.
const ORDER_REF_KEY: &str = "cardbatch_order_ref";
const INTERVALS: &[&str] = &[
    "PER_TRANSACTION",
    "DAILY",
    "WEEKLY",
    "MONTHLY",
    "YEARLY",
    "ALL_TIME",
];

pub(crate) static SCHEMA: Schema = Schema {
    provider: ProviderKind::Uqpay,
    columns: COLUMNS,
    required: &[ORDER_REF, CARDHOLDER_ID, CARD_PRODUCT_ID, CARD_CURRENCY],
    refused: &[],
};

/// A UQPAY create-card order: the request body with money in minor units of `card_currency`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UqpayOrder<'a> {
    /// The cardholder (UUID), in `SUCCESS` status.
    pub cardholder_id: Cow<'a, str>,
    /// The card product (UUID).
    pub card_product_id: Cow<'a, str>,
    /// `USD` or `SGD`.
    pub card_currency: &'static str,
    /// Card limit in minor units of `card_currency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_limit_minor: Option<i64>,
    /// `NORMAL` or `ONE_TIME`.
    pub usage_type: &'static str,
    /// `ON_AUTH` or `ON_CAPTURE`, only with `ONE_TIME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_cancel_trigger: Option<&'static str>,
    /// At most one control from the CSV.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spending_controls: Vec<UqpaySpendingControl>,
    /// 3-D Secure and MCC rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_controls: Option<UqpayRiskControls<'a>>,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_at: Option<&'a str>,
    /// A–Z letters and spaces, up to 26.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_on_card: Option<&'a str>,
    /// The user's metadata plus `cardbatch_order_ref`.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// One spending control: at most `amount_minor` per `interval`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UqpaySpendingControl {
    /// Limit in minor units of the card currency.
    pub amount_minor: i64,
    /// `PER_TRANSACTION`, `DAILY`, `WEEKLY`, `MONTHLY`, `YEARLY` or `ALL_TIME`.
    pub interval: &'static str,
}

/// `risk_controls`; `allowed_mcc` and `blocked_mcc` exclude each other.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UqpayRiskControls<'a> {
    /// `Y` or `N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_3ds_transactions: Option<&'static str>,
    /// Only these 4-digit merchant category codes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_mcc: Vec<&'a str>,
    /// Every merchant category code but these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked_mcc: Vec<&'a str>,
}

pub(crate) fn validate(row: &mut Row<'_>, order_ref: &str) -> Option<Validated> {
    let cardholder_id = row.req(CARDHOLDER_ID, fields::uuid);
    let card_product_id = row.req(CARD_PRODUCT_ID, fields::uuid);
    let card_currency = row.req(CARD_CURRENCY, |s| fields::one_of(s, &["USD", "SGD"]));
    let card_bin = row.opt(CARD_BIN, |s| {
        if is_digits(s) && (6..=8).contains(&s.len()) {
            Ok(s)
        } else {
            // Masked: a card number pasted here by mistake must not be echoed.
            Err(format!(
                "{} is not a card BIN (6 to 8 digits)",
                masking::shown_masked(s)
            ))
        }
    });
    let card_limit = row.opt(CARD_LIMIT, parse_amount_minor);
    if let Some(bin) = card_bin.filter(|b| LIMIT_BINS.iter().any(|l| b.starts_with(l))) {
        match card_limit {
            Some(0) => row.fail(
                CARD_LIMIT,
                format!("must be at least 0.01 for cards of BIN {bin}"),
            ),
            None if row.get(CARD_LIMIT).is_none() => row.fail(
                CARD_LIMIT,
                format!("is required for cards of BIN {bin} (at least 0.01)"),
            ),
            _ => {}
        }
    }
    let usage_type = match row.get(USAGE_TYPE) {
        Some(_) => row.opt(USAGE_TYPE, |s| fields::one_of(s, &["NORMAL", "ONE_TIME"])),
        None => Some("NORMAL"),
    };
    let mut auto_cancel_trigger = None;
    match usage_type {
        Some("ONE_TIME") => {
            auto_cancel_trigger = row.req(AUTO_CANCEL_TRIGGER, |s| {
                fields::one_of(s, &["ON_AUTH", "ON_CAPTURE"])
            });
        }
        Some(_) => row.forbid(AUTO_CANCEL_TRIGGER, "unless usage_type is ONE_TIME"),
        None => {}
    }
    let spending_controls = spending_controls(row);
    let risk_controls = risk_controls(row);
    let now = row.clock.now;
    let expiry_at = row.opt(EXPIRY_AT, |s| fields::future_datetime(s, now));
    let name_on_card = row.opt(NAME_ON_CARD, |s| fields::ascii_name(s, 26, true));
    let metadata = row
        .opt(METADATA, user_metadata)
        .or_else(|| row.get(METADATA).is_none().then(serde_json::Map::new));
    let metadata = metadata.and_then(|mut m| {
        let user_given = !m.is_empty();
        m.insert(ORDER_REF_KEY.to_string(), order_ref.into());
        // Without user metadata the object is `{"cardbatch_order_ref":"<at most 64 chars>"}`,
        // far below the limit, so only user metadata is measured.
        let size = if user_given {
            serde_json::to_vec(&m).map_or(usize::MAX, |v| v.len())
        } else {
            0
        };
        if size > METADATA_MAX_BYTES {
            row.fail(
                METADATA,
                format!("is {size} bytes with cardbatch_order_ref added; UQPAY allows at most {METADATA_MAX_BYTES}"),
            );
            return None;
        }
        Some(m)
    });
    if row.has_problems() {
        return None;
    }
    let order = UqpayOrder {
        cardholder_id: cardholder_id?,
        card_product_id: card_product_id?,
        card_currency: card_currency?,
        card_limit_minor: card_limit,
        usage_type: usage_type?,
        auto_cancel_trigger,
        spending_controls: spending_controls?,
        risk_controls: risk_controls?,
        expiry_at,
        name_on_card,
        metadata: metadata?,
    };
    Some(Validated {
        payload: Payload::new(&order),
        amount_minor: order.card_limit_minor,
        currency: order.card_limit_minor.map(|_| order.card_currency),
    })
}

/// `spending_limit_amount` and `spending_limit_interval`: both or neither.
fn spending_controls(row: &mut Row<'_>) -> Option<Vec<UqpaySpendingControl>> {
    let amount = row.opt(SPENDING_LIMIT_AMOUNT, |s| {
        parse_amount_minor(s).and_then(|m| {
            if m >= 1 {
                Ok(m)
            } else {
                Err("must be at least 0.01".to_string())
            }
        })
    });
    let interval = row.opt(SPENDING_LIMIT_INTERVAL, |s| fields::one_of(s, INTERVALS));
    let (has_amount, has_interval) = (
        row.get(SPENDING_LIMIT_AMOUNT).is_some(),
        row.get(SPENDING_LIMIT_INTERVAL).is_some(),
    );
    if has_amount && !has_interval {
        row.fail(
            SPENDING_LIMIT_INTERVAL,
            "is required when spending_limit_amount is given",
        );
    }
    if has_interval && !has_amount {
        row.fail(
            SPENDING_LIMIT_AMOUNT,
            "is required when spending_limit_interval is given",
        );
    }
    match (amount, interval) {
        (Some(amount_minor), Some(interval)) => Some(vec![UqpaySpendingControl {
            amount_minor,
            interval,
        }]),
        _ if has_amount || has_interval => None,
        _ => Some(Vec::new()),
    }
}

/// `allow_3ds_transactions`, `allowed_mcc`, `blocked_mcc`; `None` only when one is invalid.
fn risk_controls<'a>(row: &mut Row<'a>) -> Option<Option<UqpayRiskControls<'a>>> {
    let allow_3ds = row.opt(ALLOW_3DS_TRANSACTIONS, |s| fields::one_of(s, &["Y", "N"]));
    let allowed = row.opt(ALLOWED_MCC, fields::mcc_list);
    let blocked = row.opt(BLOCKED_MCC, fields::mcc_list);
    let bad = (row.get(ALLOW_3DS_TRANSACTIONS).is_some() && allow_3ds.is_none())
        || (row.get(ALLOWED_MCC).is_some() && allowed.is_none())
        || (row.get(BLOCKED_MCC).is_some() && blocked.is_none());
    if row.get(ALLOWED_MCC).is_some() && row.get(BLOCKED_MCC).is_some() {
        row.fail(
            BLOCKED_MCC,
            "cannot be combined with allowed_mcc; give one or the other",
        );
        return None;
    }
    if bad {
        return None;
    }
    if allow_3ds.is_none() && allowed.is_none() && blocked.is_none() {
        return Some(None);
    }
    Some(Some(UqpayRiskControls {
        allow_3ds_transactions: allow_3ds,
        allowed_mcc: allowed.unwrap_or_default(),
        blocked_mcc: blocked.unwrap_or_default(),
    }))
}

/// The user's `metadata` cell: a JSON object without cardbatch's reserved key.
fn user_metadata(s: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(serde_json::Value::Object(m)) if m.contains_key(ORDER_REF_KEY) => Err(format!(
            "must not contain the key {ORDER_REF_KEY}: cardbatch sets it to the order_ref"
        )),
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err("must be a JSON object, e.g. {\"cost_center\":\"1234\"}".to_string()),
        Err(e) => Err(format!("is not valid JSON: {e}")),
    }
}

#[cfg(test)]
#[path = "uqpay_tests.rs"]
mod tests;
