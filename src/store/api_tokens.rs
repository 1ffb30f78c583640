//! The HTTP API's bearer tokens. Only a token's SHA-256 is stored; the token itself is shown once,
//! when it is made (`control::tokens`).

use super::connect::{Db, Store};
use super::error::{Error, Result, corrupt};
use crate::domain::Role;

/// A token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiToken {
    /// Its unique name (who or what uses it).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was made (Unix ms).
    pub created_at_ms: i64,
    /// When it was revoked (Unix ms); a revoked token authenticates nobody.
    pub revoked_at_ms: Option<i64>,
}

type RawToken = (String, String, i64, Option<i64>);

fn parse((name, role, created_at_ms, revoked_at_ms): RawToken) -> Result<ApiToken> {
    Ok(ApiToken {
        name,
        role: role.parse().map_err(|e| corrupt("api_tokens", e))?,
        created_at_ms,
        revoked_at_ms,
    })
}

impl Store {
    /// Stores a new token's hash under `name`; [`Error::TokenNameTaken`] if the name is used
    /// (revoked tokens keep their name).
    pub async fn api_token_insert(
        &self,
        name: &str,
        role: Role,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<()> {
        // language=SQL
        const SQL: &str = "INSERT INTO api_tokens (name, role, token_hash, created_at) \
            VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING";
        let done = match &self.db {
            Db::Sqlite { write, .. } => sqlx::query(SQL)
                .bind(name.to_owned())
                .bind(role.as_str())
                .bind(token_hash.to_owned())
                .bind(now_ms)
                .execute(write)
                .await?
                .rows_affected(),
            Db::Postgres(pool) => sqlx::query(SQL)
                .bind(name)
                .bind(role.as_str())
                .bind(token_hash)
                .bind(now_ms)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        match done {
            0 => Err(Error::TokenNameTaken(name.to_string())),
            _ => Ok(()),
        }
    }

    /// Every token, by name.
    pub async fn api_token_list(&self) -> Result<Vec<ApiToken>> {
        // language=SQL
        const SQL: &str = "SELECT name, role, created_at, revoked_at FROM api_tokens ORDER BY name";
        let rows: Vec<RawToken> = match &self.db {
            Db::Sqlite { read, .. } => sqlx::query_as(SQL).fetch_all(read).await?,
            Db::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await?,
        };
        rows.into_iter().map(parse).collect()
    }

    /// Revokes the token `name`; `false` when no unrevoked token has that name.
    pub async fn api_token_revoke(&self, name: &str, now_ms: i64) -> Result<bool> {
        // language=SQL
        const SQL: &str =
            "UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL";
        let done = match &self.db {
            Db::Sqlite { write, .. } => sqlx::query(SQL)
                .bind(name.to_owned())
                .bind(now_ms)
                .execute(write)
                .await?
                .rows_affected(),
            Db::Postgres(pool) => sqlx::query(SQL)
                .bind(name)
                .bind(now_ms)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(done > 0)
    }

    /// The unrevoked token whose hash is `token_hash`, if any.
    pub async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        // language=SQL
        const SQL: &str = "SELECT name, role, created_at, revoked_at FROM api_tokens \
            WHERE token_hash = $1 AND revoked_at IS NULL";
        let row: Option<RawToken> = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as(SQL)
                    .bind(token_hash.to_owned())
                    .fetch_optional(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(SQL)
                    .bind(token_hash)
                    .fetch_optional(pool)
                    .await?
            }
        };
        row.map(parse).transpose()
    }

    /// Whether any unrevoked token exists (the server refuses a non-loopback API without one).
    pub async fn api_token_any(&self) -> Result<bool> {
        Ok(self
            .api_token_list()
            .await?
            .iter()
            .any(|t| t.revoked_at_ms.is_none()))
    }
}
