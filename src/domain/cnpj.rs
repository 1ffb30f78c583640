//! CNPJ, the Brazilian company registration number: 14 digits, the last two are check digits.

use super::masking;

/// A CNPJ with valid check digits, held as its 14 digits (punctuation removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cnpj(String);

const WEIGHTS: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];

impl Cnpj {
    /// Parses `11.222.333/0001-81` or `11222333000181`; dots, slash, dash and spaces are
    /// accepted and removed.
    pub fn parse(s: &str) -> Result<Cnpj, String> {
        let digits = super::text::digits_ignoring(s, b"./- ").ok_or_else(|| {
            "must be a CNPJ: 14 digits, optionally written as 11.222.333/0001-81".to_string()
        })?;
        // A bare number a few digits short is what a spreadsheet leaves of a CNPJ with leading
        // zeros: padded back, it is accepted only if its check digits then hold.
        let (digits, padded_note) = super::text::document_digits(s, digits, 12, 14);
        if digits.len() != 14 {
            return Err(format!(
                "must be a CNPJ of 14 digits, found {}",
                digits.len()
            ));
        }
        let d = digits.as_bytes();
        if d.iter().all(|&c| c == d[0]) {
            return Err("is not a valid CNPJ (all digits equal)".to_string());
        }
        if check_digit(&d[..12]) != d[12] - b'0' || check_digit(&d[..13]) != d[13] - b'0' {
            return Err(format!(
                "CNPJ {} has wrong check digits{padded_note}",
                masking::mask_cnpj(&digits)
            ));
        }
        Ok(Cnpj(digits))
    }

    /// The 14 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the CNPJ, returning its 14 digits.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Appends check digits to 12 base digits (8 of the company, 4 of the branch).
    pub fn from_base(base: [u8; 12]) -> Cnpj {
        let mut d: Vec<u8> = base.iter().map(|b| b % 10 + b'0').collect();
        d.push(check_digit(&d) + b'0');
        d.push(check_digit(&d) + b'0');
        Cnpj(String::from_utf8(d).expect("ASCII digits"))
    }
}

/// The mod-11 check digit: weights 2..9 repeating from the right.
fn check_digit(digits: &[u8]) -> u8 {
    let weights = &WEIGHTS[WEIGHTS.len() - digits.len()..];
    let sum: u32 = digits
        .iter()
        .zip(weights)
        .map(|(&c, &w)| u32::from(c - b'0') * w)
        .sum();
    let r = sum % 11;
    if r < 2 { 0 } else { (11 - r) as u8 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cnpj_whose_leading_zero_a_spreadsheet_dropped_is_read_with_it() {
        // 04.252.011/0001-10, a valid CNPJ with a leading zero, as a number cell leaves it.
        assert_eq!(
            Cnpj::parse("4252011000110").unwrap().as_str(),
            "04252011000110"
        );
        assert!(
            Cnpj::parse("4252011000111")
                .unwrap_err()
                .contains("the cell has 13 digits")
        );
    }

    #[test]
    fn a_cnpj_with_valid_check_digits_is_accepted_with_or_without_punctuation() {
        assert_eq!(
            Cnpj::parse("11.222.333/0001-81").unwrap().as_str(),
            "11222333000181"
        );
        assert_eq!(
            Cnpj::parse("11444777000161").unwrap().as_str(),
            "11444777000161"
        );
    }

    #[test]
    fn a_cnpj_with_a_wrong_check_digit_is_rejected_without_echoing_it() {
        let err = Cnpj::parse("11.222.333/0001-82").unwrap_err();
        assert!(err.contains("check digits"), "{err}");
        assert!(!err.contains("11222333000182"), "{err}");
        assert!(Cnpj::parse("11444777000171").is_err());
    }

    #[test]
    fn a_cnpj_of_the_wrong_length_or_repeated_digits_is_rejected() {
        assert!(
            Cnpj::parse("11.222.333/0001-8")
                .unwrap_err()
                .contains("found 13")
        );
        assert!(Cnpj::parse("00000000000000").is_err());
        assert!(Cnpj::parse("11.222.333/0001-8X").is_err());
    }

    #[test]
    fn a_cnpj_built_from_a_base_passes_its_own_check() {
        let cnpj = Cnpj::from_base([1, 1, 2, 2, 2, 3, 3, 3, 0, 0, 0, 1]);
        assert_eq!(cnpj.as_str(), "11222333000181");
        assert_eq!(Cnpj::parse(cnpj.as_str()), Ok(cnpj));
    }
}
