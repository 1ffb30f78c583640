//! Recording what became of claimed orders, many at once, fenced on the lease.
//!
//! Workers finish orders one by one but the store writes them in groups: one transaction (one
//! fsync) per group on SQLite, one `UPDATE ... FROM UNNEST` statement per group on Postgres. The
//! caller learns the result only after the commit, so nothing is acknowledged before it is
//! durable.
//!
//! Recording refs also records the provider's card key and order key
//! ([`ProviderRefs::card_key`](crate::domain::ProviderRefs::card_key), `order_key`) in the
//! indexed `card_ref` / `card_order_ref` columns, which is how webhook events find their order.
//! The store only writes the values it is given: which ref names the card is the domain's rule.

use super::connect::{Db, Store};
use super::error::{Error, Result};
use super::model::{AttemptKind, AttemptOutcome, AttemptRecord, Completion};
use crate::domain::{OrderState, ProviderRefs};
use sqlx::{Sqlite, Transaction};
use std::collections::HashSet;

/// SQLite: the whole group travels as one JSON array parameter, so a group costs one statement
/// (one hop to sqlx's SQLite thread) whatever its size.
// language=SQLite
const SQLITE_COMPLETE: &str = "UPDATE orders SET state = u.state, \
        attempts = orders.attempts - u.unsent, \
        next_attempt_at = COALESCE(u.next_at, orders.next_attempt_at), \
        provider_refs = COALESCE(u.refs, orders.provider_refs), \
        card_ref = COALESCE(u.card_ref, orders.card_ref), \
        card_order_ref = COALESCE(u.card_order_ref, orders.card_order_ref), \
        last_error_code = u.code, last_error_message = u.msg, \
        lease_owner = NULL, lease_expires_at = NULL, claimed_from = NULL, sent_at = NULL, \
        mismatch = CASE WHEN orders.card_ref <> u.card_ref THEN 'duplicate card: ' || orders.card_ref || ' and ' || \
            u.card_ref || ' were both issued for this order; cancel one at the provider' ELSE orders.mismatch END, \
        mismatch_at = CASE WHEN orders.card_ref <> u.card_ref THEN $2 ELSE orders.mismatch_at END, \
        updated_at = $2 \
    FROM (SELECT value ->> 0 AS id, value ->> 1 AS state, value ->> 2 AS next_at, value ->> 3 AS refs, \
            value ->> 4 AS code, value ->> 5 AS msg, value ->> 6 AS card_ref, \
            value ->> 7 AS card_order_ref, value ->> 8 AS unsent FROM json_each($1)) AS u \
    WHERE orders.id = u.id AND orders.lease_owner = $3 AND orders.state = 'in_flight' \
    RETURNING orders.id";

/// A card made by a worker that had lost the order's lease (its completion was fenced out). The
/// order takes the card when it has none yet, so that its owner adopts it instead of making
/// another ([`Store::order_fence_send`] sees the key); when it has another card already, both
/// were issued, and the report shows it. Same SQL on both engines.
// language=SQL
const STALE_CARD: &str = "UPDATE orders SET \
        provider_refs = CASE WHEN card_ref IS NULL THEN $2 ELSE provider_refs END, \
        card_order_ref = CASE WHEN card_ref IS NULL THEN COALESCE($4, card_order_ref) ELSE card_order_ref END, \
        mismatch = CASE \
            WHEN card_ref <> $3 THEN 'duplicate card: ' || card_ref || ' and ' || $3 || \
                ' were both issued for this order; cancel one at the provider' \
            WHEN card_ref IS NULL AND state IN ('rejected', 'dead', 'needs_review', 'failed') THEN \
                'card ' || $3 || ' was issued by a worker that had lost its lease, after the order became ' || state \
            ELSE mismatch END, \
        mismatch_at = CASE WHEN card_ref <> $3 \
            OR (card_ref IS NULL AND state IN ('rejected', 'dead', 'needs_review', 'failed')) \
            THEN $5 ELSE mismatch_at END, \
        card_ref = COALESCE(card_ref, $3) \
    WHERE id = $1";

