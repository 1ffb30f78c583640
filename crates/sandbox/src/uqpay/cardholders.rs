//! Cardholders (spec section 5.2): `POST /v1/issuing/cardholders` (with `x-idempotency-key`),
//! `GET /v1/issuing/cardholders/{id}` and `GET /v1/issuing/cardholders` (`page_size`,
//! `page_number`, filter `cardholder_status`), `POST /v1/issuing/cardholders/{id}` (update; the
//! names are immutable, as documented). A card can be issued to a fixture cardholder or to one
//! the client created.
//!
//! Sandbox choices where the spec is silent or says [inferred]:
//! - The sandbox runs no KYC: a created cardholder is `SUCCESS` at once (the create answer is
//!   synchronous and no webhook follows, as documented).
//! - `email` and `phone_number` are unique within the account (documented); a repeat is 409
//!   `conflict_error` with code `cardholder_email_exists` / `cardholder_phone_exists`. The other
//!   codes (`invalid_name`, `invalid_email`, `invalid_country_code`, `invalid_phone_number`,
//!   `invalid_date_of_birth`, `invalid_gender`, `invalid_nationality`) are the sandbox's own.
//! - `phone_number`: 4 to 15 digits (E.164's longest), whatever the country.
//! - Fixture cardholders are visible to every client; a created one only to its client.
//! - An update answers the whole cardholder object; asking to change `first_name` or
//!   `last_name` is 400 `invalid_request_error` code `immutable_field`.

use super::idempotency::{fingerprint, fingerprint_for, keyed_write};
use super::lookup::{page, paginate, read};
use super::wire::{ApiError, parse_body, uqpay_time};
use super::{PROVIDER, Uqpay};
use crate::fixtures::UqpayCardholder;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A cardholder the sandbox knows: from the fixtures (`client_id` `None`, seen by every
/// client) or created by a client.
#[derive(Debug, Clone)]
struct Holder {
    holder: UqpayCardholder,
    client_id: Option<String>,
    country_code: Option<String>,
    phone_number: Option<String>,
    date_of_birth: Option<String>,
    gender: Option<String>,
    nationality: Option<String>,
    create_time: Option<DateTime<Utc>>,
}

impl Holder {
    fn visible_to(&self, client: &str) -> bool {
        self.client_id.as_deref().is_none_or(|c| c == client)
    }

    fn json(&self, number_of_cards: usize) -> Value {
        json!({
            "cardholder_id": self.holder.cardholder_id,
            "cardholder_status": self.holder.cardholder_status,
            "email": self.holder.email,
            "first_name": self.holder.first_name,
            "last_name": self.holder.last_name,
            "country_code": self.country_code,
            "phone_number": self.phone_number,
            "date_of_birth": self.date_of_birth,
            "gender": self.gender,
            "nationality": self.nationality,
            "create_time": self.create_time.map(uqpay_time),
            "number_of_cards": number_of_cards,
        })
    }
}

/// Every cardholder, fixtures first, then in order of creation.
#[derive(Debug)]
pub struct CardholderStore {
    holders: Mutex<Vec<Holder>>,
}

impl CardholderStore {
    pub fn new(fixtures: &[UqpayCardholder]) -> CardholderStore {
        let holders = fixtures
            .iter()
            .map(|h| Holder {
                holder: h.clone(),
                client_id: None,
                country_code: None,
                phone_number: None,
                date_of_birth: None,
                gender: None,
                nationality: None,
                create_time: None,
            })
            .collect();
        CardholderStore {
            holders: Mutex::new(holders),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Holder>> {
        self.holders.lock().expect("uqpay cardholders lock")
    }

    /// The cardholder `id` as `client` sees it.
    pub fn find(&self, client: &str, id: &str) -> Option<UqpayCardholder> {
        self.lock()
            .iter()
            .find(|h| h.holder.cardholder_id == id && h.visible_to(client))
            .map(|h| h.holder.clone())
    }
}

/// `POST /v1/issuing/cardholders`.
pub async fn create_cardholder(
    State(uqpay): State<Arc<Uqpay>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    keyed_write(&uqpay, &headers, fingerprint(&body), |client| {
        let created = uqpay.cardholders.add(
            client,
            validate(&parse_body(&body)?)?,
            uqpay.core.clock.now(),
        )?;
        uqpay.core.stats.incr(PROVIDER, "cardholders_created");
        Ok(created)
    })
    .await
}

/// A create request that passed validation.
struct NewHolder {
    email: String,
    first_name: String,
    last_name: String,
    country_code: String,
    phone_number: String,
    date_of_birth: Option<String>,
    gender: Option<String>,
    nationality: Option<String>,
}

/// The fields a client may set, each checked by [`check_field`].
const FIELDS: [&str; 8] = [
    "email",
    "first_name",
    "last_name",
    "country_code",
    "phone_number",
    "date_of_birth",
    "gender",
    "nationality",
];

/// The request's cardholder fields that are present (non-empty strings), each checked.
fn fields(body: &Value) -> Result<HashMap<&'static str, String>, ApiError> {
    if !body.is_object() {
        return Err(ApiError::invalid(
            "invalid_request",
            "request body must be a JSON object",
        ));
    }
    let mut values = HashMap::new();
    for name in FIELDS {
        match body.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::String(s)) => {
                check_field(name, s)?;
                values.insert(name, s.clone());
            }
            Some(_) => {
                return Err(ApiError::invalid(
                    "invalid_request",
                    format!("{name} must be a string"),
                ));
            }
        }
    }
    Ok(values)
}

