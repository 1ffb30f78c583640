//! A card's secret data as a provider serves it to a PCI-compliant client (UQPAY's secure read,
//! QI Tech's PCI read): test values derived from the card's id on each read, never stored and
//! never logged. The number starts with the given BIN, ends with the card's last four digits
//! (so it matches the mask the provider shows everywhere else) and passes the Luhn check.

use sha2::{Digest, Sha256};

/// Length of the numbers made.
const PAN_LEN: usize = 16;

/// A card's number and security code.
pub struct TestCardData {
    /// 16 digits, Luhn-valid.
    pub number: String,
    /// 3 digits.
    pub cvv: String,
}

impl TestCardData {
    /// The data of the card `card_id`, whose number starts with `bin` and ends with `last4`.
    pub fn derive(card_id: &str, bin: &str, last4: &str) -> TestCardData {
        let mut number: Vec<u8> = bin.bytes().map(|b| b - b'0').collect();
        number.truncate(PAN_LEN - 5);
        let fill = PAN_LEN - 5 - number.len();
        number.extend(digits(card_id, "pan").take(fill));
        number.push(0);
        number.extend(last4.bytes().map(|b| b - b'0'));
        // Position 11 of 16 is not doubled by Luhn, so it adds itself to the sum.
        let sum = luhn_sum(&number);
        number[PAN_LEN - 5] = u8::try_from((10 - sum % 10) % 10).expect("a digit");
        TestCardData {
            number: number.into_iter().map(|d| char::from(b'0' + d)).collect(),
            cvv: digits(card_id, "cvv")
                .take(3)
                .map(|d| char::from(b'0' + d))
                .collect(),
        }
    }
}

/// The digit that makes `payload` followed by it pass the Luhn check.
pub fn luhn_check_digit(payload: &str) -> char {
    let mut digits: Vec<u8> = payload.bytes().map(|b| b - b'0').collect();
    // The check digit itself is not doubled: with 0 in its place, it must bring the sum to a
    // multiple of ten.
    digits.push(0);
    char::from(b'0' + u8::try_from((10 - luhn_sum(&digits) % 10) % 10).expect("a digit"))
}

/// Decimal digits drawn from the card id's SHA-256.
fn digits(card_id: &str, salt: &str) -> impl Iterator<Item = u8> {
    Sha256::digest(format!("{salt}:{card_id}"))
        .into_iter()
        .map(|b| b % 10)
        .collect::<Vec<_>>()
        .into_iter()
}

/// The Luhn sum of `number` (its last digit the check digit).
fn luhn_sum(number: &[u8]) -> u32 {
    number
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            match (i % 2 == 1, d * 2) {
                (true, doubled) if doubled > 9 => doubled - 9,
                (true, doubled) => doubled,
                (false, _) => d,
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits_of(s: &str) -> Vec<u8> {
        s.bytes().map(|b| b - b'0').collect()
    }

    #[test]
    fn the_luhn_sum_of_known_test_numbers_is_a_multiple_of_ten_and_a_changed_digit_is_not() {
        assert_eq!(luhn_sum(&digits_of("4000009990000096")) % 10, 0);
        assert_eq!(luhn_sum(&digits_of("4111111111111111")) % 10, 0);
        assert_ne!(luhn_sum(&digits_of("4111111111111121")) % 10, 0);
    }

    #[test]
    fn a_number_keeps_its_bin_and_last_four_passes_luhn_and_is_the_same_every_time() {
        for (bin, last4) in [("40963608", "1764"), ("527735", "0001"), ("4", "9999")] {
            let card = TestCardData::derive("card-1", bin, last4);
            assert_eq!(card.number.len(), 16);
            assert!(card.number.starts_with(bin) && card.number.ends_with(last4));
            assert_eq!(luhn_sum(&digits_of(&card.number)) % 10, 0, "{bin}");
            assert_eq!(card.cvv.len(), 3);
            assert_eq!(
                TestCardData::derive("card-1", bin, last4).number,
                card.number
            );
        }
        assert_ne!(
            TestCardData::derive("card-2", "4", "9999").number,
            TestCardData::derive("card-1", "4", "9999").number
        );
    }
}
