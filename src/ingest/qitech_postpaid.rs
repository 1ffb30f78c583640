//! QI Tech postpaid cards, created as payment instruments
//! (`POST /wallet/{wallet_key}/payment_instrument`, spec `qitech-postpaid.md` §6).
//!
//! The owner is either an existing person (`person_key`) or described inline by the `owner_*`
//! columns (and, for a company, one legal representative in `rep_*`); the two exclude each
//! other. `request_control_key` is the order's idempotency key, added by the client. Card rules
//! follow the conditional table of spec §6.8 (not its self-contradicting example).

use super::fields;
use super::qitech_postpaid_owner::{address, owner};
use super::reader::Validated;
use super::row::Row;
use super::schema::{Schema, columns};
use crate::domain::money::parse_amount_minor;
use crate::domain::{Payload, ProviderKind};
use serde::Serialize;
use std::borrow::Cow;

columns! {
    ORDER_REF = "order_ref",
    WALLET_KEY = "wallet_key",
    PERSON_KEY = "person_key",
    OWNER_PERSON_TYPE = "owner_person_type",
    OWNER_NAME = "owner_name",
    OWNER_TRADING_NAME = "owner_trading_name",
    OWNER_DOCUMENT_NUMBER = "owner_document_number",
    OWNER_BIRTHDATE = "owner_birthdate",
    OWNER_FOUNDATION_DATE = "owner_foundation_date",
    OWNER_EMAIL = "owner_email",
    OWNER_PHONE_COUNTRY_CODE = "owner_phone_country_code",
    OWNER_PHONE_AREA_CODE = "owner_phone_area_code",
    OWNER_PHONE_NUMBER = "owner_phone_number",
    OWNER_STREET = "owner_street",
    OWNER_NUMBER = "owner_number",
    OWNER_NEIGHBORHOOD = "owner_neighborhood",
    OWNER_POSTAL_CODE = "owner_postal_code",
    OWNER_CITY = "owner_city",
    OWNER_STATE = "owner_state",
    OWNER_COMPLEMENT = "owner_complement",
    REP_NAME = "rep_name",
    REP_DOCUMENT_NUMBER = "rep_document_number",
    REP_BIRTHDATE = "rep_birthdate",
    REP_EMAIL = "rep_email",
    REP_PHONE_COUNTRY_CODE = "rep_phone_country_code",
    REP_PHONE_AREA_CODE = "rep_phone_area_code",
    REP_PHONE_NUMBER = "rep_phone_number",
    REP_STREET = "rep_street",
    REP_NUMBER = "rep_number",
    REP_NEIGHBORHOOD = "rep_neighborhood",
    REP_POSTAL_CODE = "rep_postal_code",
    REP_CITY = "rep_city",
    REP_STATE = "rep_state",
    REP_COMPLEMENT = "rep_complement",
    LIMIT_AMOUNT = "limit_amount",
    CARD_TYPE = "card_type",
    CARD_NAME = "card_name",
    PRINTED_NAME = "printed_name",
    CVV_ROTATION_INTERVAL_HOURS = "cvv_rotation_interval_hours",
    CONTACTLESS_ENABLED = "contactless_enabled",
    DELIVERY_STREET = "delivery_street",
    DELIVERY_NUMBER = "delivery_number",
    DELIVERY_NEIGHBORHOOD = "delivery_neighborhood",
    DELIVERY_POSTAL_CODE = "delivery_postal_code",
    DELIVERY_CITY = "delivery_city",
    DELIVERY_STATE = "delivery_state",
    DELIVERY_COMPLEMENT = "delivery_complement",
}

/// The columns of an address group (§6.7), in the order street, number, neighborhood,
/// postal_code, city, state, complement.
pub(crate) type AddressCols = [usize; 7];

pub(crate) const DELIVERY: AddressCols = [
    DELIVERY_STREET,
    DELIVERY_NUMBER,
    DELIVERY_NEIGHBORHOOD,
    DELIVERY_POSTAL_CODE,
    DELIVERY_CITY,
    DELIVERY_STATE,
    DELIVERY_COMPLEMENT,
];

pub(crate) static SCHEMA: Schema = Schema {
    provider: ProviderKind::QitechPostpaid,
    columns: COLUMNS,
    required: &[ORDER_REF, WALLET_KEY, CARD_TYPE, CARD_NAME, PRINTED_NAME],
    refused: &[(
        "request_control_key",
        "cardbatch generates request_control_key: it is the order's idempotency key",
    )],
};

/// A QI Tech postpaid card order: the payment-instrument body plus `wallet_key`, which the
/// client moves into the path. `limit_amount` is in centavos here; the wire wants BRL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QitechPostpaidOrder<'a> {
    /// Path parameter of the create call, not part of the body.
    pub wallet_key: Cow<'a, str>,
    /// An existing person as owner; excludes `owner`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_key: Option<Cow<'a, str>>,
    /// The owner described inline; excludes `person_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<PostpaidOwner<'a>>,
    /// Always `postpaid_card`.
    pub payment_instrument_type: &'static str,
    /// Absent: the card may use the wallet's whole limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_amount_minor: Option<i64>,
    /// The card itself.
    pub postpaid_card_data: PostpaidCardData<'a>,
}

