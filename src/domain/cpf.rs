//! CPF, the Brazilian individual taxpayer number: 11 digits, the last two are check digits.

use super::masking;

/// A CPF with valid check digits, held as its 11 digits (punctuation removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpf(String);

impl Cpf {
    /// Parses `123.456.789-09` or `12345678909`. Dots, a dash and spaces are accepted because
    /// spreadsheets and people write CPFs that way; the result is digits only, as the providers
    /// want it. A reason is returned in plain words, never with the number in full.
    pub fn parse(s: &str) -> Result<Cpf, String> {
        let digits = super::text::digits_ignoring(s, b".- ").ok_or_else(|| {
            "must be a CPF: 11 digits, optionally written as 123.456.789-09".to_string()
        })?;
        // A bare number a few digits short is what a spreadsheet leaves of a CPF with leading
        // zeros: padded back, it is accepted only if its check digits then hold.
        let (digits, padded_note) = super::text::document_digits(s, digits, 9, 11);
        if digits.len() != 11 {
            return Err(format!(
                "must be a CPF of 11 digits, found {}",
                digits.len()
            ));
        }
        let d = digits.as_bytes();
        if d.iter().all(|&c| c == d[0]) {
            return Err("is not a valid CPF (all digits equal)".to_string());
        }
        if check_digit(&d[..9]) != d[9] - b'0' || check_digit(&d[..10]) != d[10] - b'0' {
            return Err(format!(
                "CPF {} has wrong check digits{padded_note}",
                masking::mask_cpf(&digits)
            ));
        }
        Ok(Cpf(digits))
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the CPF, returning its 11 digits.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The masked form for logs and messages: `***.456.789-**`.
    pub fn masked(&self) -> String {
        masking::mask_cpf(&self.0)
    }

    /// Appends check digits to 9 base digits: used by the example generator and tests to make
    /// valid CPFs rather than copying real people's numbers.
    pub fn from_base(base: [u8; 9]) -> Cpf {
        let mut d: Vec<u8> = base.iter().map(|b| b % 10 + b'0').collect();
        d.push(check_digit(&d) + b'0');
        d.push(check_digit(&d) + b'0');
        Cpf(String::from_utf8(d).expect("ASCII digits"))
    }
}

/// The mod-11 check digit over `digits` with weights counting down to 2.
fn check_digit(digits: &[u8]) -> u8 {
    let n = digits.len() as u32 + 1;
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, &c)| u32::from(c - b'0') * (n - i as u32))
        .sum();
    let r = (sum * 10) % 11;
    if r == 10 { 0 } else { r as u8 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpf_with_valid_check_digits_is_accepted_with_or_without_punctuation() {
        assert_eq!(
            Cpf::parse("529.982.247-25").unwrap().as_str(),
            "52998224725"
        );
        assert_eq!(Cpf::parse("52998224725").unwrap().as_str(), "52998224725");
        assert_eq!(
            Cpf::parse("123.456.789-09").unwrap().as_str(),
            "12345678909"
        );
    }

    #[test]
    fn a_cpf_with_a_wrong_check_digit_is_rejected_and_masked_in_the_reason() {
        let err = Cpf::parse("529.982.247-24").unwrap_err();
        assert!(err.contains("check digits"), "{err}");
        assert!(!err.contains("52998224724"), "{err}");
        assert!(err.contains("***.982.247-**"), "{err}");
        assert!(Cpf::parse("12345678900").is_err());
    }

    #[test]
    fn a_cpf_whose_leading_zeros_a_spreadsheet_dropped_is_read_with_them() {
        let cpf = Cpf::from_base([0, 0, 1, 2, 3, 4, 5, 6, 7]);
        let bare = cpf.as_str().trim_start_matches('0');
        assert_eq!(bare.len(), 9);
        assert_eq!(Cpf::parse(bare).unwrap(), cpf);
        assert_eq!(Cpf::parse(&cpf.as_str()[1..]).unwrap(), cpf);
        // Padded, the check digits must still hold; the reason says what was read.
        let wrong = format!(
            "{}{}",
            &bare[..bare.len() - 1],
            (bare.as_bytes()[8] - b'0' + 1) % 10
        );
        let err = Cpf::parse(&wrong).unwrap_err();
        assert!(
            err.contains("wrong check digits (the cell has 9 digits"),
            "{err}"
        );
    }

    #[test]
    fn a_cpf_of_repeated_digits_is_rejected_even_though_its_check_digits_add_up() {
        assert!(
            Cpf::parse("111.111.111-11")
                .unwrap_err()
                .contains("all digits equal")
        );
    }

    #[test]
    fn a_cpf_of_the_wrong_length_or_with_letters_is_rejected() {
        assert!(
            Cpf::parse("529.982.247-2")
                .unwrap_err()
                .contains("found 10")
        );
        assert!(Cpf::parse("5299822").unwrap_err().contains("found 7"));
        assert!(Cpf::parse("529982247255").is_err());
        assert!(Cpf::parse("52998224a25").is_err());
        assert!(Cpf::parse("").is_err());
    }

    #[test]
    fn a_cpf_built_from_a_base_passes_its_own_check() {
        for base in [
            [1, 2, 3, 4, 5, 6, 7, 8, 9],
            [0, 0, 0, 0, 0, 0, 0, 0, 1],
            [9, 8, 7, 6, 5, 4, 3, 2, 1],
        ] {
            let cpf = Cpf::from_base(base);
            assert_eq!(Cpf::parse(cpf.as_str()), Ok(cpf));
        }
    }
}
