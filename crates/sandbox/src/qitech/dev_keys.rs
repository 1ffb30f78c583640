//! The development client key pair: the sandbox accepts requests signed with this private key
//! when its config names no client public key, so the demo and the built-in profiles work out of
//! the box. It protects nothing: the sandbox is a fake provider, and tests configure their own.

/// The development client private key (SEC1 PEM, as `openssl ecparam -genkey` writes it).
pub const DEV_CLIENT_PRIVATE_KEY_PEM: &str = "-----BEGIN EC PRIVATE KEY-----
MIHcAgEBBEIAK+7Wno+JAVoUfxj7g7OE5K3XPiE/brug08uUdaQB/g86jxk8FKBa
DHeoOBzrm04v7XW8t0frWK8Qhu5v0epULFygBwYFK4EEACOhgYkDgYYABAGWS788
xxn5eRZv7GvMw9YPTcpIxZP15s1Po9ByyZD8w2XKjvczDy3/VE2x3CF6flOvBBiZ
cRu+YhhHQOuhMOCVaQHOHfHHJplfHo3YuthQ0XxFXluC5kEDKxFrs9qBhsQf9f1b
GTjudNWf7NHyFos73dOIWeG1CA4T22P1O82l5V4fOQ==
-----END EC PRIVATE KEY-----
";

/// The public half of [`DEV_CLIENT_PRIVATE_KEY_PEM`] (SPKI PEM).
pub const DEV_CLIENT_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQBlku/PMcZ+XkWb+xrzMPWD03KSMWT
9ebNT6PQcsmQ/MNlyo73Mw8t/1RNsdwhen5TrwQYmXEbvmIYR0DroTDglWkBzh3x
xyaZXx6N2LrYUNF8RV5bguZBAysRa7PagYbEH/X9Wxk47nTVn+zR8haLO93TiFnh
tQgOE9tj9TvNpeVeHzk=
-----END PUBLIC KEY-----
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qitech::jws;
    use p521::ecdsa::VerifyingKey;

    #[test]
    fn the_dev_public_key_is_the_public_half_of_the_dev_private_key() {
        let private = jws::signing_key_from_pem(DEV_CLIENT_PRIVATE_KEY_PEM).unwrap();
        let public = jws::verifying_key_from_pem(DEV_CLIENT_PUBLIC_KEY_PEM).unwrap();

        assert_eq!(
            VerifyingKey::from(&private).to_encoded_point(false),
            public.to_encoded_point(false)
        );
    }
}
