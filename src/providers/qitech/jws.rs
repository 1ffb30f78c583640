//! ES512 compact JSON Web Signatures, as QI Tech signs every request, answer and webhook:
//! header `{"alg":"ES512","typ":"JWT"}`, base64url without padding, and a signature that is the
//! raw `r‖s` pair of P-521 (66 bytes each, 132 in all, RFC 7518 §3.4), not DER.
//!
//! This is the client's own implementation; the sandbox has another, and both are pinned to the
//! same wire rules by tests, so a mistake shared by the two cannot pass unnoticed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p521::ecdsa::signature::{Signer, Verifier};
use p521::ecdsa::{Signature, SigningKey, VerifyingKey};
use p521::pkcs8::{DecodePrivateKey, DecodePublicKey};
use serde_json::Value;

/// The protected header of every QI token, already base64url-encoded
/// (`{"alg":"ES512","typ":"JWT"}`).
const HEADER_B64: &str = "eyJhbGciOiJFUzUxMiIsInR5cCI6IkpXVCJ9";

/// Length of an ES512 signature: `r` and `s`, 66 bytes each.
const SIGNATURE_LEN: usize = 132;

/// Why a key or a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    /// The PEM text is not a P-521 key of the expected kind.
    #[error("not a P-521 {kind} key in PEM: {detail}")]
    Key {
        /// `private` or `public`.
        kind: &'static str,
        /// The parser's complaint.
        detail: String,
    },
    /// The token is not three base64url segments, or its header is not ES512.
    #[error("not an ES512 compact JWS")]
    Malformed,
    /// The signature does not verify with the key.
    #[error("the ES512 signature does not verify")]
    Signature,
    /// The claims segment is not JSON.
    #[error("the token claims are not JSON")]
    Claims,
}

/// Reads the client's P-521 private key: SEC1 (`EC PRIVATE KEY`, what `openssl ecparam -genkey`
/// writes, as QI's key-exchange guide does) or PKCS#8 (`PRIVATE KEY`).
pub fn private_key_from_pem(pem: &str) -> Result<SigningKey, JwsError> {
    let key_err = |e: &dyn std::fmt::Display| JwsError::Key {
        kind: "private",
        detail: e.to_string(),
    };
    let secret = if pem.contains("BEGIN EC PRIVATE KEY") {
        p521::SecretKey::from_sec1_pem(pem).map_err(|e| key_err(&e))?
    } else {
        p521::SecretKey::from_pkcs8_pem(pem).map_err(|e| key_err(&e))?
    };
    SigningKey::from_bytes(&secret.to_bytes()).map_err(|e| key_err(&e))
}

/// Reads QI's P-521 public key (SPKI PEM, `PUBLIC KEY`).
pub fn public_key_from_pem(pem: &str) -> Result<VerifyingKey, JwsError> {
    let key_err = |e: &dyn std::fmt::Display| JwsError::Key {
        kind: "public",
        detail: e.to_string(),
    };
    let public = p521::PublicKey::from_public_key_pem(pem).map_err(|e| key_err(&e))?;
    VerifyingKey::from_sec1_bytes(&public.to_sec1_bytes()).map_err(|e| key_err(&e))
}

/// Signs `claims` (serialised JSON bytes) into a compact ES512 JWS.
pub fn sign(key: &SigningKey, claims: &[u8]) -> String {
    let mut token = String::with_capacity(HEADER_B64.len() + claims.len() * 4 / 3 + 180);
    token.push_str(HEADER_B64);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut token);
    // P-521 ECDSA with SHA-512 and RFC 6979 nonces; `to_bytes` is the fixed-size `r‖s`.
    let signature: Signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
    token
}

/// Verifies a compact ES512 JWS with `key` and returns its claims.
pub fn verify(key: &VerifyingKey, token: &str) -> Result<Value, JwsError> {
    let (input, signature) = split_signature(token)?;
    let raw = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwsError::Malformed)?;
    if raw.len() != SIGNATURE_LEN {
        return Err(JwsError::Signature);
    }
    let signature = Signature::from_slice(&raw).map_err(|_| JwsError::Signature)?;
    key.verify(input.as_bytes(), &signature)
        .map_err(|_| JwsError::Signature)?;
    claims(token)
}

