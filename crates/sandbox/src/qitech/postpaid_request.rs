//! `POST /wallet/{wallet_key}/payment_instrument`: the request schema (spec §6.3–§6.8) and the
//! fixture checks that produce CIN000007/62/73/74.

use serde_json::Value;

use super::error::QiError;
use super::fields::{Obj, STATES};
use super::prepaid_request::CardType;
use crate::fixtures::{QitechFixtures, QitechWallet};

/// A schema-valid payment instrument request.
#[derive(Debug, Clone, PartialEq)]
pub struct PostpaidRequest {
    /// The client's idempotency key, if sent.
    pub request_control_key: Option<String>,
    /// A new owner (`natural` or `legal`), exclusive with `person_key`.
    pub owner_person_type: Option<String>,
    /// An existing person, exclusive with `owner`.
    pub person_key: Option<String>,
    /// The instrument's limit in centavos; `None` = the whole wallet limit.
    pub limit_amount_cents: Option<i64>,
    /// Card type (`physical` is read as `plastic` in lenient mode).
    pub card_type: CardType,
    /// The card's name (1–50).
    pub card_name: String,
    /// Name printed on the card (2–26).
    pub printed_name: String,
    /// Virtual cards only.
    pub cvv_rotation_interval_hours: Option<u64>,
}

/// Validates the body per the rules table. `lenient` accepts what the seed's own example
/// sends against its rules: `card_type: "physical"` as `plastic`, and a
/// `cvv_rotation_interval_hours` on a plastic card (ignored).
pub fn parse_postpaid_request(body: &Value, lenient: bool) -> Result<PostpaidRequest, QiError> {
    let obj = Obj::root(body)?;
    obj.only(&[
        "request_control_key",
        "owner",
        "person_key",
        "payment_instrument_type",
        "limit_amount",
        "postpaid_card_data",
    ])?;
    let request_control_key = if obj.has("request_control_key") {
        Some(obj.uuid("request_control_key")?.to_string())
    } else {
        None
    };
    let (owner_person_type, person_key) = match (obj.has("owner"), obj.has("person_key")) {
        (true, false) => (Some(check_owner(&obj.object("owner")?)?.to_string()), None),
        (false, true) => (None, Some(obj.uuid("person_key")?.to_string())),
        (true, true) => {
            return Err(QiError::schema(
                "owner and person_key are mutually exclusive",
            ));
        }
        (false, false) => return Err(QiError::schema("owner or person_key is required")),
    };
    obj.choice("payment_instrument_type", &["postpaid_card"])?;
    let limit_amount_cents = match obj.map.get("limit_amount") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(amount) if amount.is_finite() && amount > 0.0 => {
                Some((amount * 100.0).round() as i64)
            }
            _ => return Err(QiError::schema("limit_amount: must be a positive number")),
        },
    };
    let card = obj.object("postpaid_card_data")?;
    card.only(&[
        "card_type",
        "card_name",
        "printed_name",
        "cvv_rotation_interval_hours",
        "contactless_enabled",
        "delivery_address",
    ])?;
    let types: &[&str] = if lenient {
        &["virtual", "plastic", "physical"]
    } else {
        &["virtual", "plastic"]
    };
    let card_type = match card.choice("card_type", types)? {
        "virtual" => CardType::Virtual,
        _ => CardType::Plastic,
    };
    let cvv = match card_type {
        CardType::Virtual => {
            card.absent("contactless_enabled", "is not allowed for a virtual card")?;
            card.absent("delivery_address", "is not allowed for a virtual card")?;
            Some(card.positive_int("cvv_rotation_interval_hours")?)
        }
        CardType::Plastic => {
            if !lenient {
                card.absent(
                    "cvv_rotation_interval_hours",
                    "is not allowed for a plastic card",
                )?;
            }
            card.boolean("contactless_enabled")?;
            if card.has("delivery_address") {
                check_address(&card.object("delivery_address")?)?;
            }
            None
        }
    };
    Ok(PostpaidRequest {
        request_control_key,
        owner_person_type,
        person_key,
        limit_amount_cents,
        card_type,
        card_name: card.string("card_name", 1, 50)?.to_string(),
        printed_name: card.printed_name("printed_name", 2, 26)?.to_string(),
        cvv_rotation_interval_hours: cvv,
    })
}

