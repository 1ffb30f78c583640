//! The development key pairs, so the demo, the built-in profiles and any client work with no
//! configuration. They protect nothing: the sandbox is a fake provider, and tests that need
//! other keys configure their own.
//!
//! - The client pair: the sandbox accepts requests signed with [`DEV_CLIENT_PRIVATE_KEY_PEM`]
//!   when its config names no `client_public_key_pem`.
//! - The server pair, QI's own: the sandbox signs its answers and webhooks with
//!   [`DEV_SERVER_PRIVATE_KEY_PEM`] when its config names no `sandbox_private_key_pem`, so a
//!   client can be configured with [`DEV_SERVER_PUBLIC_KEY_PEM`] (its `qitech_public_key`)
//!   without asking the running sandbox.

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

/// The sandbox's development private key (SEC1 PEM): signs QI answers and webhooks.
pub const DEV_SERVER_PRIVATE_KEY_PEM: &str = "-----BEGIN EC PRIVATE KEY-----
MIHcAgEBBEIBfkmShGFq/Tr9Hqg2tnNaL+BKQsXlHiV5/zuRtfpUvdp31Fwd4Dd6
3AwlBQ5L2+P2OPaB65dSQp0kdStTqRs2e7CgBwYFK4EEACOhgYkDgYYABAG9xbpq
/dIw6e6ARp5y5JzoVNxwjCGxkHTeyiceFtYK1AC3iZ7dS6EoperJI25otGVhtp7R
wCXB/5uS20qFJmQohACFpym6eezPL4hHk6Q9qq0ptPN4NbeVmnGvbiLmkH9YAym2
V+5WI+VzNLl/EKfbGyoMlQS9az3CEnCaRFxgPjHSDg==
-----END EC PRIVATE KEY-----
";

/// The public half of [`DEV_SERVER_PRIVATE_KEY_PEM`] (SPKI PEM): what a client verifies the
/// sandbox's answers and webhooks with.
pub const DEV_SERVER_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQBvcW6av3SMOnugEaecuSc6FTccIwh
sZB03sonHhbWCtQAt4me3UuhKKXqySNuaLRlYbae0cAlwf+bkttKhSZkKIQAhacp
unnszy+IR5OkPaqtKbTzeDW3lZpxr24i5pB/WAMptlfuViPlczS5fxCn2xsqDJUE
vWs9whJwmkRcYD4x0g4=
-----END PUBLIC KEY-----
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qitech::jws;
    use p521::ecdsa::VerifyingKey;

    #[test]
    fn each_dev_public_key_is_the_public_half_of_its_private_key() {
        for (private, public) in [
            (DEV_CLIENT_PRIVATE_KEY_PEM, DEV_CLIENT_PUBLIC_KEY_PEM),
            (DEV_SERVER_PRIVATE_KEY_PEM, DEV_SERVER_PUBLIC_KEY_PEM),
        ] {
            let private = jws::signing_key_from_pem(private).unwrap();
            let public = jws::verifying_key_from_pem(public).unwrap();

            assert_eq!(
                VerifyingKey::from(&private).to_encoded_point(false),
                public.to_encoded_point(false)
            );
        }
    }
}