/// A natural or legal person: the inline `owner`, or a company's legal representative.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostpaidOwner<'a> {
    /// `natural` or `legal`.
    pub person_type: &'static str,
    /// Full name, or the company's legal name.
    pub name: &'a str,
    /// Legal persons only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trading_name: Option<&'a str>,
    /// CPF (natural) or CNPJ (legal), digits only.
    pub document_number: String,
    /// Natural persons only, `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<&'a str>,
    /// Legal persons only, `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foundation_date: Option<&'a str>,
    /// Contact e-mail.
    pub email: &'a str,
    /// Contact phone.
    pub phone: PostpaidPhone<'a>,
    /// Required for the owner; optional for a legal representative.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<PostpaidAddress<'a>>,
    /// Legal persons only: exactly one here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub legal_representatives: Vec<PostpaidOwner<'a>>,
}

/// A phone split as QI wants it (§6.6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostpaidPhone<'a> {
    /// 8–9 digits.
    pub number: Cow<'a, str>,
    /// DDD, 2 digits.
    pub area_code: Cow<'a, str>,
    /// DDI, 2–3 digits.
    pub country_code: Cow<'a, str>,
}

/// An address (§6.7), for the owner, a representative or card delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostpaidAddress<'a> {
    /// Street or avenue.
    pub street: &'a str,
    /// House number, up to 10 characters.
    pub number: &'a str,
    /// Neighborhood (bairro).
    pub neighborhood: &'a str,
    /// CEP, 8 digits.
    pub postal_code: String,
    /// City.
    pub city: &'a str,
    /// UF, or `EX` for abroad.
    pub state: &'static str,
    /// Apartment, suite, etc.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complement: Option<&'a str>,
}

/// `postpaid_card_data` (§6.8).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostpaidCardData<'a> {
    /// `virtual` or `plastic`.
    pub card_type: &'static str,
    /// The card's alias, 1–50 characters.
    pub card_name: &'a str,
    /// Name embossed on the card, 2–26 letters and spaces.
    pub printed_name: &'a str,
    /// Virtual cards only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvv_rotation_interval_hours: Option<u32>,
    /// Plastic cards only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contactless_enabled: Option<bool>,
    /// Plastic cards only; when absent QI uses the owner's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_address: Option<PostpaidAddress<'a>>,
}

pub(crate) fn validate(row: &mut Row<'_>, _order_ref: &str) -> Option<Validated> {
    let wallet_key = row.req(WALLET_KEY, fields::uuid);
    let (person_key, owner) = owner_or_person_key(row);
    let limit = row.opt(LIMIT_AMOUNT, |s| {
        parse_amount_minor(s).and_then(|m| match m {
            0 => Err(
                "must be at least 0.01 (leave it empty to use the wallet's whole limit)"
                    .to_string(),
            ),
            m => Ok(m),
        })
    });
    let card = card_data(row);
    if row.has_problems() {
        return None;
    }
    let order = QitechPostpaidOrder {
        wallet_key: wallet_key?,
        person_key: person_key?,
        owner: owner?,
        payment_instrument_type: "postpaid_card",
        limit_amount_minor: limit,
        postpaid_card_data: card?,
    };
    Some(Validated {
        payload: Payload::new(&order),
        amount_minor: limit,
        currency: limit.map(|_| "BRL"),
    })
}

/// `person_key` XOR the owner group. The owner group counts as given when the row itself fills
/// any `owner_*` or `rep_*` cell; profile defaults then fill the rest of it. Returns
/// `(Some(person_key), Some(owner))` with exactly one inner value set, or `None`s on problems.
#[allow(clippy::type_complexity)]
fn owner_or_person_key<'a>(
    row: &mut Row<'a>,
) -> (
    Option<Option<Cow<'a, str>>>,
    Option<Option<PostpaidOwner<'a>>>,
) {
    let owner_given = row.fills_any(OWNER_PERSON_TYPE..=REP_COMPLEMENT);
    if owner_given {
        if row.cell(PERSON_KEY).is_some() {
            row.fail(
                PERSON_KEY,
                "person_key and the owner_* columns exclude each other; fill one or the other",
            );
            return (None, None);
        }
        return (Some(None), owner(row).map(Some));
    }
    match row.get(PERSON_KEY) {
        Some(_) => (row.req(PERSON_KEY, fields::uuid).map(Some), Some(None)),
        None => {
            row.fail(
                PERSON_KEY,
                "is required when the owner_* columns are empty: give an existing person_key or describe the owner",
            );
            (None, None)
        }
    }
}

/// `card_type` and the fields its rules (§6.8) allow or require.
fn card_data<'a>(row: &mut Row<'a>) -> Option<PostpaidCardData<'a>> {
    let card_type = row.req(CARD_TYPE, |s| {
        if s.eq_ignore_ascii_case("physical") {
            return Err("`physical` is not a card_type: QI accepts virtual or plastic; write plastic for a physical card".to_string());
        }
        fields::one_of(s, &["virtual", "plastic"])
    });
    let card_name = row.req(CARD_NAME, |s| fields::text(s, 50));
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
                delivery = Some(address(row, DELIVERY)?);
            }
        }
        None => {}
    }
    Some(PostpaidCardData {
        card_type: card_type?,
        card_name: card_name?,
        printed_name: printed_name?,
        cvv_rotation_interval_hours: cvv,
        contactless_enabled: contactless,
        delivery_address: delivery,
    })
}

#[cfg(test)]
#[path = "qitech_postpaid_tests.rs"]
mod tests;