fn check_field(name: &str, v: &str) -> Result<(), ApiError> {
    let alpha2 = |v: &str| v.len() == 2 && v.chars().all(|c| c.is_ascii_uppercase());
    let (ok, code, rule) = match name {
        "first_name" | "last_name" => (
            (1..=40).contains(&v.chars().count())
                && v.chars().all(|c| c.is_alphabetic() || c == ' ' || c == '-')
                && v.trim() == v,
            "invalid_name",
            "must be 1-40 letters, spaces or hyphens, without leading or trailing spaces",
        ),
        "email" => (
            v.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.contains('@')
            }) && !v.contains(' '),
            "invalid_email",
            "is not a valid address",
        ),
        "country_code" => (
            alpha2(v),
            "invalid_country_code",
            "must be an ISO 3166-1 alpha-2 code, e.g. SG",
        ),
        "nationality" => (
            alpha2(v),
            "invalid_nationality",
            "must be an ISO 3166-1 alpha-2 code",
        ),
        "phone_number" => (
            (4..=15).contains(&v.len()) && v.chars().all(|c| c.is_ascii_digit()),
            "invalid_phone_number",
            "must be 4 to 15 digits, without the country code",
        ),
        "date_of_birth" => (
            NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok_and(|d| d < Utc::now().date_naive()),
            "invalid_date_of_birth",
            "must be a past date in yyyy-mm-dd form",
        ),
        "gender" => (
            v == "MALE" || v == "FEMALE",
            "invalid_gender",
            "must be MALE or FEMALE",
        ),
        _ => (true, "", ""),
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(code, format!("{name} {rule}")))
    }
}

fn validate(body: &Value) -> Result<NewHolder, ApiError> {
    let mut values = fields(body)?;
    let missing: Vec<String> = FIELDS[..5]
        .iter()
        .filter(|name| !values.contains_key(*name))
        .map(|name| name.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::missing(missing));
    }
    let mut take = |name: &str| values.remove(name);
    Ok(NewHolder {
        email: take("email").unwrap_or_default(),
        first_name: take("first_name").unwrap_or_default(),
        last_name: take("last_name").unwrap_or_default(),
        country_code: take("country_code").unwrap_or_default(),
        phone_number: take("phone_number").unwrap_or_default(),
        date_of_birth: take("date_of_birth"),
        gender: take("gender"),
        nationality: take("nationality"),
    })
}

impl CardholderStore {
    /// Records a new cardholder of `client`, refusing an e-mail or phone number the account
    /// already has; the create answer.
    fn add(&self, client: &str, new: NewHolder, now: DateTime<Utc>) -> Result<Value, ApiError> {
        let mut holders = self.lock();
        let taken = |same: &dyn Fn(&Holder) -> bool| {
            holders.iter().any(|h| h.visible_to(client) && same(h))
        };
        if taken(&|h| h.holder.email.eq_ignore_ascii_case(&new.email)) {
            return Err(conflict(
                "cardholder_email_exists",
                "A cardholder with this email already exists",
            ));
        }
        if taken(&|h| h.phone_number.as_deref() == Some(new.phone_number.as_str())) {
            return Err(conflict(
                "cardholder_phone_exists",
                "A cardholder with this phone_number already exists",
            ));
        }
        let holder = Holder {
            holder: UqpayCardholder {
                cardholder_id: uuid::Uuid::new_v4().to_string(),
                cardholder_status: "SUCCESS".into(),
                first_name: new.first_name,
                last_name: new.last_name,
                email: new.email,
            },
            client_id: Some(client.to_string()),
            country_code: Some(new.country_code),
            phone_number: Some(new.phone_number),
            date_of_birth: new.date_of_birth,
            gender: new.gender,
            nationality: new.nationality,
            create_time: Some(now),
        };
        let answer = json!({
            "cardholder_id": holder.holder.cardholder_id,
            "cardholder_status": holder.holder.cardholder_status,
        });
        holders.push(holder);
        Ok(answer)
    }

