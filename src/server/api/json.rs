//! The API's response bodies (their schemas go into the OpenAPI document).

use crate::domain::money::format_minor;
use crate::store::{BatchSummary, OrderRow};
use serde::Serialize;
use std::collections::BTreeMap;

/// Unix ms as RFC 3339 UTC (`2026-11-30T05:00:00.000Z`).
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// A batch with its orders per state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Batch {
    /// The batch id (uuid).
    pub id: String,
    /// The profile its orders are issued through.
    pub profile: String,
    /// The profile's provider.
    pub provider: String,
    /// The file name as given, or `api:<token>` for an upload.
    pub source: String,
    /// When it was submitted (RFC 3339).
    pub created_at: String,
    /// `active`, `paused`, `awaiting_approval` or `canceled`.
    pub state: String,
    /// Why it is in that state, when someone said.
    pub state_reason: Option<String>,
    /// Who submitted it (`cli:<user>`, `token:<name>`).
    pub submitted_by: Option<String>,
    /// All its orders.
    pub orders: u64,
    /// Orders per order state (states with none are absent).
    pub counts: BTreeMap<String, u64>,
    /// Sum of the amounts per currency, in major units.
    pub totals: BTreeMap<String, String>,
}

impl From<&BatchSummary> for Batch {
    fn from(b: &BatchSummary) -> Self {
        Batch {
            id: b.id.to_string(),
            profile: b.profile.clone(),
            provider: b.provider.as_str().to_string(),
            source: b.source.clone(),
            created_at: time(b.created_at_ms),
            state: b.state.to_string(),
            state_reason: b.state_reason.clone(),
            submitted_by: b.submitted_by.clone(),
            orders: b.total(),
            counts: b.counts.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            totals: b
                .totals_minor
                .iter()
                .map(|(c, m)| (c.clone(), format_minor(*m)))
                .collect(),
        }
    }
}

/// One order (personal data is not part of it; provider messages come masked).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Order {
    /// The order's id: the `after` of the next page.
    pub id: i64,
    /// Its physical line in the submitted file.
    pub line: u64,
    /// The submitter's reference.
    pub order_ref: String,
    /// Its state.
    pub state: String,
    /// Attempts so far.
    pub attempts: u32,
    /// Amount in major units.
    pub amount: Option<String>,
    /// Currency.
    pub currency: Option<String>,
    /// The provider's keys for the order and its card.
    #[schema(value_type = Option<Object>)]
    pub provider_refs: Option<serde_json::Value>,
    /// `webhook` or `lookup`, once confirmed.
    pub confirmed_by: Option<String>,
    /// When it was confirmed (RFC 3339).
    pub confirmed_at: Option<String>,
    /// The last failure's code.
    pub last_error_code: Option<String>,
    /// The last failure's message, personal data masked.
    pub last_error_message: Option<String>,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

impl From<&OrderRow> for Order {
    fn from(o: &OrderRow) -> Self {
        Order {
            id: o.id,
            line: o.line,
            order_ref: o.order_ref.clone(),
            state: o.state.to_string(),
            attempts: o.attempts,
            amount: o.amount_minor.map(format_minor),
            currency: o.currency.clone(),
            provider_refs: o
                .provider_refs
                .as_ref()
                .and_then(|r| serde_json::to_value(r).ok()),
            confirmed_by: o.confirmed_by.map(|b| b.as_str().to_string()),
            confirmed_at: o.confirmed_at_ms.map(time),
            last_error_code: o.last_error_code.clone(),
            last_error_message: o.last_error_message.clone(),
            updated_at: time(o.updated_at_ms),
        }
    }
}

/// One page of orders.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrdersPage {
    /// The orders, by id.
    pub orders: Vec<Order>,
    /// Pass as `after` for the next page; absent on the last one.
    pub next_after: Option<i64>,
}

/// A batch after an action: the batch itself, with what the action did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActionResult {
    /// The batch as it is now.
    #[serde(flatten)]
    pub batch: Batch,
    /// `pause`, `resume`, `cancel`, `approve` or `requeue`.
    pub action: String,
    /// Orders the action moved (canceled, requeued, released past the spend cap).
    pub moved: u64,
}

/// A new batch made from an upload: the batch itself, with how its file was read.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Submitted {
    /// The new batch.
    #[serde(flatten)]
    pub batch: Batch,
    /// How the file was read.
    pub ingest: IngestCounts,
}

/// How an uploaded file was read.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestCounts {
    /// `queued`, or `nothing_new` when every row was already ingested (no batch was made).
    pub outcome: String,
    /// Data rows read.
    pub rows: u64,
    /// New orders queued.
    pub queued: u64,
    /// Rows already ingested with the same content (skipped).
    pub duplicates: u64,
}

/// One row of the audit log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Row id: pass as `before` for older rows.
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// `cli:<user>` or `token:<name>`.
    pub actor: String,
    /// What was asked.
    pub action: String,
    /// The batch, if any.
    pub batch_id: Option<String>,
    /// The order, if any.
    pub order_id: Option<i64>,
    /// `ok`, `refused` or `failed`.
    pub outcome: String,
    /// What came of it, or why not.
    pub detail: Option<String>,
}

/// A token as listed (never the token itself).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// Its name.
    pub name: String,
    /// `viewer`, `operator`, `approver` or `admin`.
    pub role: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it was revoked (RFC 3339).
    pub revoked_at: Option<String>,
}

/// A new token: shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewToken {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: String,
    /// The bearer token; only its SHA-256 is stored.
    pub token: String,
}
