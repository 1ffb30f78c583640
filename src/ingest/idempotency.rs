//! The idempotency key of each order, made once here at ingest and stored with the order, so
//! every attempt the workers make sends the same one.

use crate::domain::ProviderKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Makes keys from a cryptographically secure generator seeded once from the OS, so a million
/// rows cost a million cheap draws instead of a million `getrandom` system calls.
pub(crate) struct KeyMaker {
    rng: StdRng,
}

impl KeyMaker {
    pub fn new() -> KeyMaker {
        KeyMaker {
            rng: StdRng::from_os_rng(),
        }
    }

    /// The key for one order of `provider`:
    /// - UQPAY `x-idempotency-key`, QI postpaid `request_control_key`: a random UUID v4;
    /// - Alchemy Pay `orderNo`: `cb` + the 32 lower-case hex digits of a random UUID v4;
    /// - QI prepaid `card_name` (the endpoint has no key; a unique name lets a lost answer be
    ///   found by listing the account's cards): `cb` + 13 base32 characters of 64 random bits,
    ///   15 characters in all, QI's maximum.
    pub fn make(&mut self, provider: ProviderKind) -> String {
        match provider {
            ProviderKind::Uqpay | ProviderKind::QitechPostpaid => {
                let mut buf = uuid::Uuid::encode_buffer();
                self.uuid_v4()
                    .hyphenated()
                    .encode_lower(&mut buf)
                    .to_string()
            }
            ProviderKind::AlchemypayVcc => {
                let mut buf = uuid::Uuid::encode_buffer();
                let hex = self.uuid_v4().simple().encode_lower(&mut buf);
                let mut key = String::with_capacity(34);
                key.push_str("cb");
                key.push_str(hex);
                key
            }
            ProviderKind::QitechPrepaid => {
                let bits: u64 = self.rng.random();
                let mut key = String::with_capacity(15);
                key.push_str("cb");
                // 13 characters of 5 bits cover 65 bits; the first one carries the top 4.
                for i in (0..13).rev() {
                    key.push(BASE32[((bits >> (i * 5)) & 31) as usize] as char);
                }
                key
            }
        }
    }

    fn uuid_v4(&mut self) -> uuid::Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn uqpay_and_qi_postpaid_keys_are_uuid_v4() {
        let mut keys = KeyMaker::new();
        for provider in [ProviderKind::Uqpay, ProviderKind::QitechPostpaid] {
            let key = keys.make(provider);
            let parsed = uuid::Uuid::parse_str(&key).unwrap();
            assert_eq!(parsed.get_version_num(), 4);
            assert_eq!(key, key.to_lowercase());
            assert_eq!(key.len(), 36);
        }
    }

    #[test]
    fn an_alchemy_order_no_is_cb_and_32_hex_digits_of_a_uuid_v4() {
        let key = KeyMaker::new().make(ProviderKind::AlchemypayVcc);
        assert_eq!(key.len(), 34);
        assert!(key.starts_with("cb"));
        let parsed = uuid::Uuid::parse_str(&key[2..]).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert!(
            key[2..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn a_qi_prepaid_card_name_is_15_characters_of_lowercase_base32() {
        let key = KeyMaker::new().make(ProviderKind::QitechPrepaid);
        assert_eq!(key.len(), 15);
        assert!(key.starts_with("cb"));
        assert!(key[2..].bytes().all(|b| BASE32.contains(&b)), "{key}");
    }

    #[test]
    fn keys_do_not_repeat() {
        let mut keys = KeyMaker::new();
        for provider in ProviderKind::ALL {
            let set: HashSet<String> = (0..10_000).map(|_| keys.make(provider)).collect();
            assert_eq!(set.len(), 10_000, "{provider}");
        }
    }
}
