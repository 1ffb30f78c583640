//! The HTTP API's bearer tokens: 256 random bits, shown once; only their SHA-256 is stored.

use super::actions::{ControlError, audit};
use crate::domain::Role;
use crate::store::{AuditEntry, Store};
use sha2::{Digest, Sha256};

/// What every token starts with, so a leaked one is recognisable (secret scanners, logs).
pub const PREFIX: &str = "cbt_";

/// A new token: [`PREFIX`] and 32 random bytes in hex.
pub fn generate() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// The stored form of `token`: its SHA-256 in hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Makes a token named `name` with `role` for `actor`; returns the token, which is not stored
/// and cannot be shown again.
pub async fn create(
    store: &Store,
    actor: &str,
    name: &str,
    role: Role,
    now_ms: i64,
) -> Result<String, ControlError> {
    if name.trim().is_empty() {
        return Err(ControlError::Invalid("a token needs a name".into()));
    }
    let token = generate();
    let result = store
        .api_token_insert(name, role, &hash(&token), now_ms)
        .await;
    let (outcome, detail) = match &result {
        Ok(()) => ("ok", format!("{name} ({role})")),
        Err(e) => ("refused", e.to_string()),
    };
    audit(store, entry(actor, "token_create", outcome, detail, now_ms)).await?;
    match result {
        Ok(()) => Ok(token),
        Err(crate::store::Error::TokenNameTaken(n)) => Err(ControlError::Conflict(format!(
            "a token named `{n}` exists already"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Revokes the token `name`; `false` when there was no such unrevoked token.
pub async fn revoke(
    store: &Store,
    actor: &str,
    name: &str,
    now_ms: i64,
) -> Result<bool, ControlError> {
    let revoked = store.api_token_revoke(name, now_ms).await?;
    let outcome = if revoked { "ok" } else { "refused" };
    audit(
        store,
        entry(actor, "token_revoke", outcome, name.to_string(), now_ms),
    )
    .await?;
    Ok(revoked)
}

fn entry(actor: &str, action: &str, outcome: &str, detail: String, now_ms: i64) -> AuditEntry {
    AuditEntry {
        at_ms: now_ms,
        actor: actor.to_string(),
        action: action.to_string(),
        batch_id: None,
        order_id: None,
        outcome: outcome.to_string(),
        detail: Some(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_has_256_random_bits_and_is_stored_as_its_sha256() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), PREFIX.len() + 64);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
        assert!(!hash(&a).contains(&a[PREFIX.len()..]));
    }
}
