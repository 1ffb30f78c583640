//! Checks for single cell values, shared by the providers. Each returns the parsed value or a
//! reason in plain words. Personal values (names, e-mails, phones, documents) are never echoed in
//! a reason; codes and enum values are, because seeing them is how the typo gets fixed, through
//! [`masking::shown`] (capped, control characters escaped).

use crate::domain::masking;
use crate::domain::text::{first_control_char, is_digits, is_latin_letter};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use std::borrow::Cow;

/// `order_ref`: 1–64 characters, no control characters (the cell is already trimmed).
pub fn order_ref(s: &str) -> Result<&str, String> {
    let n = s.chars().count();
    if n > 64 {
        return Err(format!("must be at most 64 characters, found {n}"));
    }
    if first_control_char(s).is_some() {
        return Err("must not contain control characters (tabs, line breaks)".to_string());
    }
    Ok(s)
}

/// A UUID in any of its usual spellings, normalised to lower-case hyphenated form.
/// The cell itself is returned when it is already in that form, as it usually is.
pub fn uuid(s: &str) -> Result<Cow<'_, str>, String> {
    let parsed = uuid::Uuid::try_parse(s).map_err(|_| {
        format!(
            "{} is not a UUID (expected e.g. 5294ed8d-08fc-4397-b15f-6d9aa07b0041)",
            masking::shown(s)
        )
    })?;
    if s.len() == 36 && !s.bytes().any(|b| b.is_ascii_uppercase()) {
        Ok(Cow::Borrowed(s))
    } else {
        Ok(Cow::Owned(parsed.hyphenated().to_string()))
    }
}

/// Free text of at most `max` characters without control characters.
pub fn text(s: &str, max: usize) -> Result<&str, String> {
    // Counting characters is needed only when the bytes could exceed the limit.
    if s.len() > max {
        let n = s.chars().count();
        if n > max {
            return Err(format!("must be at most {max} characters, found {n}"));
        }
    }
    if first_control_char(s).is_some() {
        return Err("must not contain control characters (tabs, line breaks)".to_string());
    }
    Ok(s)
}

/// A personal name of at most `max` characters: like [`text`], but masked if echoed.
pub fn person_name(s: &str, max: usize) -> Result<&str, String> {
    text(s, max).map_err(|e| format!("{e} ({})", masking::mask_name(s)))
}

/// A name printed on a card: 2–26 letters (accented Latin letters allowed) and spaces, no
/// digits or special characters.
pub fn printed_name(s: &str) -> Result<&str, String> {
    let n = s.chars().count();
    if !(2..=26).contains(&n) {
        return Err(format!("must be 2 to 26 characters, found {n}"));
    }
    if let Some(c) = s.chars().find(|&c| c != ' ' && !is_latin_letter(c)) {
        let what = if c.is_ascii_digit() {
            "a digit"
        } else {
            "a special character"
        };
        return Err(format!(
            "must contain only letters and spaces, found {what} `{c}` ({})",
            masking::mask_name(s)
        ));
    }
    Ok(s)
}

/// A name for a provider that takes A–Z only: letters, optionally spaces, at most `max`.
/// Accents get a hint to remove them rather than a bare refusal.
pub fn ascii_name(s: &str, max: usize, spaces: bool) -> Result<&str, String> {
    let n = s.chars().count();
    if n > max {
        return Err(format!("must be at most {max} letters, found {n}"));
    }
    if let Some(c) = s
        .chars()
        .find(|&c| !(c.is_ascii_alphabetic() || (spaces && c == ' ')))
    {
        let masked = masking::mask_name(s);
        return Err(if is_latin_letter(c) {
            match unaccented(c) {
                Some(plain) => format!(
                    "the provider accepts only A-Z letters: remove the accent, write `{plain}` for `{c}` ({masked})"
                ),
                None => format!("the provider accepts only A-Z letters, found `{c}` ({masked})"),
            }
        } else if c == ' ' {
            format!("must be a single word of A-Z letters, no spaces ({masked})")
        } else {
            format!("must contain only A-Z letters, found `{c}` ({masked})")
        });
    }
    Ok(s)
}

/// The plain letter under an accented Latin-1 letter (`ã` -> `a`, `Ç` -> `C`).
fn unaccented(c: char) -> Option<char> {
    const FROM: &str = "ÀÁÂÃÄÅàáâãäåÈÉÊËèéêëÌÍÎÏìíîïÒÓÔÕÖòóôõöÙÚÛÜùúûüÇçÑñÝýÿ";
    const TO: &str = "AAAAAAaaaaaaEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuCcNnYyy";
    FROM.chars()
        .position(|f| f == c)
        .and_then(|i| TO.chars().nth(i))
}