// language=SQLite
const SQLITE_ATTEMPT_INSERT: &str = "INSERT INTO attempts \
    (order_id, attempt_no, started_at, duration_ms, http_status, provider_code, outcome, message, kind) \
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, \
        value ->> 7, value ->> 8 \
    FROM json_each($1)";

// language=PostgreSQL
const PG_COMPLETE: &str = "UPDATE orders o SET state = u.state, \
        attempts = o.attempts - u.unsent, \
        next_attempt_at = COALESCE(u.next_at, o.next_attempt_at), \
        provider_refs = COALESCE(u.refs, o.provider_refs), \
        card_ref = COALESCE(u.card_ref, o.card_ref), \
        card_order_ref = COALESCE(u.card_order_ref, o.card_order_ref), \
        last_error_code = u.code, last_error_message = u.msg, \
        lease_owner = NULL, lease_expires_at = NULL, claimed_from = NULL, sent_at = NULL, \
        mismatch = CASE WHEN o.card_ref <> u.card_ref THEN 'duplicate card: ' || o.card_ref || ' and ' || \
            u.card_ref || ' were both issued for this order; cancel one at the provider' ELSE o.mismatch END, \
        mismatch_at = CASE WHEN o.card_ref <> u.card_ref THEN $7 ELSE o.mismatch_at END, \
        updated_at = $7 \
    FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], \
            $9::text[], $10::text[], $11::int[]) \
        AS u(id, state, next_at, refs, code, msg, card_ref, card_order_ref, unsent) \
    WHERE o.id = u.id AND o.lease_owner = $8 AND o.state = 'in_flight' \
    RETURNING o.id";

// language=PostgreSQL
const PG_ATTEMPT_INSERT: &str = "INSERT INTO attempts \
    (order_id, attempt_no, started_at, duration_ms, http_status, provider_code, outcome, message, kind) \
    SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], \
        $6::text[], $7::text[], $8::text[], $9::text[])";

impl Store {
    /// Writes every completion in one transaction, each fenced on `lease_owner = worker_id` and
    /// `state = 'in_flight'`. Returns, per completion and in order, whether it applied (`false`:
    /// the lease was taken over and the new owner's word stands). Attempt rows are stored either
    /// way.
    pub async fn order_complete_many(
        &self,
        worker_id: &str,
        completions: &[Completion],
        now_ms: i64,
    ) -> Result<Vec<bool>> {
        if let Some(bad) = completions
            .iter()
            .find(|c| matches!(c.state, OrderState::Queued | OrderState::InFlight))
        {
            return Err(Error::InvalidCompletion(bad.state));
        }
        if completions.is_empty() {
            return Ok(Vec::new());
        }
        match &self.db {
            Db::Sqlite { write, .. } => {
                let mut tx = write.begin_with("BEGIN IMMEDIATE").await?;
                let applied = sqlite_complete(&mut tx, worker_id, completions, now_ms).await?;
                tx.commit().await?;
                Ok(applied)
            }
            Db::Postgres(pool) => {
                // One statement is atomic by itself; a transaction (two more round trips) is
                // needed only when attempt rows go with it (a card fenced out comes with its create's
                // attempt row, so it is written in the transaction too).
                if completions.iter().all(|c| c.attempts.is_empty()) {
                    let mut conn = pool.acquire().await?;
                    return pg_complete(&mut conn, worker_id, completions, now_ms).await;
                }
                let mut tx = pool.begin().await?;
                let applied = pg_complete(&mut tx, worker_id, completions, now_ms).await?;
                tx.commit().await?;
                Ok(applied)
            }
        }
    }

    /// Records provider calls of one order made outside a completion (a reconciler's lookup, a
    /// doubt resolved before re-sending).
    pub async fn attempt_insert_many(
        &self,
        order_id: i64,
        attempts: &[AttemptRecord],
    ) -> Result<()> {
        let rows: Vec<(i64, &AttemptRecord)> = attempts.iter().map(|a| (order_id, a)).collect();
        match &self.db {
            Db::Sqlite { write, .. } => {
                sqlite_attempt_insert(&mut *write.acquire().await?, &rows).await
            }
            Db::Postgres(pool) => pg_attempt_insert(&mut *pool.acquire().await?, &rows).await,
        }
    }

