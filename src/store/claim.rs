//! Claiming due orders under a lease, extending leases, and giving unstarted orders back.
//!
//! A claim takes, for one profile, orders whose lease expired (their worker died or froze),
//! orders in doubt whose resolution is due (`in_doubt` whose
//! `next_attempt_at` has passed: the last call's answer was lost), and orders that are due
//! (`queued`, or `retry_wait` whose `next_attempt_at` has passed). Orders of the first two kinds
//! are handed out with `previous_outcome_unknown`, so the provider layer resolves the doubt before
//! sending anything. It stamps them `in_flight` with the worker's id and a lease
//! deadline, counts the attempt, and remembers the state they came from in `claimed_from` so a
//! release can restore it exactly.
//!
//! An expired lease is taken over in one of two ways, told apart by `sent_at` (written by
//! [`Store::order_fence_send`] right before a create leaves): never sent -> a plain claim from
//! the state the dead worker took it from, its attempt not counted again, no lookup; sent ->
//! only once the profile's doubt wait has passed since the lease ran out, flagged
//! `previous_outcome_unknown`. A worker never takes over its own orders (it still runs them).
//!
//! Due orders of a batch that is not `active` (paused, awaiting approval, canceled) are not
//! claimed, nor a dead worker's orders of such a batch that it never sent; taking over a sent
//! order and resolving a doubt go on, because a call for those may already have reached the
//! provider.

use super::connect::{Db, Store};
use super::error::{Result, corrupt};
use super::model::ClaimedOrder;
use super::row::from_row;
use crate::domain::{OrderState, ProviderOrder, ProviderRefs};
use std::time::Duration;
use uuid::Uuid;

/// SQLite: one `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`. A statement that writes
/// takes SQLite's write lock before it reads, so the select and the update are atomic.
// language=SQLite
const SQLITE_CLAIM: &str = "UPDATE orders \
    SET claimed_from = CASE WHEN state = 'in_flight' AND sent_at IS NULL \
            THEN COALESCE(claimed_from, 'queued') ELSE state END, \
        state = 'in_flight', lease_owner = $2, lease_expires_at = $3, \
        attempts = attempts + CASE WHEN state = 'in_flight' AND sent_at IS NULL THEN 0 ELSE 1 END, \
        updated_at = $4 \
    WHERE id IN ( \
        SELECT id FROM (SELECT id FROM orders \
            WHERE profile = $1 AND state = 'in_flight' AND lease_expires_at <= $4 \
              AND lease_owner IS NOT $2 AND (sent_at IS NULL OR lease_expires_at <= $4 - $6) \
              AND (sent_at IS NOT NULL OR batch_id NOT IN (SELECT id FROM batches WHERE state <> 'active')) \
            ORDER BY lease_expires_at LIMIT $5) \
        UNION ALL \
        SELECT id FROM (SELECT id FROM orders \
            WHERE profile = $1 AND state = 'in_doubt' AND next_attempt_at <= $4 ORDER BY next_attempt_at LIMIT $5) \
        UNION ALL \
        SELECT id FROM (SELECT id FROM orders \
            WHERE profile = $1 AND state IN ('queued', 'retry_wait') AND next_attempt_at <= $4 \
              AND batch_id NOT IN (SELECT id FROM batches WHERE state <> 'active') \
            ORDER BY next_attempt_at LIMIT $5) \
        LIMIT $5) \
    RETURNING id, batch_id, profile, provider, order_ref, idempotency_key, payload, amount_minor, \
        currency, provider_refs, attempts, claimed_from, created_at";

/// Postgres: `FOR UPDATE SKIP LOCKED` lets concurrent claimers pass each other's rows instead of
/// waiting. (Postgres refuses `FOR UPDATE` under `UNION`, hence one CTE per kind.)
// language=PostgreSQL
const PG_CLAIM: &str = "WITH expired AS ( \
        SELECT id FROM orders \
        WHERE profile = $1 AND state = 'in_flight' AND lease_expires_at <= $4 \
          AND lease_owner IS DISTINCT FROM $2 AND (sent_at IS NULL OR lease_expires_at <= $4 - $6) \
          AND (sent_at IS NOT NULL OR batch_id NOT IN (SELECT id FROM batches WHERE state <> 'active')) \
        ORDER BY lease_expires_at LIMIT $5 FOR UPDATE SKIP LOCKED \
    ), doubt AS ( \
        SELECT id FROM orders \
        WHERE profile = $1 AND state = 'in_doubt' AND next_attempt_at <= $4 \
        ORDER BY next_attempt_at LIMIT $5 FOR UPDATE SKIP LOCKED \
    ), due AS ( \
        SELECT id FROM orders \
        WHERE profile = $1 AND state IN ('queued', 'retry_wait') AND next_attempt_at <= $4 \
          AND batch_id NOT IN (SELECT id FROM batches WHERE state <> 'active') \
        ORDER BY next_attempt_at LIMIT $5 FOR UPDATE SKIP LOCKED \
    ), picked AS ( \
        SELECT id FROM expired UNION ALL SELECT id FROM doubt UNION ALL SELECT id FROM due LIMIT $5 \
    ) \
    UPDATE orders o \
    SET claimed_from = CASE WHEN o.state = 'in_flight' AND o.sent_at IS NULL \
            THEN COALESCE(o.claimed_from, 'queued') ELSE o.state END, \
        state = 'in_flight', lease_owner = $2, lease_expires_at = $3, \
        attempts = o.attempts + CASE WHEN o.state = 'in_flight' AND o.sent_at IS NULL THEN 0 ELSE 1 END, \
        updated_at = $4 \
    FROM picked WHERE o.id = picked.id \
    RETURNING o.id, o.batch_id, o.profile, o.provider, o.order_ref, o.idempotency_key, o.payload, \
        o.amount_minor, o.currency, o.provider_refs, o.attempts, o.claimed_from, o.created_at";

