//! Alchemy Pay virtual cards (`POST /open/api/card/create`, spec `alchemypay-vcc.md` §4).
//!
//! `orderNo` is the order's idempotency key and `callbackUrl` comes from the server's public
//! URL; the client adds both, so neither is a column.

use super::fields;
use super::reader::Validated;
use super::row::Row;
use super::schema::{Schema, columns};
use crate::domain::money::{format_minor, parse_amount_minor};
use crate::domain::{Payload, ProviderKind};
use serde::Serialize;

columns! {
    ORDER_REF = "order_ref",
    FIRST_NAME = "first_name",
    LAST_NAME = "last_name",
    DEPOSIT = "deposit",
    CURRENCY = "currency",
    VID = "vid",
    CUSTOMER_ID = "customer_id",
}

/// A single load must be between 10.00 and 5000.00 (spec §4.1, in the card's currency).
const DEPOSIT_MIN: i64 = 1_000;
const DEPOSIT_MAX: i64 = 500_000;

pub(crate) static SCHEMA: Schema = Schema {
    provider: ProviderKind::AlchemypayVcc,
    columns: COLUMNS,
    required: &[ORDER_REF, FIRST_NAME, LAST_NAME, DEPOSIT, VID],
    refused: &[
        (
            "orderno",
            "cardbatch generates orderNo: it is the order's idempotency key",
        ),
        (
            "callbackurl",
            "the callback URL comes from the server's public_url",
        ),
    ],
};

/// An Alchemy Pay card order: the create body without `orderNo` and `callbackUrl`, with the
/// deposit in cents (the wire also wants cents, as a string).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlchemypayVccOrder<'a> {
    /// The cardholder's name.
    #[serde(rename = "cardHolder")]
    pub card_holder: AlchemyCardHolder<'a>,
    /// Initial load in minor units, 1000..=500000.
    pub deposit_cents: i64,
    /// `USD`, `EUR` or `CHF`.
    pub currency: &'static str,
    /// Card segment id.
    pub vid: &'a str,
    /// The merchant's own customer id.
    #[serde(rename = "customerId", skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<&'a str>,
}

/// `cardHolder`: A–Z letters only, 1–32 each.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlchemyCardHolder<'a> {
    /// A–Z letters, 1–32.
    #[serde(rename = "firstName")]
    pub first_name: &'a str,
    /// A–Z letters, 1–32.
    #[serde(rename = "lastName")]
    pub last_name: &'a str,
}

pub(crate) fn validate(row: &mut Row<'_>, _order_ref: &str) -> Option<Validated> {
    let first_name = row.req(FIRST_NAME, |s| fields::ascii_name(s, 32, false));
    let last_name = row.req(LAST_NAME, |s| fields::ascii_name(s, 32, false));
    let deposit = row.req(DEPOSIT, |s| {
        let minor = parse_amount_minor(s)?;
        if (DEPOSIT_MIN..=DEPOSIT_MAX).contains(&minor) {
            Ok(minor)
        } else {
            Err(format!(
                "{} is outside the single-load range {} to {}",
                format_minor(minor),
                format_minor(DEPOSIT_MIN),
                format_minor(DEPOSIT_MAX)
            ))
        }
    });
    // The provider's own default is USD; so is ours when neither the row nor the profile says.
    let currency = match row.get(CURRENCY) {
        Some(_) => row.opt(CURRENCY, |s| fields::one_of(s, &["USD", "EUR", "CHF"])),
        None => Some("USD"),
    };
    let vid = row.req(VID, |s| {
        if s.chars().any(char::is_whitespace) {
            return Err("must not contain spaces".to_string());
        }
        fields::text(s, 64)
    });
    let customer_id = row.opt(CUSTOMER_ID, |s| fields::text(s, 64));
    if row.has_problems() {
        return None;
    }
    let order = AlchemypayVccOrder {
        card_holder: AlchemyCardHolder {
            first_name: first_name?,
            last_name: last_name?,
        },
        deposit_cents: deposit?,
        currency: currency?,
        vid: vid?,
        customer_id,
    };
    Some(Validated {
        payload: Payload::new(&order),
        amount_minor: Some(order.deposit_cents),
        currency: Some(order.currency),
    })
}

#[cfg(test)]
#[path = "alchemypay_vcc_tests.rs"]
mod tests;
