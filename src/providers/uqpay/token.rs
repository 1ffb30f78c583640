//! The UQPAY access token (spec §2.1), shared by every worker of a profile.
//!
//! Minting a token revokes every older one of the same client, so two workers that each mint
//! their own knock each other out. One [`TokenManager`] per profile per process serves every
//! worker: concurrent callers wait for a single refresh (single flight). Across processes the
//! token lives in the database (`provider_tokens`, see [`crate::store::TokenLock`]): a process
//! about to mint first takes the cross-process lock and re-reads the row, and adopts the token
//! another process stored meanwhile instead of minting (which would revoke it).
//!
//! A token is refreshed when less than five minutes are left (as the Go SDK does), and when
//! UQPAY answers 401 to it: if the row already holds a different, fresh token, that one is
//! adopted; otherwise a new one is minted. The token is never logged.

use super::wire::{ErrorBody, TokenResponse};
use crate::providers::http::{NOT_SENT, classify_transport, retry_after};
use crate::providers::{CallKind, CallReport, Classified};
use crate::store::{self, Store, StoredToken};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Refresh when less than this is left.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The token call's own timeout. On SQLite the database's write lock is held during the call,
/// so it must stay short.
const TOKEN_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A token in use. `Debug` hides the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    value: Arc<str>,
    expires_at_ms: i64,
}

impl Token {
    /// The `x-auth-token` header value.
    pub fn header(&self) -> String {
        format!("Bearer {}", self.value)
    }

    /// When UQPAY says it expires (Unix ms).
    pub fn expires_at_ms(&self) -> i64 {
        self.expires_at_ms
    }

