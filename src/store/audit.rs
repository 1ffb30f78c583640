//! The audit log: one row per operator action, from the CLI or the API, whatever its outcome.

use super::connect::{Db, Store};
use super::error::{Result, corrupt};
use uuid::Uuid;

/// One action, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    /// When (Unix ms).
    pub at_ms: i64,
    /// Who: `cli:<user>` or `token:<name>`.
    pub actor: String,
    /// What: `pause`, `resume`, `cancel`, `approve`, `requeue`, `submit`, `token_create`, ...
    pub action: String,
    /// The batch it was about, if any.
    pub batch_id: Option<Uuid>,
    /// The order it was about, if any.
    pub order_id: Option<i64>,
    /// `ok`, `refused` (the state, the role or maker-checker forbade it) or `failed`.
    pub outcome: String,
    /// What came of it, or why not.
    pub detail: Option<String>,
}

/// A recorded action with its row id (newest has the highest).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    /// The row id.
    pub id: i64,
    /// The action.
    #[serde(flatten)]
    pub entry: AuditEntry,
}

type RawAudit = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<i64>,
    String,
    Option<String>,
);

impl Store {
    /// Records `entry`.
    pub async fn audit_record(&self, entry: &AuditEntry) -> Result<()> {
        // language=SQL
        const SQL: &str = "INSERT INTO audit_log (at, actor, action, batch_id, order_id, outcome, detail) \
            VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let batch = entry.batch_id.map(|b| b.to_string());
        macro_rules! insert {
            ($pool:expr) => {
                sqlx::query(SQL)
                    .bind(entry.at_ms)
                    .bind(entry.actor.clone())
                    .bind(entry.action.clone())
                    .bind(batch)
                    .bind(entry.order_id)
                    .bind(entry.outcome.clone())
                    .bind(entry.detail.clone())
                    .execute($pool)
                    .await?
                    .rows_affected()
            };
        }
        match &self.db {
            Db::Sqlite { write, .. } => insert!(write),
            Db::Postgres(pool) => insert!(pool),
        };
        Ok(())
    }

    /// Up to `limit` rows, newest first, older than row `before` when given (keyset pages).
    pub async fn audit_list(&self, limit: u32, before: Option<i64>) -> Result<Vec<AuditRow>> {
        // language=SQL
        const SQL: &str = "SELECT id, at, actor, action, batch_id, order_id, outcome, detail \
            FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2";
        let before = before.unwrap_or(i64::MAX);
        let rows: Vec<RawAudit> = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as(SQL)
                    .bind(before)
                    .bind(i64::from(limit))
                    .fetch_all(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(SQL)
                    .bind(before)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?
            }
        };
        rows.into_iter()
            .map(
                |(id, at_ms, actor, action, batch, order_id, outcome, detail)| {
                    Ok(AuditRow {
                        id,
                        entry: AuditEntry {
                            at_ms,
                            actor,
                            action,
                            batch_id: batch
                                .as_deref()
                                .map(Uuid::parse_str)
                                .transpose()
                                .map_err(|e| corrupt("audit_log", e))?,
                            order_id,
                            outcome,
                            detail,
                        },
                    })
                },
            )
            .collect()
    }
}