/// Checks an `owner` object and returns its person type.
fn check_owner<'a>(owner: &Obj<'a>) -> Result<&'a str, QiError> {
    let person_type = owner.choice("person_type", &["natural", "legal"])?;
    if person_type == "natural" {
        owner.only(&[
            "person_type",
            "name",
            "document_number",
            "birthdate",
            "email",
            "phone",
            "address",
        ])?;
        check_natural(owner)?;
    } else {
        owner.only(&[
            "person_type",
            "name",
            "trading_name",
            "document_number",
            "foundation_date",
            "email",
            "phone",
            "address",
            "legal_representatives",
        ])?;
        owner.string("name", 1, 100)?;
        owner.string("trading_name", 1, 100)?;
        owner.digits("document_number", 14, 14)?;
        owner.date("foundation_date")?;
        owner.email("email")?;
        check_phone(&owner.object("phone")?)?;
        check_address(&owner.object("address")?)?;
        // The item schema is not documented; a natural person is the natural reading.
        let reps = owner
            .map
            .get("legal_representatives")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                QiError::schema("owner.legal_representatives: must be a non-empty array")
            })?;
        for (i, rep) in reps.iter().enumerate() {
            let map = rep.as_object().ok_or_else(|| {
                QiError::schema(&format!(
                    "owner.legal_representatives[{i}]: must be an object"
                ))
            })?;
            let rep = Obj {
                map,
                path: format!("owner.legal_representatives[{i}]"),
            };
            rep.only(&[
                "person_type",
                "name",
                "document_number",
                "birthdate",
                "email",
                "phone",
                "address",
            ])?;
            check_natural(&rep)?;
        }
    }
    Ok(person_type)
}

fn check_natural(p: &Obj<'_>) -> Result<(), QiError> {
    p.string("name", 1, 100)?;
    p.digits("document_number", 11, 11)?;
    p.date("birthdate")?;
    p.email("email")?;
    check_phone(&p.object("phone")?)?;
    check_address(&p.object("address")?)
}

fn check_phone(phone: &Obj<'_>) -> Result<(), QiError> {
    phone.only(&["country_code", "area_code", "number"])?;
    phone.digits("country_code", 2, 3)?;
    phone.digits("area_code", 2, 2)?;
    phone.digits("number", 8, 9)?;
    Ok(())
}

fn check_address(a: &Obj<'_>) -> Result<(), QiError> {
    a.only(&[
        "street",
        "number",
        "neighborhood",
        "postal_code",
        "city",
        "state",
        "complement",
    ])?;
    a.string("street", 1, 500)?;
    a.string("number", 1, 10)?;
    a.string("neighborhood", 1, 100)?;
    a.digits("postal_code", 8, 8)?;
    a.string("city", 1, 100)?;
    a.choice("state", &STATES)?;
    a.opt_string("complement", 500)?;
    Ok(())
}

/// Reads a fixture amount such as `"500000.00"` as centavos.
pub fn parse_cents(amount: &str) -> Option<i64> {
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, "0"));
    let frac = format!("{frac:0<2}");
    if frac.len() != 2 {
        return None;
    }
    Some(whole.parse::<i64>().ok()? * 100 + frac.parse::<i64>().ok()?)
}

/// Checks the request against the fixtures: the wallet exists (CIN000007), the `person_key`
/// exists (CIN000062), and `limit_amount` fits the wallet's postpaid credit limit (CIN000073)
/// and its CCB limit (CIN000074). Limits are not consumed by earlier instruments, so a bulk run
/// never exhausts a wallet.
pub fn check_postpaid_fixtures<'f>(
    wallet_key: &str,
    req: &PostpaidRequest,
    fixtures: &'f QitechFixtures,
) -> Result<&'f QitechWallet, QiError> {
    let wallet = find_wallet(wallet_key, fixtures)?;
    if let Some(person_key) = &req.person_key
        && !fixtures.persons.iter().any(|p| &p.person_key == person_key)
    {
        return Err(QiError::cin_person_not_found(person_key));
    }
    if let Some(limit) = req.limit_amount_cents {
        if parse_cents(&wallet.postpaid_credit_limit).is_some_and(|credit| limit > credit) {
            return Err(QiError::limit_above_credit());
        }
        if wallet
            .ccb_limit
            .as_deref()
            .and_then(parse_cents)
            .is_some_and(|ccb| limit > ccb)
        {
            return Err(QiError::limit_above_ccb());
        }
    }
    Ok(wallet)
}

/// The wallet with `wallet_key`, or CIN000007.
pub fn find_wallet<'f>(
    wallet_key: &str,
    fixtures: &'f QitechFixtures,
) -> Result<&'f QitechWallet, QiError> {
    fixtures
        .wallets
        .iter()
        .find(|w| w.wallet_key == wallet_key)
        .ok_or_else(|| QiError::wallet_not_found(wallet_key))
}

#[cfg(test)]
#[path = "postpaid_request_tests.rs"]
mod tests;
