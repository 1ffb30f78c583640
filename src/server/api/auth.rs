//! Who is calling: the bearer token, looked up by its SHA-256, gives a name and a role.

use super::ApiState;
use super::error::ApiError;
use crate::control::tokens;
use crate::domain::Role;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

/// The caller of a request, authenticated by its bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's name.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

impl Caller {
    /// The actor in the audit log and as a batch's submitter: `token:<name>`.
    pub fn actor(&self) -> String {
        format!("token:{}", self.name)
    }

    /// Refuses (403) a caller whose role is below `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "the token `{}` is {}; this needs {needed} or above",
                self.name, self.role
            )))
        }
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        Caller::from_token(state, token).await
    }
}

impl Caller {
    /// The caller holding `token` (the bearer header's, or the dashboard's session cookie's).
    pub async fn from_token(state: &ApiState, token: &str) -> Result<Caller, ApiError> {
        let found = state.store.api_token_by_hash(&tokens::hash(token)).await?;
        let found = found.ok_or(ApiError::Unauthorized)?;
        Ok(Caller {
            name: found.name,
            role: found.role,
        })
    }
}
