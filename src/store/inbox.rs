//! The webhook inbox: verified provider events, persisted before the endpoint answers, then
//! processed (matched to an order) by the event processor in order of receipt.

use super::connect::{Db, Store};
use super::error::{Result, corrupt};
use super::row::from_row;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Where an event of the inbox stands. Only `pending` events are looked at again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventOutcome {
    /// Not processed yet, or waiting for its order's refs to be recorded. Moved out by the
    /// event processor.
    Pending,
    /// Matched to an order (which it may or may not have moved).
    Matched,
    /// No order matched within the grace period: kept for an operator.
    Unmatched,
    /// An event that cannot change any order (QI `created`, an event type we do not act on).
    Ignored,
}

impl EventOutcome {
    /// Every outcome, in lifecycle order.
    pub const ALL: [EventOutcome; 4] = [
        EventOutcome::Pending,
        EventOutcome::Matched,
        EventOutcome::Unmatched,
        EventOutcome::Ignored,
    ];

    /// The value stored in `webhook_events.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Pending => "pending",
            EventOutcome::Matched => "matched",
            EventOutcome::Unmatched => "unmatched",
            EventOutcome::Ignored => "ignored",
        }
    }
}

impl fmt::Display for EventOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventOutcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("unknown webhook event outcome `{s}`"))
    }
}

/// A verified event about to be persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookEvent {
    /// The endpoint it arrived on: `qitech`, `uqpay` or `alchemypay`.
    pub endpoint: String,
    /// The provider's event id, or the documented composite key (hashed) where there is none.
    pub event_key: String,
    /// The provider's event type (`card.create.succeeded`, `baas.prepaid_card.card`, ...).
    pub event_type: String,
    /// The profile whose secret verified the event, when it was signed.
    pub profile: Option<String>,
    /// The raw body, exactly as received.
    pub body: String,
}

/// An event of the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// Row id; also the order of receipt.
    pub id: i64,
    /// The endpoint it arrived on.
    pub endpoint: String,
    /// Its de-duplication key.
    pub event_key: String,
    /// The provider's event type.
    pub event_type: String,
    /// The profile whose secret verified it, if it was signed.
    pub profile: Option<String>,
    /// When it was persisted (Unix ms).
    pub received_at_ms: i64,
    /// The raw body.
    pub body: String,
    /// Where it stands.
    pub outcome: EventOutcome,
    /// How many times the processor looked at it.
    pub checks: u32,
    /// When it left `pending` (Unix ms).
    pub processed_at_ms: Option<i64>,
    /// The order it matched.
    pub order_id: Option<i64>,
    /// What the processor made of it, in words.
    pub note: Option<String>,
}

/// The `SELECT` that [`RawEvent`] reads, as a literal for `concat!`.
macro_rules! select_events {
    () => {
        "SELECT id, endpoint, event_key, event_type, profile, received_at, body, outcome, checks, \
         processed_at, order_id, note FROM webhook_events"
    };
}

from_row! {
    struct RawEvent {
        id: i64,
        endpoint: String,
        event_key: String,
        event_type: String,
        profile: Option<String>,
        received_at: i64,
        body: String,
        outcome: String,
        checks: i64,
        processed_at: Option<i64>,
        order_id: Option<i64>,
        note: Option<String>,
    }
}

impl RawEvent {
    fn parse(self) -> Result<WebhookEvent> {
        Ok(WebhookEvent {
            id: self.id,
            endpoint: self.endpoint,
            event_key: self.event_key,
            event_type: self.event_type,
            profile: self.profile,
            received_at_ms: self.received_at,
            body: self.body,
            outcome: self
                .outcome
                .parse()
                .map_err(|e| corrupt("webhook_events", e))?,
            checks: self.checks as u32,
            processed_at_ms: self.processed_at,
            order_id: self.order_id,
            note: self.note,
        })
    }
}

/// Runs one read query on whichever engine, binding the same values.
macro_rules! fetch_events {
    ($store:expr, $sql:expr $(, $arg:expr)*) => {
        match &$store.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as::<_, RawEvent>($sql)$(.bind($arg))*.fetch_all(read).await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as::<_, RawEvent>($sql)$(.bind($arg))*.fetch_all(pool).await?
            }
        }
    };
}

