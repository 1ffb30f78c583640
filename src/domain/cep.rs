//! CEP, the Brazilian postal code: 8 digits.

use super::masking;

/// A CEP held as its 8 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cep(String);

impl Cep {
    /// Parses `01310-100`, `01.310-100` or `01310100`; the result is digits only, as the
    /// providers want it.
    pub fn parse(s: &str) -> Result<Cep, String> {
        let digits = super::text::digits_ignoring(s, b".- ")
            .filter(|d| d.len() == 8)
            .ok_or_else(|| {
                // Not padded: a CEP has no check digit, and a card sent to a guessed address
                // is lost.
                let hint = super::text::restore_leading_zeros(s, 7, 8)
                    .map(|_| format!(" ({})", super::text::LEADING_ZEROS_HINT))
                    .unwrap_or_default();
                format!(
                    "{} is not a CEP: expected 8 digits, e.g. 01310-100{hint}",
                    masking::shown_masked(s)
                )
            })?;
        if digits == "00000000" {
            return Err("`00000000` is not a CEP".to_string());
        }
        Ok(Cep(digits))
    }

    /// The 8 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the CEP, returning its 8 digits.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cep_a_spreadsheet_cut_to_seven_digits_is_refused_with_the_reason() {
        let err = Cep::parse("1310100").unwrap_err();
        assert!(err.contains("format the column as text"), "{err}");
        assert!(
            !Cep::parse("131010")
                .unwrap_err()
                .contains("format the column")
        );
    }

    #[test]
    fn a_cep_is_accepted_with_or_without_its_dash_and_normalised_to_digits() {
        assert_eq!(Cep::parse("01310-100").unwrap().as_str(), "01310100");
        assert_eq!(Cep::parse("01.310-100").unwrap().as_str(), "01310100");
        assert_eq!(Cep::parse("20040002").unwrap().as_str(), "20040002");
    }

    #[test]
    fn a_cep_of_the_wrong_length_or_with_letters_is_rejected() {
        assert!(Cep::parse("0131010").unwrap_err().contains("8 digits"));
        assert!(Cep::parse("013101000").is_err());
        assert!(Cep::parse("0131O100").is_err());
        assert!(Cep::parse("00000-000").is_err());
    }
}
