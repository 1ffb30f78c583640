//! Card secrets never rest anywhere: a provider payload is scrubbed of PAN, CVV/CVC, PIN and
//! expiry before cardbatch writes it (the webhook inbox) or logs it. Only a card number's last
//! four digits survive, which is what an operator needs to tell cards apart.
//!
//! Two nets, because providers name fields differently and may add new ones: fields whose
//! *name* says they hold a secret are replaced whatever their value, and any string *value*
//! that looks like a card number (15 to 19 digits, spaces or dashes allowed, passing the Luhn
//! check) is reduced to its last four, whatever its field is called. (13- and 14-digit card
//! numbers are caught by name only: millisecond timestamps have 13 digits.)

use serde_json::Value;

/// Field names (compared without `_`, `-` and case) that hold a card number: masked to the last
/// four digits.
const PAN_FIELDS: [&str; 6] = [
    "number",
    "cardnumber",
    "cardno",
    "pan",
    "primaryaccountnumber",
    "fullcardnumber",
];

/// Field names that hold a verification code, a PIN or an expiry: removed entirely.
const SECRET_FIELDS: [&str; 16] = [
    "cvc",
    "cvv",
    "cvc2",
    "cvv2",
    "cvn",
    "securitycode",
    "pin",
    "pinblock",
    "expiry",
    "expirydate",
    "expirationdate",
    "expiration",
    "expire",
    "expiredate",
    "expmonth",
    "expyear",
];

/// What replaces a removed secret.
pub const REDACTED: &str = "[redacted]";

/// Scrubs `value` in place (see the module doc).
pub fn scrub_card_data(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, field) in map.iter_mut() {
                let name = normalise(name);
                if SECRET_FIELDS.contains(&name.as_str()) {
                    *field = Value::String(REDACTED.into());
                } else if PAN_FIELDS.contains(&name.as_str()) {
                    *field = match field {
                        Value::String(s) => Value::String(last_four(s)),
                        Value::Number(n) => Value::String(last_four(&n.to_string())),
                        _ => Value::String(REDACTED.into()),
                    };
                } else {
                    scrub_card_data(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_card_data),
        Value::String(s) if looks_like_pan(s) => *s = last_four(s),
        _ => {}
    }
}

fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// `************1111`: every digit but the last four hidden (a short value is hidden whole).
fn last_four(s: &str) -> String {
    let digits: Vec<char> = s.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 8 {
        return REDACTED.into();
    }
    let tail: String = digits[digits.len() - 4..].iter().collect();
    format!("{}{tail}", "*".repeat(digits.len() - 4))
}

/// 15 to 19 digits (spaces and dashes between them allowed) passing the Luhn check.
fn looks_like_pan(s: &str) -> bool {
    let s = s.trim();
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
    {
        return false;
    }
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    (15..=19).contains(&digits.len()) && luhn(&digits)
}

/// True when a card number appears anywhere in `s`: a run of digits, spaces and dashes that
/// [`looks_like_pan`] (a whole cell, or a number inside free text or a JSON cell).
pub fn contains_pan(s: &str) -> bool {
    pan_runs(s).next().is_some()
}

/// `s` with every card number in it reduced to its last four digits (`************1111`); the
/// rest as written.
pub fn mask_pans(s: &str) -> std::borrow::Cow<'_, str> {
    let runs: Vec<_> = pan_runs(s).collect();
    if runs.is_empty() {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for run in runs {
        out.push_str(&s[at..run.start]);
        let run_text = &s[run.clone()];
        let digits = run_text.chars().filter(char::is_ascii_digit).count();
        let mut seen = 0;
        for c in run_text.chars() {
            if c.is_ascii_digit() {
                seen += 1;
                out.push(if seen <= digits - 4 { '*' } else { c });
            } else {
                out.push(c);
            }
        }
        at = run.end;
    }
    out.push_str(&s[at..]);
    std::borrow::Cow::Owned(out)
}

/// The byte ranges of `s` that look like card numbers: maximal runs of digits, spaces and
/// dashes, trimmed of spaces and dashes at their ends.
fn pan_runs(s: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let bytes = s.as_bytes();
    let is_part = |b: u8| b.is_ascii_digit() || b == b' ' || b == b'-';
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && is_part(bytes[i]) {
                i += 1;
            }
            let mut end = i;
            while end > start && !bytes[end - 1].is_ascii_digit() {
                end -= 1;
            }
            // Most runs (an amount's whole part, a date's year) are far too short: counted
            // before the Luhn check, which collects the digits.
            let digits = bytes[start..end]
                .iter()
                .filter(|b| b.is_ascii_digit())
                .count();
            if (15..=19).contains(&digits) && looks_like_pan(&s[start..end]) {
                return Some(start..end);
            }
        }
        None
    })
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                (d * 2).div_euclid(10) + (d * 2) % 10
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_card_number_inside_text_or_json_is_found_and_masked() {
        let cell = r#"{"note":"card 4111 1111 1111 1111, call back","ref":"12345678901234567"}"#;
        assert!(contains_pan(cell));
        assert_eq!(
            mask_pans(cell),
            r#"{"note":"card **** **** **** 1111, call back","ref":"12345678901234567"}"#
        );
        assert!(contains_pan("4111111111111111"));
        // Not card numbers: the Luhn check fails, too few digits, a UUID, a date.
        for other in [
            "4111111111111112",
            "41111111111111",
            "5d3b8c4e-1f6a-4ead-89b7-2a4f3e5d6c7b",
            "2029-02-15T23:59:59+08:00",
        ] {
            assert!(!contains_pan(other), "{other}");
            assert_eq!(mask_pans(other), other);
        }
    }

    #[test]
    fn an_alchemy_pay_create_card_callback_keeps_only_the_last_four() {
        let mut callback = json!({
            "eventType": "CREATE_CARD",
            "data": {
                "orderNo": "cb1", "cardId": "c_9",
                "number": "4242424242424242", "cvc": "123",
                "expiryDate": "12/29", "expiryMonth": "12"
            }
        });
        scrub_card_data(&mut callback);
        let text = callback.to_string();
        assert_eq!(callback["data"]["number"], "************4242");
        assert_eq!(callback["data"]["cvc"], REDACTED);
        assert_eq!(callback["data"]["expiryDate"], REDACTED);
        assert_eq!(callback["data"]["cardId"], "c_9");
        assert!(
            !text.contains("4242424242424242") && !text.contains("\"123\""),
            "{text}"
        );
    }

    #[test]
    fn a_card_number_under_an_unknown_name_is_masked_by_its_shape() {
        let mut body = json!({"items": [{"whatever": "5555 5555 5555 4444"}],
            "id": "1234567890123456", "at": "1732950000007"});
        scrub_card_data(&mut body);
        assert_eq!(body["items"][0]["whatever"], "************4444");
        // Not a Luhn-valid card number, and a (Luhn-valid) millisecond timestamp: they stay.
        assert_eq!(body["id"], "1234567890123456");
        assert_eq!(body["at"], "1732950000007");
    }

    #[test]
    fn secrets_are_recognised_in_any_naming_style() {
        let mut body = json!({"card_number": "4111111111111111", "CVV2": "999", "exp-year": "2029",
            "pin": 1234, "cardholder": {"pan": 4111111111111111u64}});
        scrub_card_data(&mut body);
        assert_eq!(body["card_number"], "************1111");
        assert_eq!(body["CVV2"], REDACTED);
        assert_eq!(body["exp-year"], REDACTED);
        assert_eq!(body["pin"], REDACTED);
        assert_eq!(body["cardholder"]["pan"], "************1111");
    }
}