impl Store {
    /// Persists several verified events in one statement and one transaction (the group
    /// commit behind the webhook endpoints). Returns, per event and in order, whether its row
    /// was written; a duplicate of an existing event (or of an earlier one in `events`) is not.
    pub async fn webhook_event_insert_many(
        &self,
        events: &[NewWebhookEvent],
        now_ms: i64,
    ) -> Result<Vec<bool>> {
        // `WHERE true` lets SQLite tell the upsert clause from a join constraint.
        // language=SQLite
        const SQLITE: &str = "INSERT INTO webhook_events \
            (endpoint, event_key, event_type, profile, received_at, body, next_check_at) \
            SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, $2, value ->> 4, $2 \
            FROM json_each($1) WHERE true \
            ON CONFLICT (endpoint, event_key) DO NOTHING RETURNING endpoint, event_key";
        // language=PostgreSQL
        const PG: &str = "INSERT INTO webhook_events \
            (endpoint, event_key, event_type, profile, received_at, body, next_check_at) \
            SELECT e, k, t, p, $6, b, $6 FROM UNNEST($1::text[], $2::text[], $3::text[], \
                $4::text[], $5::text[]) AS u(e, k, t, p, b) \
            ON CONFLICT (endpoint, event_key) DO NOTHING RETURNING endpoint, event_key";
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let written: Vec<(String, String)> = match &self.db {
            Db::Sqlite { write, .. } => {
                let rows: Vec<serde_json::Value> = events
                    .iter()
                    .map(|e| {
                        serde_json::json!([
                            e.endpoint,
                            e.event_key,
                            e.event_type,
                            e.profile,
                            e.body
                        ])
                    })
                    .collect();
                sqlx::query_as(SQLITE)
                    .bind(serde_json::Value::Array(rows).to_string())
                    .bind(now_ms)
                    .fetch_all(write)
                    .await?
            }
            Db::Postgres(pool) => {
                let column = |f: fn(&NewWebhookEvent) -> Option<&str>| {
                    events.iter().map(f).collect::<Vec<Option<&str>>>()
                };
                sqlx::query_as(PG)
                    .bind(column(|e| Some(e.endpoint.as_str())))
                    .bind(column(|e| Some(e.event_key.as_str())))
                    .bind(column(|e| Some(e.event_type.as_str())))
                    .bind(column(|e| e.profile.as_deref()))
                    .bind(column(|e| Some(e.body.as_str())))
                    .bind(now_ms)
                    .fetch_all(pool)
                    .await?
            }
        };
        // The first occurrence of a written key is the one that wrote it.
        let mut written: std::collections::HashSet<(String, String)> =
            written.into_iter().collect();
        Ok(events
            .iter()
            .map(|e| written.remove(&(e.endpoint.clone(), e.event_key.clone())))
            .collect())
    }

    /// Up to `limit` pending events due at `now_ms`, in order of receipt.
    pub async fn webhook_event_due(&self, now_ms: i64, limit: u32) -> Result<Vec<WebhookEvent>> {
        // language=SQL
        const SQL: &str = concat!(
            select_events!(),
            " WHERE outcome = 'pending' AND next_check_at <= $1 ORDER BY id LIMIT $2"
        );
        let rows = fetch_events!(self, SQL, now_ms, i64::from(limit));
        rows.into_iter().map(RawEvent::parse).collect()
    }

    /// Every event with `outcome`, oldest first: `unmatched` is the report of events no order
    /// claimed.
    pub async fn webhook_event_list(&self, outcome: EventOutcome) -> Result<Vec<WebhookEvent>> {
        // language=SQL
        const SQL: &str = concat!(select_events!(), " WHERE outcome = $1 ORDER BY id");
        let rows = fetch_events!(self, SQL, outcome.as_str());
        rows.into_iter().map(RawEvent::parse).collect()
    }

    /// The events that matched `order_id`, oldest first.
    pub async fn webhook_event_list_for_order(&self, order_id: i64) -> Result<Vec<WebhookEvent>> {
        // language=SQL
        const SQL: &str = concat!(select_events!(), " WHERE order_id = $1 ORDER BY id");
        let rows = fetch_events!(self, SQL, order_id);
        rows.into_iter().map(RawEvent::parse).collect()
    }

    /// Number of events per outcome (outcomes with none are absent).
    pub async fn webhook_event_count_by_outcome(&self) -> Result<BTreeMap<EventOutcome, u64>> {
        // language=SQL
        const SQL: &str = "SELECT outcome, COUNT(*) FROM webhook_events GROUP BY outcome";
        let rows: Vec<(String, i64)> = match &self.db {
            Db::Sqlite { read, .. } => sqlx::query_as(SQL).fetch_all(read).await?,
            Db::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await?,
        };
        rows.into_iter()
            .map(|(o, n)| {
                Ok((
                    o.parse().map_err(|e| corrupt("webhook_events", e))?,
                    n as u64,
                ))
            })
            .collect()
    }
}