from_row! {
    pub(super) struct ClaimRow {
        id: i64,
        batch_id: String,
        profile: String,
        provider: String,
        order_ref: String,
        idempotency_key: String,
        payload: String,
        amount_minor: Option<i64>,
        currency: Option<String>,
        provider_refs: Option<String>,
        attempts: i64,
        claimed_from: Option<String>,
        created_at: i64,
    }
}

impl ClaimRow {
    pub(super) fn into_claimed(self) -> Result<ClaimedOrder> {
        Ok(ClaimedOrder {
            id: self.id,
            batch_id: Uuid::parse_str(&self.batch_id).map_err(|e| corrupt("orders", e))?,
            attempt: u32::try_from(self.attempts).map_err(|e| corrupt("orders", e))?,
            order: ProviderOrder {
                provider: self.provider.parse().map_err(|e| corrupt("orders", e))?,
                profile: self.profile,
                order_ref: self.order_ref,
                idempotency_key: self.idempotency_key,
                payload: serde_json::from_str(&self.payload).map_err(|e| corrupt("orders", e))?,
                amount_minor: self.amount_minor,
                currency: self.currency,
                refs: stored_refs(self.provider_refs.as_deref())?,
                queued_at_ms: self.created_at,
            },
            // Taken over from a dead worker, or back from doubt: the last call may have reached
            // the provider either way.
            previous_outcome_unknown: matches!(
                self.claimed_from.as_deref(),
                Some(s) if s == OrderState::InFlight.as_str() || s == OrderState::InDoubt.as_str()
            ),
        })
    }
}

/// The refs column as [`ProviderRefs`] (empty when NULL).
pub(super) fn stored_refs(text: Option<&str>) -> Result<ProviderRefs> {
    text.map(ProviderRefs::from_json)
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(|e| corrupt("orders", e))
}

impl Store {
    /// Atomically claims up to `limit` orders of `profile` that are due at `now_ms` (or whose
    /// lease expired) for `worker_id`, leased for `lease`. Oldest due first; expired leases
    /// first, then orders in doubt whose resolution is due, then due orders. An expired lease
    /// whose create may have been sent is taken only `doubt_wait` after it ran out.
    pub async fn order_claim_due(
        &self,
        profile: &str,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now_ms: i64,
    ) -> Result<Vec<ClaimedOrder>> {
        self.order_claim(profile, worker_id, limit, lease, Duration::ZERO, now_ms)
            .await
    }

