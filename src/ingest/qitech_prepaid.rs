//! QI Tech prepaid cards (`POST /prepaid/card`, spec `qitech-prepaid.md` §6).
//!
//! The CSV has no `card_name` column: the endpoint has no idempotency key, so cardbatch makes a
//! unique 15-character `card_name` per order (the order's idempotency key) and, when an answer is
//! lost, finds the card by listing the account's cards and matching that name. A user-chosen
//! name could repeat and would defeat that lookup.

use super::fields;
use super::reader::Validated;
use super::row::Row;
use super::schema::{Schema, columns};
use crate::domain::{Cep, Payload, ProviderKind, Uf, masking};
use serde::Serialize;
use std::borrow::Cow;

columns! {
    ORDER_REF = "order_ref",
    ACCOUNT_KEY = "account_key",
    PROGRAM_KEY = "program_key",
    TYPE = "type",
    PRINTED_NAME = "printed_name",
    CVV_ROTATION_INTERVAL_HOURS = "cvv_rotation_interval_hours",
    CONTACTLESS_ENABLED = "contactless_enabled",
    DELIVERY_ADDRESS = "delivery_address",
    DELIVERY_NUMBER = "delivery_number",
    DELIVERY_COMPLEMENT = "delivery_complement",
    DELIVERY_REFERENCE = "delivery_reference",
    DELIVERY_NEIGHBORHOOD = "delivery_neighborhood",
    DELIVERY_ZIP_CODE = "delivery_zip_code",
    DELIVERY_CITY = "delivery_city",
    DELIVERY_STATE = "delivery_state",
    DELIVERY_ADDRESS_TYPE = "delivery_address_type",
}

const DELIVERY: [usize; 9] = [
    DELIVERY_ADDRESS,
    DELIVERY_NUMBER,
    DELIVERY_COMPLEMENT,
    DELIVERY_REFERENCE,
    DELIVERY_NEIGHBORHOOD,
    DELIVERY_ZIP_CODE,
    DELIVERY_CITY,
    DELIVERY_STATE,
    DELIVERY_ADDRESS_TYPE,
];

/// The address types QI documents or uses in examples; the full enum is not published.
const ADDRESS_TYPES: &[&str] = &["residential", "commercial"];

pub(crate) static SCHEMA: Schema = Schema {
    provider: ProviderKind::QitechPrepaid,
    columns: COLUMNS,
    required: &[ORDER_REF, ACCOUNT_KEY, PROGRAM_KEY, TYPE, PRINTED_NAME],
    refused: &[(
        "card_name",
        "cardbatch generates a unique card_name per order: it is the order's idempotency key for QI prepaid",
    )],
};

/// A QI Tech prepaid card order, as the `POST /prepaid/card` body minus `card_name` (which the
/// client sets from the order's idempotency key).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QitechPrepaidOrder<'a> {
    /// The QI payment account (UUID).
    pub account_key: Cow<'a, str>,
    /// The card program (UUID).
    pub program_key: Cow<'a, str>,
    /// `virtual` or `plastic`.
    #[serde(rename = "type")]
    pub card_type: &'static str,
    /// Name shown on the card, 2–26 letters and spaces.
    pub printed_name: &'a str,
    /// Virtual cards only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvv_rotation_interval_hours: Option<u32>,
    /// Plastic cards only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contactless_enabled: Option<bool>,
    /// Plastic cards only; when absent QI uses the account's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_address: Option<PrepaidDeliveryAddress<'a>>,
}

/// Where a plastic prepaid card is delivered (`delivery_address`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrepaidDeliveryAddress<'a> {
    /// Street and place.
    pub address: &'a str,
    /// A number in QI's schema; absent for addresses without a number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    /// Apartment, suite, etc.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complement: Option<&'a str>,
    /// A landmark for the courier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<&'a str>,
    /// Neighborhood (bairro).
    pub neighborhood: &'a str,
    /// CEP, 8 digits.
    pub zip_code: String,
    /// City.
    pub city: &'a str,
    /// UF.
    pub state: &'static str,
    /// `residential` or `commercial`.
    pub address_type: &'static str,
}

pub(crate) fn validate(row: &mut Row<'_>, _order_ref: &str) -> Option<Validated> {
    let account_key = row.req(ACCOUNT_KEY, fields::uuid);
    let program_key = row.req(PROGRAM_KEY, fields::uuid);
    let card_type = row.req(TYPE, |s| fields::one_of(s, &["virtual", "plastic"]));
    let printed_name = row.req(PRINTED_NAME, fields::printed_name);
    let (mut cvv, mut contactless, mut delivery) = (None, None, None);
    match card_type {
        Some("virtual") => {
            cvv = row.req(CVV_ROTATION_INTERVAL_HOURS, fields::positive_int);
            row.forbid(CONTACTLESS_ENABLED, "for virtual cards");
            for col in DELIVERY {
                row.forbid(col, "for virtual cards");
            }
        }
        Some(_) => {
            row.forbid(CVV_ROTATION_INTERVAL_HOURS, "for plastic cards");
            contactless = row.req(CONTACTLESS_ENABLED, fields::boolean);
            if row.fills_any(DELIVERY) {
                delivery = delivery_address(row);
            }
        }
        None => {}
    }
    if row.has_problems() {
        return None;
    }
    let order = QitechPrepaidOrder {
        account_key: account_key?,
        program_key: program_key?,
        card_type: card_type?,
        printed_name: printed_name?,
        cvv_rotation_interval_hours: cvv,
        contactless_enabled: contactless,
        delivery_address: delivery,
    };
    Some(Validated {
        payload: Payload::new(&order),
        amount_minor: None,
        currency: None,
    })
}

/// The delivery group: once the row fills any delivery cell, the required ones must all be there.
fn delivery_address<'a>(row: &mut Row<'a>) -> Option<PrepaidDeliveryAddress<'a>> {
    let address = row.req(DELIVERY_ADDRESS, |s| fields::text(s, 100));
    let number = row.opt(DELIVERY_NUMBER, |s| {
        fields::digits(s, 1, 10, false)
            .map(|d| d.parse::<u64>().unwrap_or(0))
            .map_err(|_| {
                format!(
                    "{} must be a number (leave it empty for an address without one)",
                    masking::shown_masked(s)
                )
            })
    });
    let complement = row.opt(DELIVERY_COMPLEMENT, |s| fields::text(s, 100));
    let reference = row.opt(DELIVERY_REFERENCE, |s| fields::text(s, 100));
    let neighborhood = row.req(DELIVERY_NEIGHBORHOOD, |s| fields::text(s, 100));
    let zip_code = row.req(DELIVERY_ZIP_CODE, Cep::parse);
    let city = row.req(DELIVERY_CITY, |s| fields::text(s, 100));
    let state = row.req(DELIVERY_STATE, Uf::parse);
    let address_type = row.req(DELIVERY_ADDRESS_TYPE, |s| fields::one_of(s, ADDRESS_TYPES));
    Some(PrepaidDeliveryAddress {
        address: address?,
        number,
        complement,
        reference,
        neighborhood: neighborhood?,
        zip_code: zip_code?.into_string(),
        city: city?,
        state: state?.as_str(),
        address_type: address_type?,
    })
}

#[cfg(test)]
#[path = "qitech_prepaid_tests.rs"]
mod tests;