/// One of `allowed` (compared case-insensitively), returned in its canonical spelling.
pub fn one_of(s: &str, allowed: &[&'static str]) -> Result<&'static str, String> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(s))
        .copied()
        .ok_or_else(|| {
            format!(
                "{} is not allowed; expected one of {}",
                masking::shown(s),
                allowed.join(", ")
            )
        })
}

/// An integer of at least 1.
pub fn positive_int(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n >= 1 && is_digits(s) => Ok(n),
        _ => Err(format!(
            "{} is not a whole number of at least 1",
            masking::shown(s)
        )),
    }
}

/// `true` or `false`, in any letter case.
pub fn boolean(s: &str) -> Result<bool, String> {
    if s.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!("{} is not true or false", masking::shown(s)))
    }
}

/// A real calendar date `YYYY-MM-DD` strictly before `today` and not before 1900. Dates here
/// are birthdates, so reasons never echo the value.
pub fn past_date(s: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    if !shape_ok {
        // A Brazilian spreadsheet shows and exports dates as DD/MM/YYYY. Not converted (a
        // sheet in another locale writes MM/DD/YYYY, and the date is not echoed: it may be a
        // birth date), but said.
        let day_first = b.len() == 10
            && b[2] == b'/'
            && b[5] == b'/'
            && [0, 1, 3, 4, 6, 7, 8, 9]
                .iter()
                .all(|&i| b[i].is_ascii_digit());
        if day_first {
            return Err(
                "is not a date in the form YYYY-MM-DD: write the spreadsheet's \
                        DD/MM/YYYY date as YYYY-MM-DD (format the column as text, or with the \
                        date format yyyy-mm-dd)"
                    .to_string(),
            );
        }
        return Err("is not a date in the form YYYY-MM-DD".to_string());
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    let date = NaiveDate::from_ymd_opt(num(0..4) as i32, num(5..7), num(8..10))
        .ok_or_else(|| "is not a real calendar date".to_string())?;
    if date >= today {
        return Err("must be in the past".to_string());
    }
    if date.year_ce().1 < 1900 {
        return Err("is before 1900".to_string());
    }
    Ok(date)
}

/// An RFC 3339 date-time strictly after `now` (`2027-03-19T18:46:43+08:00`).
pub fn future_datetime(s: &str, now: DateTime<Utc>) -> Result<&str, String> {
    let t = DateTime::parse_from_rfc3339(s).map_err(|_| {
        format!(
            "{} is not an RFC 3339 date-time (e.g. 2027-03-19T18:46:43+08:00)",
            masking::shown(s)
        )
    })?;
    if t <= now {
        return Err(format!("{} must be in the future", masking::shown(s)));
    }
    Ok(s)
}

/// A plausible e-mail address of at most 254 characters: one `@`, a non-empty local part of
/// at most 64 characters, a dotted domain, no spaces. Deliverability is the provider's business.
pub fn email(s: &str) -> Result<&str, String> {
    let bad = || {
        format!(
            "is not a plausible e-mail address ({})",
            masking::mask_email(s)
        )
    };
    if s.len() > 254 {
        return Err(format!("must be at most 254 characters, found {}", s.len()));
    }
    let (local, domain) = s.split_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'@' | b'('
                        | b')'
                        | b'<'
                        | b'>'
                        | b'['
                        | b']'
                        | b':'
                        | b';'
                        | b','
                        | b'\\'
                        | b'"'
                )
        });
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if local_ok && domain_ok {
        Ok(s)
    } else {
        Err(bad())
    }
}

/// Digits only, between `min` and `max` of them; dashes and spaces are removed first when
/// `loose` (phone numbers are often written `99999-8888`). Masked if echoed.
pub fn digits(s: &str, min: usize, max: usize, loose: bool) -> Result<Cow<'_, str>, String> {
    let cleaned: Cow<'_, str> = if loose && s.contains(['-', ' ']) {
        Cow::Owned(s.chars().filter(|c| *c != '-' && *c != ' ').collect())
    } else {
        Cow::Borrowed(s)
    };
    if !is_digits(&cleaned) {
        return Err(format!(
            "must contain only digits ({})",
            masking::mask_phone(s)
        ));
    }
    let n = cleaned.len();
    if n < min || n > max {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(format!("must be {want} digits, found {n}"));
    }
    Ok(cleaned)
}

/// A list of 4-digit merchant category codes separated by `|` (`5411|5812`).
pub fn mcc_list(s: &str) -> Result<Vec<&str>, String> {
    let codes: Vec<&str> = s.split('|').map(str::trim).collect();
    match codes.iter().find(|c| c.len() != 4 || !is_digits(c)) {
        Some(bad) => Err(format!(
            "{} is not a 4-digit MCC; write codes separated by |, e.g. 5411|5812",
            masking::shown(bad)
        )),
        None => Ok(codes),
    }
}

#[cfg(test)]
#[path = "fields_tests.rs"]
mod tests;
