//! Small schema checks shared by the prepaid and postpaid validators. Every failure is a
//! 400 QIT000001 whose `extra_fields.detail` names the offending field.

use serde_json::{Map, Value};

use super::error::QiError;

/// The JSON object being validated, with the path used in error details (`owner.phone`).
pub(super) struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub path: String,
}

impl<'a> Obj<'a> {
    /// The request body as an object.
    pub fn root(body: &'a Value) -> Result<Obj<'a>, QiError> {
        body.as_object()
            .map(|map| Obj {
                map,
                path: String::new(),
            })
            .ok_or_else(|| QiError::schema("the body must be a JSON object"))
    }

    fn name(&self, field: &str) -> String {
        if self.path.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.path)
        }
    }

    fn fail(&self, field: &str, why: &str) -> QiError {
        QiError::schema(&format!("{}: {why}", self.name(field)))
    }

    /// Refuses fields outside `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), QiError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(self.fail(k, "is not allowed")),
            None => Ok(()),
        }
    }

    /// Whether `field` is present (and not null).
    pub fn has(&self, field: &str) -> bool {
        self.map.get(field).is_some_and(|v| !v.is_null())
    }

    /// A required string of `min..=max` characters.
    pub fn string(&self, field: &str, min: usize, max: usize) -> Result<&'a str, QiError> {
        let s = self
            .map
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| self.fail(field, "is required and must be a string"))?;
        let len = s.chars().count();
        if len < min || len > max {
            return Err(self.fail(field, &format!("must have {min} to {max} characters")));
        }
        Ok(s)
    }

    /// An optional string of at most `max` characters.
    pub fn opt_string(&self, field: &str, max: usize) -> Result<Option<&'a str>, QiError> {
        if !self.has(field) {
            return Ok(None);
        }
        self.string(field, 0, max).map(Some)
    }

    /// A required string that is one of `choices`.
    pub fn choice(&self, field: &str, choices: &[&str]) -> Result<&'a str, QiError> {
        let s = self.string(field, 1, 64)?;
        if !choices.contains(&s) {
            return Err(self.fail(field, &format!("must be one of {}", choices.join(", "))));
        }
        Ok(s)
    }

    /// A required UUID (8-4-4-4-12 hex).
    pub fn uuid(&self, field: &str) -> Result<&'a str, QiError> {
        let s = self.string(field, 36, 36)?;
        if uuid::Uuid::try_parse(s).is_err() {
            return Err(self.fail(field, "must be a UUID"));
        }
        Ok(s)
    }

    /// A required string of `min..=max` ASCII digits.
    pub fn digits(&self, field: &str, min: usize, max: usize) -> Result<&'a str, QiError> {
        let s = self.string(field, min, max)?;
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.fail(field, "must contain digits only"));
        }
        Ok(s)
    }

    /// A required `YYYY-MM-DD` date.
    pub fn date(&self, field: &str) -> Result<&'a str, QiError> {
        let s = self.string(field, 10, 10)?;
        if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() {
            return Err(self.fail(field, "must be a YYYY-MM-DD date"));
        }
        Ok(s)
    }

    /// A required e-mail address (something@something, at most 254 characters).
    pub fn email(&self, field: &str) -> Result<&'a str, QiError> {
        let s = self.string(field, 3, 254)?;
        match s.split_once('@') {
            Some((local, domain)) if !local.is_empty() && domain.contains('.') => Ok(s),
            _ => Err(self.fail(field, "must be an e-mail address")),
        }
    }

    /// A printed name: letters (accented Latin included) and spaces only.
    pub fn printed_name(&self, field: &str, min: usize, max: usize) -> Result<&'a str, QiError> {
        let s = self.string(field, min, max)?;
        let ok = s.chars().all(|c| {
            c == ' ' || c.is_ascii_alphabetic() || ('À'..='ÿ').contains(&c) && c != '×' && c != '÷'
        });
        if !ok || s.trim().is_empty() {
            return Err(self.fail(field, "must contain letters and spaces only"));
        }
        Ok(s)
    }

    /// A required positive integer.
    pub fn positive_int(&self, field: &str) -> Result<u64, QiError> {
        match self.map.get(field).and_then(Value::as_u64) {
            Some(n) if n >= 1 => Ok(n),
            _ => Err(self.fail(field, "is required and must be a positive integer")),
        }
    }

    /// A required boolean.
    pub fn boolean(&self, field: &str) -> Result<bool, QiError> {
        self.map
            .get(field)
            .and_then(Value::as_bool)
            .ok_or_else(|| self.fail(field, "is required and must be a boolean"))
    }

    /// A required nested object.
    pub fn object(&self, field: &str) -> Result<Obj<'a>, QiError> {
        let map = self
            .map
            .get(field)
            .and_then(Value::as_object)
            .ok_or_else(|| self.fail(field, "is required and must be an object"))?;
        Ok(Obj {
            map,
            path: self.name(field),
        })
    }

    /// Refuses `field` when present.
    pub fn absent(&self, field: &str, why: &str) -> Result<(), QiError> {
        if self.has(field) {
            return Err(self.fail(field, why));
        }
        Ok(())
    }
}

/// The Brazilian state codes QI accepts (`EX` = abroad).
pub(super) const STATES: [&str; 28] = [
    "AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA", "PB", "PE",
    "PI", "PR", "RJ", "RN", "RO", "RR", "RS", "SC", "SE", "SP", "TO", "EX",
];