    /// The provider calls recorded for one order, oldest first.
    pub async fn attempt_list(&self, order_id: i64) -> Result<Vec<AttemptRecord>> {
        // language=SQL
        const SQL: &str = "SELECT kind, attempt_no, started_at, duration_ms, http_status, provider_code, \
            outcome, message FROM attempts WHERE order_id = $1 ORDER BY id";
        type Row = (
            Option<String>,
            i64,
            i64,
            i64,
            Option<i64>,
            Option<String>,
            String,
            Option<String>,
        );
        let rows: Vec<Row> = match &self.db {
            Db::Sqlite { read, .. } => sqlx::query_as(SQL).bind(order_id).fetch_all(read).await?,
            Db::Postgres(pool) => sqlx::query_as(SQL).bind(order_id).fetch_all(pool).await?,
        };
        rows.into_iter()
            .map(
                |(kind, no, started, duration, status, code, outcome, message)| {
                    let kind = kind
                        .map(|k| {
                            AttemptKind::parse(&k).ok_or_else(|| {
                                super::error::corrupt("attempts", format!("unknown kind `{k}`"))
                            })
                        })
                        .transpose()?;
                    Ok(AttemptRecord {
                        kind,
                        attempt_no: no as u32,
                        started_at_ms: started,
                        duration_ms: duration,
                        http_status: status.map(|s| s as u16),
                        provider_code: code,
                        outcome: parse_outcome(&outcome)?,
                        message,
                    })
                },
            )
            .collect()
    }
}

fn parse_outcome(text: &str) -> Result<AttemptOutcome> {
    [
        AttemptOutcome::Accepted,
        AttemptOutcome::Transient,
        AttemptOutcome::Permanent,
        AttemptOutcome::Unknown,
    ]
    .into_iter()
    .find(|o| o.as_str() == text)
    .ok_or_else(|| super::error::corrupt("attempts", format!("unknown outcome `{text}`")))
}

fn refs_text(c: &Completion) -> Option<String> {
    c.provider_refs.as_ref().map(ProviderRefs::to_json)
}

/// The card key and the order key the completion's refs name.
fn key_columns(c: &Completion) -> (Option<&str>, Option<&str>) {
    match &c.provider_refs {
        Some(refs) => (refs.card_key(), refs.order_key()),
        None => (None, None),
    }
}

async fn sqlite_complete(
    tx: &mut Transaction<'static, Sqlite>,
    worker_id: &str,
    completions: &[Completion],
    now_ms: i64,
) -> Result<Vec<bool>> {
    let rows: Vec<serde_json::Value> = completions
        .iter()
        .map(|c| {
            let (code, msg) = c.error.clone().unzip();
            let (card_ref, card_order_ref) = key_columns(c);
            serde_json::json!([
                c.order_id,
                c.state.as_str(),
                c.next_attempt_at,
                refs_text(c),
                code,
                msg,
                card_ref,
                card_order_ref,
                i32::from(c.nothing_sent)
            ])
        })
        .collect();
    let done: HashSet<i64> = sqlx::query_scalar::<_, i64>(SQLITE_COMPLETE)
        .bind(serde_json::Value::Array(rows).to_string())
        .bind(now_ms)
        .bind(worker_id)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect();
    for (c, refs, card, order_key) in stale_cards(completions, &done) {
        sqlx::query(STALE_CARD)
            .bind(c.order_id)
            .bind(refs)
            .bind(card)
            .bind(order_key)
            .bind(now_ms)
            .execute(&mut **tx)
            .await?;
    }
    sqlite_attempt_insert(tx, &attempt_rows(completions)).await?;
    Ok(completions
        .iter()
        .map(|c| done.contains(&c.order_id))
        .collect())
}

