//! Cardholders (spec section 5.2): `POST /v1/issuing/cardholders` (with `x-idempotency-key`),
//! `GET /v1/issuing/cardholders/{id}` and `GET /v1/issuing/cardholders` (`page_size`,
//! `page_number`, filter `cardholder_status`). A card can be issued to a fixture cardholder or
//! to one the client created.
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

use super::auth::authenticate;
use super::idempotency::{fingerprint, required_key, take_key};
use super::lookup::{authorized, page, paginate, respond};
use super::wire::{ApiError, uqpay_time};
use super::{PROVIDER, Uqpay};
use crate::fixtures::UqpayCardholder;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
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
) -> Response {
    match create(&uqpay, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn create(uqpay: &Uqpay, headers: &HeaderMap, body: &[u8]) -> Result<Response, ApiError> {
    let client = authenticate(uqpay, headers)?;
    uqpay.rate_limit(&client)?;
    let key = required_key(headers)?;
    let core = &uqpay.core;
    if let Some(replay) = take_key(uqpay, &client, key, fingerprint(body))? {
        return Ok(replay);
    }
    core.latency(PROVIDER).await;
    let outcome = serde_json::from_slice::<Value>(body)
        .map_err(|e| {
            ApiError::invalid(
                "invalid_request",
                format!("request body is not valid JSON: {e}"),
            )
        })
        .and_then(|parsed| validate(&parsed))
        .and_then(|new| uqpay.cardholders.add(&client, new, core.clock.now()));
    let (status, answer) = match outcome {
        Ok(created) => {
            core.stats.incr(PROVIDER, "cardholders_created");
            (StatusCode::OK, created)
        }
        Err(e) => e.parts(),
    };
    uqpay
        .idempotency
        .finish(&client, key, status, answer.clone(), core.clock.now_ms());
    Ok((status, Json(answer)).into_response())
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

fn validate(body: &Value) -> Result<NewHolder, ApiError> {
    if !body.is_object() {
        return Err(ApiError::invalid(
            "invalid_request",
            "request body must be a JSON object",
        ));
    }
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::invalid(
                "invalid_request",
                format!("{name} must be a string"),
            )),
        }
    };
    let required = [
        "email",
        "first_name",
        "last_name",
        "country_code",
        "phone_number",
    ];
    let mut values = HashMap::new();
    let mut missing = Vec::new();
    for name in required {
        match text(name)? {
            Some(v) => {
                values.insert(name, v);
            }
            None => missing.push(name.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::missing(missing));
    }
    for name in ["first_name", "last_name"] {
        let v = &values[name];
        let letters = v.chars().all(|c| c.is_alphabetic() || c == ' ' || c == '-');
        if !(1..=40).contains(&v.chars().count()) || !letters || v.trim() != v {
            return Err(ApiError::invalid(
                "invalid_name",
                format!(
                    "{name} must be 1-40 letters, spaces or hyphens, without leading or trailing spaces"
                ),
            ));
        }
    }
    let email = &values["email"];
    let valid_email = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.contains('@') && !email.contains(' ')
    });
    if !valid_email {
        return Err(ApiError::invalid(
            "invalid_email",
            "email is not a valid address",
        ));
    }
    let alpha2 = |v: &str| v.len() == 2 && v.chars().all(|c| c.is_ascii_uppercase());
    if !alpha2(&values["country_code"]) {
        return Err(ApiError::invalid(
            "invalid_country_code",
            "country_code must be an ISO 3166-1 alpha-2 code, e.g. SG",
        ));
    }
    let phone = &values["phone_number"];
    if !(4..=15).contains(&phone.len()) || !phone.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::invalid(
            "invalid_phone_number",
            "phone_number must be 4 to 15 digits, without the country code",
        ));
    }
    let date_of_birth = text("date_of_birth")?;
    if let Some(d) = &date_of_birth {
        let past =
            NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok_and(|d| d < Utc::now().date_naive());
        if !past {
            return Err(ApiError::invalid(
                "invalid_date_of_birth",
                "date_of_birth must be a past date in yyyy-mm-dd form",
            ));
        }
    }
    let gender = text("gender")?;
    if gender
        .as_deref()
        .is_some_and(|g| g != "MALE" && g != "FEMALE")
    {
        return Err(ApiError::invalid(
            "invalid_gender",
            "gender must be MALE or FEMALE",
        ));
    }
    let nationality = text("nationality")?;
    if nationality.as_deref().is_some_and(|n| !alpha2(n)) {
        return Err(ApiError::invalid(
            "invalid_nationality",
            "nationality must be an ISO 3166-1 alpha-2 code",
        ));
    }
    Ok(NewHolder {
        email: values["email"].clone(),
        first_name: values["first_name"].clone(),
        last_name: values["last_name"].clone(),
        country_code: values["country_code"].clone(),
        phone_number: values["phone_number"].clone(),
        date_of_birth,
        gender,
        nationality,
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

    fn visible(&self, client: &str, keep: impl Fn(&Holder) -> bool) -> Vec<Holder> {
        self.lock()
            .iter()
            .filter(|h| h.visible_to(client) && keep(h))
            .cloned()
            .collect()
    }
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
) -> Response {
    respond(
        async {
            let client = authorized(&uqpay, &headers).await?;
            let holder = uqpay
                .cardholders
                .visible(&client, |h| h.holder.cardholder_id == id)
                .pop()
                .ok_or_else(|| {
                    ApiError::not_found(
                        StatusCode::NOT_FOUND,
                        "cardholder_not_found",
                        format!("Cardholder {id} does not exist"),
                    )
                })?;
            Ok(holder.json(cards_of(&uqpay, &client, &holder)))
        }
        .await,
    )
}

/// `GET /v1/issuing/cardholders`.
pub async fn list_cardholders(
    State(uqpay): State<Arc<Uqpay>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    respond(
        async {
            let client = authorized(&uqpay, &headers).await?;
            let page = page(&query)?;
            let status = query.get("cardholder_status").filter(|v| !v.is_empty());
            let holders = uqpay.cardholders.visible(&client, |h| {
                status.is_none_or(|s| *s == h.holder.cardholder_status)
            });
            Ok(paginate(
                holders
                    .iter()
                    .map(|h| h.json(cards_of(&uqpay, &client, h)))
                    .collect(),
                &page,
            ))
        }
        .await,
    )
}