    fn fresh(&self, now_ms: i64) -> bool {
        self.expires_at_ms - now_ms > REFRESH_MARGIN.as_millis() as i64
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<redacted>")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// Why no token could be had. Nothing was sent for the order, so every case is transient for
/// it (wrong credentials included: the orders wait, and die after their attempts, rather than
/// being rejected for a configuration mistake).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token endpoint answered an error.
    #[error("the UQPAY token endpoint answered HTTP {status}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// UQPAY's code, when the body had one.
        code: Option<String>,
        /// UQPAY's message.
        message: String,
        /// `Retry-After`, on a 429.
        retry_after: Option<Duration>,
    },
    /// No answer from the token endpoint.
    #[error("the UQPAY token endpoint could not be reached: {0}")]
    Transport(String),
    /// A 2xx that is not a token answer.
    #[error("the UQPAY token answer is unreadable: {0}")]
    Unreadable(String),
    /// The shared token row could not be read or written.
    #[error("the shared UQPAY token could not be read or stored: {0}")]
    Store(#[from] store::Error),
}

impl TokenError {
    /// The report of the failed token step, standing in for the create or lookup it prevented.
    pub fn report(&self, started_at_ms: i64, started: Instant) -> CallReport {
        let (http_status, code, retry, rate_limited) = match self {
            TokenError::Refused {
                status,
                code,
                retry_after,
                ..
            } => (
                Some(*status),
                code.clone().unwrap_or_else(|| format!("http_{status}")),
                *retry_after,
                *status == 429,
            ),
            // No token means the create or lookup never left either: like a refused connection
            // it is no attempt, so an outage is bounded by the time budget, not `max_attempts`.
            TokenError::Transport(_) => (None, NOT_SENT.to_string(), None, false),
            TokenError::Unreadable(_) => (None, "token_unreadable".to_string(), None, false),
            TokenError::Store(_) => (None, "token_store".to_string(), None, false),
        };
        CallReport {
            kind: CallKind::Token,
            classified: Classified::Transient {
                code: code.clone(),
                message: self.to_string(),
                retry_after: retry,
                rate_limited,
            },
            started_at_ms,
            duration_ms: started.elapsed().as_millis() as i64,
            http_status,
            provider_code: Some(code),
        }
    }
}

/// What a manager needs to mint tokens for one profile.
#[derive(Clone)]
pub struct TokenSource {
    /// The profile name (the `provider_tokens` key).
    pub profile: String,
    /// `{base_url}/v1/connect/token`.
    pub url: String,
    /// `x-client-id`.
    pub client_id: String,
    /// `x-api-key` (a secret).
    pub api_key: String,
}

/// The token of one profile in this process, shared with other processes through the store.
pub struct TokenManager {
    source: TokenSource,
    http: reqwest::Client,
    store: Store,
    cache: RwLock<Option<Token>>,
    refresh: tokio::sync::Mutex<()>,
    minted: AtomicU64,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("profile", &self.source.profile)
            .field("minted", &self.minted())
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl TokenManager {
    /// A manager with no token yet; the first call adopts the stored one or mints.
    pub fn new(source: TokenSource, http: reqwest::Client, store: Store) -> TokenManager {
        TokenManager {
            source,
            http,
            store,
            cache: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            minted: AtomicU64::new(0),
        }
    }

    /// How many tokens this manager minted (token endpoint calls that succeeded).
    pub fn minted(&self) -> u64 {
        self.minted.load(Ordering::Relaxed)
    }

    /// A token with more than [`REFRESH_MARGIN`] left, refreshing it first if needed.
    pub async fn token(&self) -> Result<Token, TokenError> {
        if let Some(t) = self.cached().filter(|t| t.fresh(now_ms())) {
            return Ok(t);
        }
        let _single_flight = self.refresh.lock().await;
        // Another task may have refreshed while this one waited.
        if let Some(t) = self.cached().filter(|t| t.fresh(now_ms())) {
            return Ok(t);
        }
        self.renew(None).await
    }

    /// UQPAY answered 401 to `failed`: a token other than it, adopted or newly minted.
    pub async fn rejected(&self, failed: &Token) -> Result<Token, TokenError> {
        let _single_flight = self.refresh.lock().await;
        if let Some(t) = self
            .cached()
            .filter(|t| t.value != failed.value && t.fresh(now_ms()))
        {
            return Ok(t);
        }
        self.renew(Some(failed)).await
    }

    fn cached(&self) -> Option<Token> {
        self.cache.read().expect("token cache lock").clone()
    }

    fn set_cached(&self, token: Token) -> Token {
        *self.cache.write().expect("token cache lock") = Some(token.clone());
        token
    }

    /// Called under the in-process single-flight lock: adopts the stored token when it is
    /// fresh and not `failed`, else mints one under the cross-process lock.
    async fn renew(&self, failed: Option<&Token>) -> Result<Token, TokenError> {
        let usable = |row: &StoredToken| {
            row.expires_at_ms - now_ms() > REFRESH_MARGIN.as_millis() as i64
                && failed.is_none_or(|f| *f.value != *row.token)
        };
        // Most refreshes find that another process already did the work: no lock needed.
        if let Some(row) = self.store.token_get(&self.source.profile).await?
            && usable(&row)
        {
            return Ok(self.adopt(row));
        }
        let mut lock = self.store.token_lock(&self.source.profile).await?;
        if let Some(row) = lock.current().await?
            && usable(&row)
        {
            lock.release().await?;
            return Ok(self.adopt(row));
        }
        // Still holding the lock, so no other process mints (and revokes this token) meanwhile.
        let token = match self.mint().await {
            Ok(token) => token,
            Err(e) => {
                // Dropping the lock rolls back; an explicit release just says so sooner.
                let _ = lock.release().await;
                return Err(e);
            }
        };
        lock.save(&token.value, token.expires_at_ms, now_ms())
            .await?;
        tracing::info!(
            profile = %self.source.profile,
            expires_at_ms = token.expires_at_ms,
            "minted a new UQPAY access token and shared it through the database"
        );
        Ok(self.set_cached(token))
    }

    fn adopt(&self, row: StoredToken) -> Token {
        tracing::debug!(profile = %self.source.profile, "adopted the shared UQPAY access token");
        self.set_cached(Token {
            value: row.token.into(),
            expires_at_ms: row.expires_at_ms,
        })
    }

    /// `POST /v1/connect/token`.
    async fn mint(&self) -> Result<Token, TokenError> {
        let response = self
            .http
            .post(&self.source.url)
            .header("x-client-id", &self.source.client_id)
            .header("x-api-key", &self.source.api_key)
            .timeout(TOKEN_CALL_TIMEOUT)
            .send()
            .await
            .map_err(|e| TokenError::Transport(transport_message(&e)))?;
        let status = response.status().as_u16();
        let retry = retry_after(response.headers());
        let body = response
            .bytes()
            .await
            .map_err(|e| TokenError::Transport(transport_message(&e)))?;
        if !(200..300).contains(&status) {
            let error = ErrorBody::parse(&body);
            return Err(TokenError::Refused {
                status,
                code: error.code_text(),
                message: error.text(),
                retry_after: retry,
            });
        }
        let answer: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| TokenError::Unreadable(e.to_string()))?;
        self.minted.fetch_add(1, Ordering::Relaxed);
        Ok(Token {
            value: answer.auth_token.into(),
            // `expired_at` is in seconds on UQPAY's clock. If its clock runs ahead of ours the
            // token dies earlier than we think, and the 401 path refreshes it.
            expires_at_ms: answer.expired_at.saturating_mul(1000),
        })
    }
}

fn transport_message(e: &reqwest::Error) -> String {
    match classify_transport(e) {
        Classified::Transient { message, .. } | Classified::Unknown { message, .. } => message,
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_fresh_only_with_more_than_five_minutes_left() {
        let t = Token {
            value: "x".into(),
            expires_at_ms: 1_000_000,
        };
        assert!(t.fresh(1_000_000 - 5 * 60 * 1000 - 1));
        assert!(!t.fresh(1_000_000 - 5 * 60 * 1000));
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let t = Token {
            value: "eyJsecret".into(),
            expires_at_ms: 1,
        };
        assert!(!format!("{t:?}").contains("eyJ"));
    }
}
