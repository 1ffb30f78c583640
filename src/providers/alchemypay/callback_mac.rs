//! Alchemy Pay's creation callbacks are unsigned (spec §5.1), and an `orderNo` is no secret (it
//! is in exports and logs): anyone who knows one could fail a live card with a forged
//! `CREATE_CARD_FAIL`. So the `callbackUrl` of every create carries a per-order tag, an HMAC of
//! the `orderNo` under the profile's secret key, and a callback is accepted only on the URL made
//! for its own `orderNo`. Only Alchemy Pay (which receives the URL in the signed create) and
//! cardbatch know it.

use hmac::{Hmac, Mac};

/// The tag that ends the callback URL of `order_no`: 128 bits of HMAC-SHA256, hex.
pub fn callback_tag(secret: &str, order_no: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"cardbatch callback\n");
    mac.update(order_no.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// True when `tag` is the callback tag of `order_no` under `secret` (compared in constant time).
pub fn callback_tag_matches(secret: &str, order_no: &str, tag: &str) -> bool {
    let Ok(given) = hex::decode(tag) else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"cardbatch callback\n");
    mac.update(order_no.as_bytes());
    given.len() == 16 && mac.verify_truncated_left(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_opens_the_callback_url_of_its_own_order_only() {
        let tag = callback_tag("secret", "cb1");
        assert_eq!(tag.len(), 32);
        assert!(callback_tag_matches("secret", "cb1", &tag));
        assert!(!callback_tag_matches("secret", "cb2", &tag));
        assert!(!callback_tag_matches("other", "cb1", &tag));
        assert!(!callback_tag_matches("secret", "cb1", &tag[..30]));
        assert!(!callback_tag_matches("secret", "cb1", "not hex"));
    }
}