    /// [`Store::order_claim_due`] with the profile's doubt wait.
    pub async fn order_claim(
        &self,
        profile: &str,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        doubt_wait: Duration,
        now_ms: i64,
    ) -> Result<Vec<ClaimedOrder>> {
        let doubt_wait_ms = i64::try_from(doubt_wait.as_millis()).unwrap_or(i64::MAX / 4);
        let expires = now_ms + lease.as_millis() as i64;
        let rows: Vec<ClaimRow> = match &self.db {
            Db::Sqlite { write, .. } => {
                sqlx::query_as(SQLITE_CLAIM)
                    .bind(profile.to_owned())
                    .bind(worker_id.to_owned())
                    .bind(expires)
                    .bind(now_ms)
                    .bind(i64::from(limit))
                    .bind(doubt_wait_ms)
                    .fetch_all(write)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(PG_CLAIM)
                    .bind(profile)
                    .bind(worker_id)
                    .bind(expires)
                    .bind(now_ms)
                    .bind(i64::from(limit))
                    .bind(doubt_wait_ms)
                    .fetch_all(pool)
                    .await?
            }
        };
        let mut claimed = rows
            .into_iter()
            .map(ClaimRow::into_claimed)
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|o| o.id);
        Ok(claimed)
    }

    /// Pushes the lease deadline of every order `worker_id` holds to `expires_at_ms`; returns how
    /// many it extended. Called periodically (every third of a lease) while the worker runs.
    ///
    /// On Postgres an order whose row another transaction is writing right now (this worker's
    /// completion or fence group) is skipped this time, not waited for: waiting while holding the
    /// rows already extended deadlocked with completion groups, which lock the same rows in
    /// another order; each deadlock stalled both for `deadlock_timeout` (1 s) and failed one of
    /// them. A skipped order is extended by the next heartbeat, a third of a lease later, unless
    /// the write that held it settled the order first.
    pub async fn order_lease_extend(
        &self,
        profile: &str,
        worker_id: &str,
        expires_at_ms: i64,
    ) -> Result<u64> {
        // `profile` and `state` let the engine use the small `orders_leased` index.
        // language=SQL
        const SQLITE: &str = "UPDATE orders SET lease_expires_at = $3 \
            WHERE profile = $1 AND state = 'in_flight' AND lease_owner = $2";
        // language=PostgreSQL
        const POSTGRES: &str = "UPDATE orders SET lease_expires_at = $3 WHERE id IN ( \
            SELECT id FROM orders WHERE profile = $1 AND state = 'in_flight' AND lease_owner = $2 \
            FOR NO KEY UPDATE SKIP LOCKED)";
        let done = match &self.db {
            Db::Sqlite { write, .. } => sqlx::query(SQLITE)
                .bind(profile.to_owned())
                .bind(worker_id.to_owned())
                .bind(expires_at_ms)
                .execute(write)
                .await?
                .rows_affected(),
            Db::Postgres(pool) => sqlx::query(POSTGRES)
                .bind(profile)
                .bind(worker_id)
                .bind(expires_at_ms)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(done)
    }

    /// Releases every order `worker_id` holds except those in `started` (calls that may have
    /// reached the provider keep their lease and, if never completed, expire into a takeover).
    /// A released order gets its previous state back, its attempt uncounted and no lease; one
    /// taken over from a dead worker goes back to `in_flight` with an expired lease, so the next
    /// claim takes it over again, still flagged unknown. Returns how many were released.
    pub async fn order_release_unstarted(
        &self,
        profile: &str,
        worker_id: &str,
        started: &[i64],
        now_ms: i64,
    ) -> Result<u64> {
        // language=SQLite
        const SQLITE: &str = "UPDATE orders SET state = claimed_from, attempts = attempts - 1, lease_owner = NULL, \
                lease_expires_at = CASE WHEN claimed_from = 'in_flight' THEN 0 ELSE NULL END, \
                claimed_from = NULL, updated_at = $2 \
            WHERE profile = $4 AND state = 'in_flight' AND lease_owner = $1 AND claimed_from IS NOT NULL \
              AND id NOT IN (SELECT value FROM json_each($3))";
        // language=PostgreSQL
        const PG: &str = "UPDATE orders SET state = claimed_from, attempts = attempts - 1, lease_owner = NULL, \
                lease_expires_at = CASE WHEN claimed_from = 'in_flight' THEN 0 ELSE NULL END, \
                claimed_from = NULL, updated_at = $2 \
            WHERE profile = $4 AND state = 'in_flight' AND lease_owner = $1 AND claimed_from IS NOT NULL \
              AND NOT (id = ANY($3))";
        let done = match &self.db {
            Db::Sqlite { write, .. } => {
                let started = serde_json::to_string(started).expect("integers serialise");
                sqlx::query(SQLITE)
                    .bind(worker_id.to_owned())
                    .bind(now_ms)
                    .bind(started)
                    .bind(profile.to_owned())
                    .execute(write)
                    .await?
                    .rows_affected()
            }
            Db::Postgres(pool) => sqlx::query(PG)
                .bind(worker_id)
                .bind(now_ms)
                .bind(started)
                .bind(profile)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(done)
    }
}

/// The order as the provider layer reads it, by id (same SQL on both engines).
// language=SQL
const PROVIDER_VIEW: &str = "SELECT profile, provider, order_ref, idempotency_key, payload, \
    amount_minor, currency, provider_refs, created_at FROM orders WHERE id = $1";

type ProviderViewRow = (
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
);

impl Store {
    /// The order `order_id` as a provider client reads it (the webhook event processor looks a
    /// card up for it outside any claim); `None` when there is no such order.
    pub async fn order_provider_view(&self, order_id: i64) -> Result<Option<ProviderOrder>> {
        let row: Option<ProviderViewRow> = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as(PROVIDER_VIEW)
                    .bind(order_id)
                    .fetch_optional(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(PROVIDER_VIEW)
                    .bind(order_id)
                    .fetch_optional(pool)
                    .await?
            }
        };
        let Some((profile, provider, order_ref, key, payload, amount, currency, refs, created)) =
            row
        else {
            return Ok(None);
        };
        Ok(Some(ProviderOrder {
            profile,
            provider: provider.parse().map_err(|e| corrupt("orders", e))?,
            order_ref,
            idempotency_key: key,
            payload: serde_json::from_str(&payload).map_err(|e| corrupt("orders", e))?,
            amount_minor: amount,
            currency,
            refs: stored_refs(refs.as_deref())?,
            queued_at_ms: created,
        }))
    }
}
