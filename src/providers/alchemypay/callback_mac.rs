//! Alchemy Pay's creation callbacks are unsigned (spec §5.1), and an `orderNo` is no secret (it
//! is in exports and logs): anyone who knows one could fail a live card with a forged
//! `CREATE_CARD_FAIL`. So the `callbackUrl` of every create carries a per-order tag, an HMAC of
//! the `orderNo` under the profile's secret key, and a callback is accepted only on the URL made
//! for its own `orderNo`. Only Alchemy Pay (which receives the URL in the signed create) and
//! cardbatch know it.

use hmac::{Hmac, Mac};

/// Bytes of the HMAC a tag keeps.
const TAG_BYTES: usize = 16;

/// The HMAC behind the tag of `order_no`.
fn mac(secret: &str, order_no: &str) -> Hmac<sha2::Sha256> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"cardbatch callback\n");
    mac.update(order_no.as_bytes());
    mac
}

/// The tag that ends the callback URL of `order_no`: 128 bits of HMAC-SHA256, hex.
pub fn callback_tag(secret: &str, order_no: &str) -> String {
    hex::encode(&mac(secret, order_no).finalize().into_bytes()[..TAG_BYTES])
}

/// True when `tag` is the callback tag of `order_no` under `secret` (compared in constant time).
pub fn callback_tag_matches(secret: &str, order_no: &str, tag: &str) -> bool {
    let Ok(given) = hex::decode(tag) else {
        return false;
    };
    given.len() == TAG_BYTES && mac(secret, order_no).verify_truncated_left(&given).is_ok()
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
