//! `POST /prepaid/card`: the request schema (spec §6.1, §6.2) and the fixture checks that
//! produce CARD000005/6/7/8/10/32.

use serde_json::Value;

use super::error::QiError;
use super::fields::{Obj, STATES};
use crate::fixtures::{QitechAccount, QitechFixtures};

/// `virtual` or `plastic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardType {
    /// Online use only.
    Virtual,
    /// Physical, mailed.
    Plastic,
}

impl CardType {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            CardType::Virtual => "virtual",
            CardType::Plastic => "plastic",
        }
    }
}

/// A schema-valid prepaid card request.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepaidCardRequest {
    /// Payment account.
    pub account_key: String,
    /// Issuing program.
    pub program_key: String,
    /// Card type.
    pub card_type: CardType,
    /// The client's alias for the card (its only reference echoed back).
    pub card_name: String,
    /// Name shown on the card.
    pub printed_name: String,
    /// Virtual cards only.
    pub cvv_rotation_interval_hours: Option<u64>,
    /// Plastic cards only.
    pub contactless_enabled: Option<bool>,
    /// Plastic cards only, optional.
    pub delivery_address: Option<Value>,
}

const COMMON: [&str; 5] = [
    "account_key",
    "program_key",
    "type",
    "card_name",
    "printed_name",
];

/// Validates the body of `POST /prepaid/card`. Lengths: `card_name` 1–15 and `printed_name`
/// 2–26 (the physical-card page's limits); a virtual card needs `cvv_rotation_interval_hours`,
/// a plastic one `contactless_enabled`; any other field is a schema error.
pub fn parse_prepaid_request(body: &Value) -> Result<PrepaidCardRequest, QiError> {
    let obj = Obj::root(body)?;
    let card_type = match obj.choice("type", &["virtual", "plastic"])? {
        "virtual" => CardType::Virtual,
        _ => CardType::Plastic,
    };
    let mut allowed = COMMON.to_vec();
    match card_type {
        CardType::Virtual => allowed.push("cvv_rotation_interval_hours"),
        CardType::Plastic => allowed.extend(["contactless_enabled", "delivery_address"]),
    }
    obj.only(&allowed)?;
    let (cvv, contactless, address) = match card_type {
        CardType::Virtual => (
            Some(obj.positive_int("cvv_rotation_interval_hours")?),
            None,
            None,
        ),
        CardType::Plastic => {
            let address = if obj.has("delivery_address") {
                check_delivery_address(&obj.object("delivery_address")?)?;
                obj.map.get("delivery_address").cloned()
            } else {
                None
            };
            (None, Some(obj.boolean("contactless_enabled")?), address)
        }
    };
    Ok(PrepaidCardRequest {
        account_key: obj.uuid("account_key")?.to_string(),
        program_key: obj.uuid("program_key")?.to_string(),
        card_type,
        card_name: obj.string("card_name", 1, 15)?.to_string(),
        printed_name: obj.printed_name("printed_name", 2, 26)?.to_string(),
        cvv_rotation_interval_hours: cvv,
        contactless_enabled: contactless,
        delivery_address: address,
    })
}

fn check_delivery_address(a: &Obj<'_>) -> Result<(), QiError> {
    a.only(&[
        "address",
        "neighborhood",
        "zip_code",
        "city",
        "state",
        "number",
        "complement",
        "reference",
        "address_type",
    ])?;
    a.string("address", 1, 100)?;
    a.string("neighborhood", 1, 100)?;
    a.digits("zip_code", 8, 8)?;
    a.string("city", 1, 100)?;
    a.choice("state", &STATES)?;
    a.opt_string("complement", 100)?;
    a.opt_string("reference", 100)?;
    a.string("address_type", 1, 50)?;
    if let Some(n) = a.map.get("number")
        && !(n.is_null() || n.is_number() || n.is_string())
    {
        return Err(QiError::schema("delivery_address.number: must be a number"));
    }
    Ok(())
}

/// Checks the request against the fixtures, in the order a card service would look things up:
/// program, account, owner person, person type, holder status, virtual allowed. Returns the
/// account on success.
pub fn check_prepaid_fixtures<'f>(
    req: &PrepaidCardRequest,
    fixtures: &'f QitechFixtures,
) -> Result<&'f QitechAccount, QiError> {
    let program = fixtures
        .programs
        .iter()
        .find(|p| p.program_key == req.program_key)
        .ok_or_else(|| QiError::program_not_found(&req.program_key))?;
    let account = fixtures
        .accounts
        .iter()
        .find(|a| a.account_key == req.account_key)
        .ok_or_else(|| QiError::account_not_found(&req.account_key))?;
    if account.owner_person_missing {
        return Err(QiError::person_not_found(&account.owner_person_key));
    }
    if !program.person_types.contains(&account.owner_person_type) {
        return Err(QiError::invalid_person_type());
    }
    if account.holder_status != "active" {
        return Err(QiError::invalid_holder_status(&account.holder_status));
    }
    if req.card_type == CardType::Virtual && !program.virtual_allowed {
        return Err(QiError::virtual_not_allowed(&req.program_key));
    }
    Ok(account)
}

#[cfg(test)]
#[path = "prepaid_request_tests.rs"]
mod tests;