async fn pg_complete(
    conn: &mut sqlx::PgConnection,
    worker_id: &str,
    completions: &[Completion],
    now_ms: i64,
) -> Result<Vec<bool>> {
    let ids: Vec<i64> = completions.iter().map(|c| c.order_id).collect();
    let states: Vec<&str> = completions.iter().map(|c| c.state.as_str()).collect();
    let next: Vec<Option<i64>> = completions.iter().map(|c| c.next_attempt_at).collect();
    let refs: Vec<Option<String>> = completions.iter().map(refs_text).collect();
    let codes: Vec<Option<&str>> = completions
        .iter()
        .map(|c| c.error.as_ref().map(|e| e.0.as_str()))
        .collect();
    let msgs: Vec<Option<&str>> = completions
        .iter()
        .map(|c| c.error.as_ref().map(|e| e.1.as_str()))
        .collect();
    let (card_refs, card_order_refs): (Vec<Option<&str>>, Vec<Option<&str>>) =
        completions.iter().map(key_columns).unzip();
    let done: HashSet<i64> = sqlx::query_scalar::<_, i64>(PG_COMPLETE)
        .bind(&ids)
        .bind(states)
        .bind(next)
        .bind(refs)
        .bind(codes)
        .bind(msgs)
        .bind(now_ms)
        .bind(worker_id)
        .bind(card_refs)
        .bind(card_order_refs)
        .bind(
            completions
                .iter()
                .map(|c| i32::from(c.nothing_sent))
                .collect::<Vec<i32>>(),
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
    for (c, refs, card, order_key) in stale_cards(completions, &done) {
        sqlx::query(STALE_CARD)
            .bind(c.order_id)
            .bind(refs)
            .bind(card)
            .bind(order_key)
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
    }
    pg_attempt_insert(conn, &attempt_rows(completions)).await?;
    Ok(ids.iter().map(|id| done.contains(id)).collect())
}

/// The completions the fence refused that carry a card key: (completion, refs, card key, order
/// key).
fn stale_cards<'a>(
    completions: &'a [Completion],
    applied: &HashSet<i64>,
) -> Vec<(&'a Completion, String, &'a str, Option<&'a str>)> {
    completions
        .iter()
        .filter(|c| !applied.contains(&c.order_id))
        .filter_map(|c| {
            let refs = c.provider_refs.as_ref()?;
            Some((c, refs.to_json(), refs.card_key()?, refs.order_key()))
        })
        .collect()
}

/// (order id, call) for every call reported with the completions.
fn attempt_rows(completions: &[Completion]) -> Vec<(i64, &AttemptRecord)> {
    completions
        .iter()
        .flat_map(|c| c.attempts.iter().map(move |a| (c.order_id, a)))
        .collect()
}

pub(super) async fn sqlite_attempt_insert(
    conn: &mut sqlx::SqliteConnection,
    rows: &[(i64, &AttemptRecord)],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|(order_id, a)| {
            serde_json::json!([
                order_id,
                a.attempt_no,
                a.started_at_ms,
                a.duration_ms,
                a.http_status,
                a.provider_code,
                a.outcome.as_str(),
                a.message,
                a.kind.map(AttemptKind::as_str)
            ])
        })
        .collect();
    sqlx::query(SQLITE_ATTEMPT_INSERT)
        .bind(serde_json::Value::Array(json).to_string())
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn pg_attempt_insert(
    conn: &mut sqlx::PgConnection,
    rows: &[(i64, &AttemptRecord)],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&AttemptRecord) -> i64| rows.iter().map(|(_, a)| f(a)).collect::<Vec<i64>>();
    sqlx::query(PG_ATTEMPT_INSERT)
        .bind(rows.iter().map(|(id, _)| *id).collect::<Vec<i64>>())
        .bind(col(|a| i64::from(a.attempt_no)))
        .bind(col(|a| a.started_at_ms))
        .bind(col(|a| a.duration_ms))
        .bind(
            rows.iter()
                .map(|(_, a)| a.http_status.map(i64::from))
                .collect::<Vec<Option<i64>>>(),
        )
        .bind(
            rows.iter()
                .map(|(_, a)| a.provider_code.as_deref())
                .collect::<Vec<Option<&str>>>(),
        )
        .bind(
            rows.iter()
                .map(|(_, a)| a.outcome.as_str())
                .collect::<Vec<&str>>(),
        )
        .bind(
            rows.iter()
                .map(|(_, a)| a.message.as_deref())
                .collect::<Vec<Option<&str>>>(),
        )
        .bind(
            rows.iter()
                .map(|(_, a)| a.kind.map(AttemptKind::as_str))
                .collect::<Vec<Option<&str>>>(),
        )
        .execute(conn)
        .await?;
    Ok(())
}
