//! The card data Alchemy Pay hands the merchant: v1's `CREATE_CARD` callback and card info carry
//! the full card `number`, its `cvc` and expiry (spec §5.1, §6), so the sandbox sends realistic
//! test values rather than masks, and a client's scrubbing is tested against what the provider
//! really sends. The values stay in memory; nothing here is logged ([`CardSecrets`]'s `Debug`
//! shows the last four digits only).

use crate::core::luhn_check_digit;
use rand::Rng;
use std::fmt;

/// The documented example card is `4000009990000096`: the sandbox issues from that test range.
const TEST_RANGE: &str = "400000999";

/// Length of the issued numbers.
const PAN_LEN: usize = 16;

/// A card's number and security code.
#[derive(Clone, PartialEq, Eq)]
pub struct CardSecrets {
    /// 16 digits, Luhn-valid, in the documented example's test range.
    pub number: String,
    /// 3 digits.
    pub cvc: String,
}

impl CardSecrets {
    /// A fresh test card.
    pub fn generate(rng: &mut impl Rng) -> CardSecrets {
        let mut digits: String = TEST_RANGE.to_string();
        while digits.len() < PAN_LEN - 1 {
            digits.push(char::from(b'0' + rng.random_range(0..10u8)));
        }
        digits.push(luhn_check_digit(&digits));
        CardSecrets {
            number: digits,
            cvc: format!("{:03}", rng.random_range(0..1000u16)),
        }
    }

    /// The last four digits, the only part that may be shown anywhere.
    pub fn last4(&self) -> String {
        self.number[self.number.len() - 4..].to_string()
    }
}

impl fmt::Debug for CardSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardSecrets(…{})", self.last4())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luhn_valid(number: &str) -> bool {
        let (payload, check) = number.split_at(number.len() - 1);
        luhn_check_digit(payload).to_string() == check
    }

    #[test]
    fn the_documented_example_numbers_pass_the_luhn_check_and_a_changed_digit_fails() {
        assert!(luhn_valid("4000009990000096"));
        assert!(luhn_valid("4242424242424242"));
        assert!(!luhn_valid("4000009990000097"));
    }

    #[test]
    fn generated_cards_are_luhn_valid_test_numbers_with_a_three_digit_cvc() {
        let mut rng = rand::rng();
        for _ in 0..200 {
            let card = CardSecrets::generate(&mut rng);
            assert_eq!(card.number.len(), PAN_LEN);
            assert!(card.number.starts_with(TEST_RANGE));
            assert!(luhn_valid(&card.number), "{}", card.number);
            assert!(card.cvc.len() == 3 && card.cvc.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn debug_shows_the_last_four_digits_only() {
        let card = CardSecrets {
            number: "4000009990000096".into(),
            cvc: "123".into(),
        };
        assert_eq!(format!("{card:?}"), "CardSecrets(…0096)");
    }
}
