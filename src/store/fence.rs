//! The fence in front of every create call: right before a create leaves, its worker asks the
//! database whether it still holds the order's lease, with time to spare, and records in the
//! same statement that the call is about to be sent (`sent_at`).
//!
//! A worker that was frozen (SIGSTOP, a long GC-like stall, a limiter wait longer than its lease)
//! finds its orders taken over and sends nothing. An order that already carries a card key (a
//! worker that had lost its lease still recorded the card its create made) is not sent again:
//! its owner adopts that card.

use super::claim::stored_refs;
use super::connect::{Db, Store};
use super::error::Result;
use crate::domain::ProviderRefs;
use std::collections::{HashMap, HashSet};

/// What the fence said about one order.
#[derive(Debug, Clone, PartialEq)]
pub enum SendFence {
    /// The lease is held for long enough; `sent_at` is recorded: send.
    Send,
    /// The order is no longer this worker's, or its lease is about to run out: send nothing.
    Lost,
    /// The order already has a card (recorded by a worker that had lost its lease): send
    /// nothing, take these refs as the create's answer.
    Adopt(ProviderRefs),
}

// language=SQLite
const SQLITE_FENCE: &str = "UPDATE orders SET sent_at = $3 \
    WHERE id IN (SELECT value FROM json_each($1)) AND lease_owner = $2 AND state = 'in_flight' \
      AND lease_expires_at >= $4 AND card_ref IS NULL \
    RETURNING id";

// language=PostgreSQL
const PG_FENCE: &str = "UPDATE orders SET sent_at = $3 \
    WHERE id = ANY($1) AND lease_owner = $2 AND state = 'in_flight' \
      AND lease_expires_at >= $4 AND card_ref IS NULL \
    RETURNING id";

/// Why the orders the fence did not pass were refused.
// language=SQLite
const SQLITE_WHY: &str = "SELECT id, lease_owner, state, card_ref, provider_refs FROM orders \
    WHERE id IN (SELECT value FROM json_each($1))";

// language=PostgreSQL
const PG_WHY: &str = "SELECT id, lease_owner, state, card_ref, provider_refs FROM orders \
    WHERE id = ANY($1)";

type WhyRow = (i64, Option<String>, String, Option<String>, Option<String>);

impl Store {
    /// For each of `order_ids` (held by `worker_id`), in order: may its create be sent now?
    /// Passes only while the lease runs until at least `lease_needed_until_ms`; records
    /// `sent_at = now_ms` for those that pass, atomically with the check.
    pub async fn order_fence_send(
        &self,
        worker_id: &str,
        order_ids: &[i64],
        now_ms: i64,
        lease_needed_until_ms: i64,
    ) -> Result<Vec<SendFence>> {
        if order_ids.is_empty() {
            return Ok(Vec::new());
        }
        let passed: HashSet<i64> = match &self.db {
            Db::Sqlite { write, .. } => {
                let ids = serde_json::to_string(order_ids).expect("integers serialise");
                sqlx::query_scalar(SQLITE_FENCE)
                    .bind(ids)
                    .bind(worker_id.to_owned())
                    .bind(now_ms)
                    .bind(lease_needed_until_ms)
                    .fetch_all(write)
                    .await?
                    .into_iter()
                    .collect()
            }
            Db::Postgres(pool) => sqlx::query_scalar(PG_FENCE)
                .bind(order_ids)
                .bind(worker_id)
                .bind(now_ms)
                .bind(lease_needed_until_ms)
                .fetch_all(pool)
                .await?
                .into_iter()
                .collect(),
        };
        let refused: Vec<i64> = order_ids
            .iter()
            .copied()
            .filter(|id| !passed.contains(id))
            .collect();
        let mut why: HashMap<i64, SendFence> = HashMap::new();
        if !refused.is_empty() {
            let rows: Vec<WhyRow> = match &self.db {
                Db::Sqlite { read, .. } => {
                    let ids = serde_json::to_string(&refused).expect("integers serialise");
                    sqlx::query_as(SQLITE_WHY).bind(ids).fetch_all(read).await?
                }
                Db::Postgres(pool) => {
                    sqlx::query_as(PG_WHY)
                        .bind(&refused)
                        .fetch_all(pool)
                        .await?
                }
            };
            for (id, owner, state, card_ref, refs) in rows {
                let still_mine = owner.as_deref() == Some(worker_id) && state == "in_flight";
                let verdict = match (still_mine, card_ref) {
                    (true, Some(_)) => SendFence::Adopt(stored_refs(refs.as_deref())?),
                    _ => SendFence::Lost,
                };
                why.insert(id, verdict);
            }
        }
        Ok(order_ids
            .iter()
            .map(|id| match passed.contains(id) {
                true => SendFence::Send,
                false => why.remove(id).unwrap_or(SendFence::Lost),
            })
            .collect())
    }
}
