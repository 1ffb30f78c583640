//! ES512 JSON Web Signatures as QI Tech uses them: header `{"alg":"ES512","typ":"JWT"}`,
//! base64url without padding, and a signature that is the raw `r‖s` pair (66 bytes each, 132 in
//! all, as RFC 7518 §3.4 requires), not DER.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p521::ecdsa::signature::{Signer, Verifier};
use p521::ecdsa::{Signature, SigningKey, VerifyingKey};
use p521::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding};
use serde_json::Value;

/// The protected header every QI token carries, serialised once.
const HEADER_JSON: &str = r#"{"alg":"ES512","typ":"JWT"}"#;

/// Length of an ES512 signature: `r` and `s`, 66 bytes each.
pub const SIGNATURE_LEN: usize = 132;

/// Why a token or a key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    /// The token is not three base64url segments separated by dots.
    #[error("the token is not a compact JWS (three base64url segments)")]
    Malformed,
    /// The protected header is not JSON or does not say ES512.
    #[error("the token header is not ES512: {0}")]
    Header(String),
    /// The signature is not 132 bytes or does not verify with the key.
    #[error("the token signature does not verify")]
    Signature,
    /// The claims segment is not JSON.
    #[error("the token claims are not JSON")]
    Claims,
    /// A PEM key could not be read.
    #[error("invalid P-521 key: {0}")]
    Key(String),
}

/// Signs `claims` with `key`, giving a compact ES512 JWS.
pub fn sign(key: &SigningKey, claims: &Value) -> String {
    let payload = serde_json::to_vec(claims).expect("a JSON value always serialises");
    sign_payload(key, &payload)
}

/// Signs raw claim bytes (already serialised JSON) with `key`.
pub fn sign_payload(key: &SigningKey, payload: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER_JSON),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature: Signature = key.sign(signing_input.as_bytes());
    // `to_bytes` is the fixed-size `r‖s` encoding, which is what JWS wants.
    let raw = signature.to_bytes();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(raw))
}

/// Verifies a compact ES512 JWS with `key` and returns its claims.
pub fn verify(key: &VerifyingKey, token: &str) -> Result<Value, JwsError> {
    let mut parts = token.trim().split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JwsError::Malformed)?;
    let header_json: Value =
        serde_json::from_slice(&header_bytes).map_err(|e| JwsError::Header(e.to_string()))?;
    // Refusing anything but ES512 closes the classic `alg: none` hole.
    if header_json.get("alg").and_then(Value::as_str) != Some("ES512") {
        return Err(JwsError::Header(header_json.to_string()));
    }
    let raw = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwsError::Malformed)?;
    if raw.len() != SIGNATURE_LEN {
        return Err(JwsError::Signature);
    }
    let signature = Signature::from_slice(&raw).map_err(|_| JwsError::Signature)?;
    let signing_input = &token.trim()[..header.len() + 1 + payload.len()];
    key.verify(signing_input.as_bytes(), &signature)
        .map_err(|_| JwsError::Signature)?;
    let claims = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| JwsError::Malformed)?;
    serde_json::from_slice(&claims).map_err(|_| JwsError::Claims)
}

/// Reads a P-521 private key from PEM: SEC1 (`EC PRIVATE KEY`, what `openssl ecparam -genkey`
/// writes) or PKCS#8 (`PRIVATE KEY`).
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey, JwsError> {
    let secret = if pem.contains("BEGIN EC PRIVATE KEY") {
        p521::SecretKey::from_sec1_pem(pem).map_err(|e| JwsError::Key(e.to_string()))?
    } else {
        p521::SecretKey::from_pkcs8_pem(pem).map_err(|e| JwsError::Key(e.to_string()))?
    };
    SigningKey::from_bytes(&secret.to_bytes()).map_err(|e| JwsError::Key(e.to_string()))
}

/// Reads a P-521 public key from SPKI PEM (`PUBLIC KEY`).
pub fn verifying_key_from_pem(pem: &str) -> Result<VerifyingKey, JwsError> {
    let public =
        p521::PublicKey::from_public_key_pem(pem).map_err(|e| JwsError::Key(e.to_string()))?;
    VerifyingKey::from_sec1_bytes(&public.to_sec1_bytes()).map_err(|e| JwsError::Key(e.to_string()))
}

/// The SPKI PEM (`PUBLIC KEY`) of a verifying key, for clients that verify the sandbox's
/// responses and webhooks.
pub fn public_key_pem(key: &VerifyingKey) -> String {
    let public = p521::PublicKey::from_sec1_bytes(key.to_encoded_point(false).as_bytes())
        .expect("a verifying key is a valid point");
    public
        .to_public_key_pem(LineEnding::LF)
        .expect("a P-521 public key always encodes")
}

/// A fresh random P-521 key pair, for a sandbox started without a configured key.
pub fn generate_signing_key() -> SigningKey {
    SigningKey::random(&mut p521::elliptic_curve::rand_core::OsRng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_signed_token_verifies_and_gives_back_its_claims() {
        let key = generate_signing_key();
        let claims = json!({"sub": "k", "signature": "POST\nabc"});

        let token = sign(&key, &claims);

        assert_eq!(verify(&VerifyingKey::from(&key), &token), Ok(claims));
    }

    #[test]
    fn the_header_is_es512_jwt_and_the_signature_is_132_raw_bytes() {
        let key = generate_signing_key();
        let token = sign(&key, &json!({}));
        let parts: Vec<&str> = token.split('.').collect();

        let header = URL_SAFE_NO_PAD.decode(parts[0]).unwrap();
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();

        assert_eq!(header, HEADER_JSON.as_bytes());
        assert_eq!(signature.len(), SIGNATURE_LEN);
    }

    #[test]
    fn a_token_with_tampered_claims_is_refused() {
        let key = generate_signing_key();
        let token = sign(&key, &json!({"amount": 1}));
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(br#"{"amount":2}"#),
            parts[2]
        );

        assert_eq!(
            verify(&VerifyingKey::from(&key), &forged),
            Err(JwsError::Signature)
        );
    }

    #[test]
    fn a_token_signed_by_another_key_is_refused() {
        let token = sign(&generate_signing_key(), &json!({}));

        assert_eq!(
            verify(&VerifyingKey::from(&generate_signing_key()), &token),
            Err(JwsError::Signature)
        );
    }

    #[test]
    fn an_alg_none_token_is_refused() {
        let key = generate_signing_key();
        let token = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode("{}")
        );

        assert!(matches!(
            verify(&VerifyingKey::from(&key), &token),
            Err(JwsError::Header(_))
        ));
    }

    #[test]
    fn keys_round_trip_through_pem() {
        let key = generate_signing_key();
        let pem = public_key_pem(&VerifyingKey::from(&key));
        let token = sign(&key, &json!({"a": 1}));

        let public = verifying_key_from_pem(&pem).unwrap();

        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(verify(&public, &token), Ok(json!({"a": 1})));
    }

    #[test]
    fn a_sec1_private_key_pem_is_read() {
        let key = generate_signing_key();
        let secret = p521::SecretKey::from_bytes(&key.to_bytes()).unwrap();
        let pem = secret.to_sec1_pem(LineEnding::LF).unwrap();

        let read = signing_key_from_pem(&pem).unwrap();

        assert_eq!(read.to_bytes(), key.to_bytes());
    }
}