    /// Applies checked `changes` to the cardholder `id` of `client`, refusing an e-mail or phone
    /// number another cardholder of the account has.
    fn update(
        &self,
        client: &str,
        id: &str,
        changes: HashMap<&'static str, String>,
    ) -> Result<Holder, ApiError> {
        let mut holders = self.lock();
        let index = holders
            .iter()
            .position(|h| h.holder.cardholder_id == id && h.visible_to(client))
            .ok_or_else(|| holder_not_found(id))?;
        let others = |same: &dyn Fn(&Holder) -> bool| {
            holders
                .iter()
                .enumerate()
                .any(|(i, h)| i != index && h.visible_to(client) && same(h))
        };
        if let Some(email) = changes.get("email")
            && others(&|h| h.holder.email.eq_ignore_ascii_case(email))
        {
            return Err(conflict(
                "cardholder_email_exists",
                "A cardholder with this email already exists",
            ));
        }
        if let Some(phone) = changes.get("phone_number")
            && others(&|h| h.phone_number.as_deref() == Some(phone.as_str()))
        {
            return Err(conflict(
                "cardholder_phone_exists",
                "A cardholder with this phone_number already exists",
            ));
        }
        let h = &mut holders[index];
        for (name, value) in changes {
            match name {
                "email" => h.holder.email = value,
                "country_code" => h.country_code = Some(value),
                "phone_number" => h.phone_number = Some(value),
                "date_of_birth" => h.date_of_birth = Some(value),
                "gender" => h.gender = Some(value),
                "nationality" => h.nationality = Some(value),
                _ => {}
            }
        }
        Ok(h.clone())
    }

    fn visible(&self, client: &str, keep: impl Fn(&Holder) -> bool) -> Vec<Holder> {
        self.lock()
            .iter()
            .filter(|h| h.visible_to(client) && keep(h))
            .cloned()
            .collect()
    }
}

fn holder_not_found(id: &str) -> ApiError {
    ApiError::not_found(
        StatusCode::NOT_FOUND,
        "cardholder_not_found",
        format!("Cardholder {id} does not exist"),
    )
}

fn conflict(code: &'static str, message: &str) -> ApiError {
    ApiError::Typed {
        status: StatusCode::CONFLICT,
        kind: "conflict_error",
        code,
        message: message.into(),
        missing_fields: Vec::new(),
    }
}

fn cards_of(uqpay: &Uqpay, client: &str, holder: &Holder) -> usize {
    uqpay
        .cards
        .list(client, |c| {
            c.cardholder.cardholder_id == holder.holder.cardholder_id
        })
        .len()
}

/// `GET /v1/issuing/cardholders/{id}`.
pub async fn get_cardholder(
    State(uqpay): State<Arc<Uqpay>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    read(&uqpay, &headers, |client| {
        let holder = uqpay
            .cardholders
            .visible(client, |h| h.holder.cardholder_id == id)
            .pop()
            .ok_or_else(|| holder_not_found(&id))?;
        Ok(holder.json(cards_of(&uqpay, client, &holder)))
    })
    .await
}

/// `GET /v1/issuing/cardholders`.
pub async fn list_cardholders(
    State(uqpay): State<Arc<Uqpay>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    read(&uqpay, &headers, |client| {
        let page = page(&query)?;
        let status = query.get("cardholder_status").filter(|v| !v.is_empty());
        let holders = uqpay.cardholders.visible(client, |h| {
            status.is_none_or(|s| *s == h.holder.cardholder_status)
        });
        Ok(paginate(
            holders
                .iter()
                .map(|h| h.json(cards_of(&uqpay, client, h)))
                .collect(),
            &page,
        ))
    })
    .await
}

/// `POST /v1/issuing/cardholders/{id}`.
pub async fn update_cardholder(
    State(uqpay): State<Arc<Uqpay>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    keyed_write(&uqpay, &headers, fingerprint_for(&id, &body), |client| {
        let request = parse_body(&body)?;
        if let Some(name) = ["first_name", "last_name"]
            .iter()
            .find(|n| !request[**n].is_null())
        {
            return Err(ApiError::invalid(
                "immutable_field",
                format!("{name} cannot be changed once the cardholder exists"),
            ));
        }
        let holder = uqpay.cardholders.update(client, &id, fields(&request)?)?;
        Ok(holder.json(cards_of(&uqpay, client, &holder)))
    })
    .await
}