/// The claims of a compact ES512 JWS, without checking its signature (used when the profile
/// configures no QI public key: the answer is then trusted as the transport delivered it).
pub fn claims(token: &str) -> Result<Value, JwsError> {
    let (input, _) = split_signature(token)?;
    let (header, payload) = input.split_once('.').ok_or(JwsError::Malformed)?;
    let header: Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or(JwsError::Malformed)?;
    // Anything but ES512 is refused, which closes the classic `alg: none` hole.
    if header.get("alg").and_then(Value::as_str) != Some("ES512") {
        return Err(JwsError::Malformed);
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| JwsError::Malformed)?;
    serde_json::from_slice(&payload).map_err(|_| JwsError::Claims)
}

/// `(signing input, signature segment)` of a three-segment token.
fn split_signature(token: &str) -> Result<(&str, &str), JwsError> {
    let token = token.trim();
    let (input, signature) = token.rsplit_once('.').ok_or(JwsError::Malformed)?;
    if input.matches('.').count() != 1 {
        return Err(JwsError::Malformed);
    }
    Ok((input, signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::qitech::{DEV_CLIENT_PRIVATE_KEY_PEM, DEV_CLIENT_PUBLIC_KEY_PEM};
    use openssl::bn::BigNum;
    use openssl::ec::EcKey;
    use openssl::ecdsa::EcdsaSig;

    /// Checks a token with openssl, an implementation independent of ours.
    fn openssl_verifies(public_pem: &str, token: &str) -> bool {
        let key = EcKey::public_key_from_pem(public_pem.as_bytes()).unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
        assert_eq!(raw.len(), 132, "raw r‖s, not DER");
        let sig = EcdsaSig::from_private_components(
            BigNum::from_slice(&raw[..66]).unwrap(),
            BigNum::from_slice(&raw[66..]).unwrap(),
        )
        .unwrap();
        sig.verify(&openssl::sha::sha512(input.as_bytes()), &key)
            .unwrap()
    }

    #[test]
    fn the_header_constant_is_the_documented_es512_header() {
        assert_eq!(
            URL_SAFE_NO_PAD.decode(HEADER_B64).unwrap(),
            br#"{"alg":"ES512","typ":"JWT"}"#
        );
    }

    #[test]
    fn a_token_signed_here_verifies_with_openssl_and_carries_the_claims() {
        // Arrange
        let key = private_key_from_pem(DEV_CLIENT_PRIVATE_KEY_PEM).unwrap();

        // Act
        let token = sign(&key, br#"{"sub":"k","signature":"GET\n\n\nd\n/p"}"#);

        // Assert
        assert!(openssl_verifies(DEV_CLIENT_PUBLIC_KEY_PEM, &token));
        let public = public_key_from_pem(DEV_CLIENT_PUBLIC_KEY_PEM).unwrap();
        assert_eq!(verify(&public, &token).unwrap()["sub"], "k");
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let key = private_key_from_pem(DEV_CLIENT_PRIVATE_KEY_PEM).unwrap();
        let public = public_key_from_pem(DEV_CLIENT_PUBLIC_KEY_PEM).unwrap();
        let token = sign(&key, br#"{"amount":1}"#);
        let (_, sig) = token.rsplit_once('.').unwrap();
        let forged = format!(
            "{HEADER_B64}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(br#"{"amount":9}"#)
        );

        assert_eq!(verify(&public, &forged), Err(JwsError::Signature));
        assert_eq!(
            claims(&forged).unwrap()["amount"],
            9,
            "claims alone do not verify"
        );
    }

    #[test]
    fn a_token_with_another_algorithm_is_refused() {
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(b"{}")
        );
        assert_eq!(claims(&none), Err(JwsError::Malformed));
    }

    #[test]
    fn a_public_key_is_not_accepted_as_the_private_key() {
        let err = private_key_from_pem(DEV_CLIENT_PUBLIC_KEY_PEM)
            .err()
            .unwrap();
        assert!(
            matches!(
                err,
                JwsError::Key {
                    kind: "private",
                    ..
                }
            ),
            "{err}"
        );
    }
}
