//! Money as it is written in a CSV (major units, up to two decimals, `.` or `,`) and as it is
//! held inside cardbatch (integer minor units).

use super::masking::shown;

/// The largest amount accepted, in major units digits: 15 digits keep every value far from the
/// `i64` limit while allowing any realistic card limit.
const MAX_INTEGER_DIGITS: usize = 15;

/// Parses a non-negative amount in major units into minor units (`"10.5"` -> `1050`,
/// `"1234,56"` -> `123456`, `"7"` -> `700`).
///
/// One separator, `.` or `,`, followed by one or two digits, is the decimal separator. Anything
/// that could be a thousands separator is refused rather than guessed: `"1.234"` is refused
/// (at most two decimals), and so are `"1.234,56"` and `"1 234"`.
pub fn parse_amount_minor(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Err("is empty; expected an amount such as 150.00".to_string());
    }
    if s.starts_with('-') {
        return Err(format!(
            "{} is negative; expected an amount of 0 or more",
            shown(s)
        ));
    }
    let bytes = s.as_bytes();
    let sep_count = bytes.iter().filter(|&&b| b == b'.' || b == b',').count();
    if sep_count > 1 {
        return Err(format!(
            "{} has more than one separator; thousands separators are not allowed, write 1234.56",
            shown(s)
        ));
    }
    let (int, frac) = match s.find(['.', ',']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{} is not an amount; expected digits with up to two decimals, e.g. 150.00 or 150,00",
            shown(s)
        ));
    }
    if sep_count == 1 && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!(
            "{} is not an amount; expected digits with up to two decimals, e.g. 150.00 or 150,00",
            shown(s)
        ));
    }
    if frac.len() > 2 {
        return Err(format!(
            "{} has {} decimals: at most two decimals are allowed (and no thousands separators)",
            shown(s),
            frac.len()
        ));
    }
    if int.len() > MAX_INTEGER_DIGITS {
        return Err(format!("{} is too large", shown(s)));
    }
    let mut minor: i64 = 0;
    for b in int.bytes() {
        minor = minor * 10 + i64::from(b - b'0');
    }
    let mut cents = 0;
    for (i, b) in frac.bytes().enumerate() {
        cents += i64::from(b - b'0') * if i == 0 { 10 } else { 1 };
    }
    Ok(minor * 100 + cents)
}

/// Formats minor units as major units with two decimals and a `.` (`1050` -> `"10.50"`).
pub fn format_minor(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_with_a_dot_or_a_comma_become_minor_units() {
        assert_eq!(parse_amount_minor("10.50"), Ok(1050));
        assert_eq!(parse_amount_minor("10,50"), Ok(1050));
        assert_eq!(parse_amount_minor("10.5"), Ok(1050));
        assert_eq!(parse_amount_minor("10,05"), Ok(1005));
        assert_eq!(parse_amount_minor("2000"), Ok(200_000));
        assert_eq!(parse_amount_minor("0.01"), Ok(1));
        assert_eq!(parse_amount_minor("0"), Ok(0));
    }

    #[test]
    fn three_decimals_are_refused_because_they_may_be_a_thousands_separator() {
        let err = parse_amount_minor("1.234").unwrap_err();
        assert!(err.contains("at most two decimals"), "{err}");
        assert!(
            parse_amount_minor("1,234")
                .unwrap_err()
                .contains("at most two decimals")
        );
    }

    #[test]
    fn thousands_separators_are_refused() {
        for s in ["1.234,56", "1,234.56", "1.234.567"] {
            let err = parse_amount_minor(s).unwrap_err();
            assert!(err.contains("thousands separators"), "{s}: {err}");
        }
        assert!(parse_amount_minor("1 234").is_err());
    }

    #[test]
    fn malformed_and_negative_amounts_are_refused() {
        for s in ["", "-5", "abc", "10.", ".5", "1e3", "+5", "10.a", "R$10"] {
            assert!(parse_amount_minor(s).is_err(), "{s} should be refused");
        }
        assert!(
            parse_amount_minor("1234567890123456")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn minor_units_format_back_to_two_decimals() {
        assert_eq!(format_minor(1050), "10.50");
        assert_eq!(format_minor(7), "0.07");
        assert_eq!(format_minor(-250), "-2.50");
    }
}
