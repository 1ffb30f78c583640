//! A provider access token shared by every process on one database (`provider_tokens`).
//!
//! UQPAY keeps one token per client alive: minting a new one revokes every older one. Workers of
//! one profile in several processes must therefore agree on one token, and the database they
//! already share is where it lives. Storing the token there is deliberate (it is a secret, but
//! our own database is the one place every process can read); it is never logged.
//!
//! Minting happens under a cross-process lock held by a [`TokenLock`]: on Postgres a
//! transaction-scoped advisory lock keyed by the profile, on SQLite a `BEGIN IMMEDIATE`
//! transaction (the database's write lock). The holder re-reads the row, then either adopts a
//! token another process stored meanwhile or mints and saves a new one; dropping the lock
//! without saving rolls back and releases it.

use super::connect::{Db, Store};
use super::error::Result;
use super::row::from_row;
use sqlx::{Postgres, Sqlite, Transaction};
use std::fmt;

/// The token row of one profile.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// The access token itself (a secret: `Debug` hides it).
    pub token: String,
    /// When the provider says it expires (Unix ms).
    pub expires_at_ms: i64,
    /// When it was stored (Unix ms).
    pub updated_at_ms: i64,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("token", &"<redacted>")
            .field("expires_at_ms", &self.expires_at_ms)
            .field("updated_at_ms", &self.updated_at_ms)
            .finish()
    }
}

/// The cross-process lock on one profile's token, held until [`TokenLock::save`] or
/// [`TokenLock::release`] (or until dropped, which releases it too).
pub struct TokenLock {
    tx: LockTx,
    profile: String,
}

enum LockTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl fmt::Debug for TokenLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenLock")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

from_row! {
    struct RawToken {
        token: String,
        expires_at: i64,
        updated_at: i64,
    }
}

impl From<RawToken> for StoredToken {
    fn from(r: RawToken) -> StoredToken {
        StoredToken {
            token: r.token,
            expires_at_ms: r.expires_at,
            updated_at_ms: r.updated_at,
        }
    }
}

// language=SQL
const SELECT_TOKEN: &str =
    "SELECT token, expires_at, updated_at FROM provider_tokens WHERE profile = $1";
// language=SQL
const UPSERT_TOKEN: &str = "INSERT INTO provider_tokens (profile, token, expires_at, updated_at) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (profile) DO UPDATE SET token = excluded.token, \
     expires_at = excluded.expires_at, updated_at = excluded.updated_at";

impl Store {
    /// The stored token of `profile`, read without taking the lock (a process that finds a
    /// fresh token here needs no lock at all).
    pub async fn token_get(&self, profile: &str) -> Result<Option<StoredToken>> {
        macro_rules! select {
            () => {
                sqlx::query_as::<_, RawToken>(SELECT_TOKEN).bind(profile.to_string())
            };
        }
        let row = match &self.db {
            Db::Sqlite { read, .. } => select!().fetch_optional(read).await?,
            Db::Postgres(pool) => select!().fetch_optional(pool).await?,
        };
        Ok(row.map(StoredToken::from))
    }

    /// Takes the cross-process lock on `profile`'s token, waiting for another holder to finish.
    ///
    /// On SQLite this holds the database's write lock (and this process's only write
    /// connection) until released, so the holder must not write through the store meanwhile and
    /// should release it quickly: the token call it makes is bounded by a short timeout.
    pub async fn token_lock(&self, profile: &str) -> Result<TokenLock> {
        let tx = match &self.db {
            Db::Sqlite { write, .. } => LockTx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // Released by Postgres when the transaction ends, even if this process dies.
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(advisory_key(profile))
                    .execute(&mut *tx)
                    .await?;
                LockTx::Postgres(tx)
            }
        };
        Ok(TokenLock {
            tx,
            profile: profile.to_string(),
        })
    }
}

impl TokenLock {
    /// The stored token, as of now (no other process can change it while the lock is held).
    pub async fn current(&mut self) -> Result<Option<StoredToken>> {
        macro_rules! select {
            () => {
                sqlx::query_as::<_, RawToken>(SELECT_TOKEN).bind(self.profile.clone())
            };
        }
        let row = match &mut self.tx {
            LockTx::Sqlite(tx) => select!().fetch_optional(&mut **tx).await?,
            LockTx::Postgres(tx) => select!().fetch_optional(&mut **tx).await?,
        };
        Ok(row.map(StoredToken::from))
    }

    /// Stores a newly minted token and releases the lock.
    pub async fn save(self, token: &str, expires_at_ms: i64, now_ms: i64) -> Result<()> {
        macro_rules! upsert {
            () => {
                sqlx::query(UPSERT_TOKEN)
                    .bind(self.profile.clone())
                    .bind(token.to_string())
                    .bind(expires_at_ms)
                    .bind(now_ms)
            };
        }
        match self.tx {
            LockTx::Sqlite(mut tx) => {
                upsert!().execute(&mut *tx).await?;
                tx.commit().await?;
            }
            LockTx::Postgres(mut tx) => {
                upsert!().execute(&mut *tx).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Releases the lock without changing anything.
    pub async fn release(self) -> Result<()> {
        match self.tx {
            LockTx::Sqlite(tx) => tx.rollback().await?,
            LockTx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// The advisory-lock key of a profile's token: FNV-1a of a namespaced name, stable across
/// processes and Rust versions (unlike `DefaultHasher`).
fn advisory_key(profile: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "cardbatch.provider_tokens:".bytes().chain(profile.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_profile_has_its_own_stable_lock_key() {
        assert_eq!(advisory_key("uqpay"), advisory_key("uqpay"));
        assert_ne!(advisory_key("uqpay"), advisory_key("uqpay_eu"));
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let t = StoredToken {
            token: "eyJ-secret".into(),
            expires_at_ms: 1,
            updated_at_ms: 0,
        };
        assert!(!format!("{t:?}").contains("eyJ"));
    }
}
