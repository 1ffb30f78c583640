//! The read commands: `batches`, `status BATCH`, `orders BATCH`.

use super::output::{format_minor, outln, print_json, print_table};
use crate::domain::{OrderState, ProviderRefs};
use crate::store::{BatchSummary, OrderRow, Store};
use anyhow::bail;
use serde_json::json;
use std::process::ExitCode;
use uuid::Uuid;

/// Finds a batch by its id or a unique prefix of it.
pub async fn resolve_batch(store: &Store, given: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = Uuid::parse_str(given) {
        return Ok(id);
    }
    let given = given.to_ascii_lowercase();
    let matches: Vec<Uuid> = store
        .batch_list()
        .await?
        .into_iter()
        .map(|b| b.id)
        .filter(|id| id.to_string().starts_with(&given))
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => bail!("no batch id starts with `{given}` (see `cardbatch batches`)"),
        many => bail!(
            "`{given}` matches {} batches; give more of the id",
            many.len()
        ),
    }
}

pub async fn batches(store: &Store, as_json: bool) -> anyhow::Result<ExitCode> {
    let list = store.batch_list().await?;
    if as_json {
        print_json(&list.iter().map(summary_json).collect::<Vec<_>>())?;
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        outln!("no batches yet; queue one with `cardbatch submit FILE --provider PROFILE`")?;
        return Ok(ExitCode::SUCCESS);
    }
    print_table(
        &[
            "batch",
            "profile",
            "file",
            "created (UTC)",
            "state",
            "orders",
            "by state",
            "totals",
        ],
        list.iter().map(|b| {
            vec![
                b.id.to_string(),
                b.profile.clone(),
                b.source.clone(),
                format_time(b.created_at_ms),
                state_text(b),
                b.total().to_string(),
                b.counts
                    .iter()
                    .map(|(s, n)| format!("{s} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                b.totals_minor
                    .iter()
                    .map(|(c, m)| format!("{} {c}", format_minor(*m)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        }),
    )?;
    Ok(ExitCode::SUCCESS)
}

pub async fn status(store: &Store, batch: &str, as_json: bool) -> anyhow::Result<ExitCode> {
    let id = resolve_batch(store, batch).await?;
    let status = store.batch_status(id).await?;
    if as_json {
        print_json(&json!({
            "batch": summary_json(&status.summary),
            "failing": status.failing.iter().map(order_json).collect::<Vec<_>>(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let s = &status.summary;
    outln!(
        "batch {}  profile {}  file {}  created {}  state {}",
        s.id,
        s.profile,
        s.source,
        format_time(s.created_at_ms),
        state_text(s)
    )?;
    print_table(
        &["state", "orders"],
        OrderState::ALL
            .iter()
            .filter_map(|st| {
                s.counts
                    .get(st)
                    .map(|n| vec![st.to_string(), n.to_string()])
            })
            .chain(std::iter::once(vec!["total".into(), s.total().to_string()])),
    )?;
    if status.failing.is_empty() {
        outln!("no failing orders")?;
    } else {
        outln!("orders needing attention:")?;
        print_orders(&status.failing)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn orders(
    store: &Store,
    batch: &str,
    state: Option<OrderState>,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let id = resolve_batch(store, batch).await?;
    let rows = store.order_list(id, state).await?;
    if as_json {
        print_json(&rows.iter().map(order_json).collect::<Vec<_>>())?;
    } else if rows.is_empty() {
        outln!("no orders")?;
    } else {
        print_orders(&rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_orders(rows: &[OrderRow]) -> std::io::Result<()> {
    print_table(
        &[
            "line",
            "order_ref",
            "state",
            "attempts",
            "refs",
            "last error",
        ],
        rows.iter().map(|o| {
            vec![
                o.line.to_string(),
                o.order_ref.clone(),
                o.state.to_string(),
                o.attempts.to_string(),
                o.provider_refs
                    .as_ref()
                    .map(compact_refs)
                    .unwrap_or_default(),
                error_text(o),
            ]
        }),
    )
}

/// `key=value` pairs of a refs object, for one table cell.
pub fn compact_refs(refs: &ProviderRefs) -> String {
    refs.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn error_text(o: &OrderRow) -> String {
    match (&o.last_error_code, &o.last_error_message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.clone(),
        (None, Some(m)) => m.clone(),
        (None, None) => String::new(),
    }
}

fn summary_json(b: &BatchSummary) -> serde_json::Value {
    json!({
        "id": b.id,
        "profile": b.profile,
        "provider": b.provider,
        "source": b.source,
        "created_at": format_time(b.created_at_ms),
        "state": b.state,
        "state_reason": b.state_reason,
        "submitted_by": b.submitted_by,
        "orders": b.total(),
        "counts": b.counts.iter().map(|(s, n)| (s.to_string(), n)).collect::<std::collections::BTreeMap<_, _>>(),
        "totals": b.totals_minor.iter().map(|(c, m)| (c.clone(), format_minor(*m))).collect::<std::collections::BTreeMap<_, _>>(),
    })
}

/// The batch's state, with its reason when there is one (`paused (failure rate 0.25 ...)`).
fn state_text(b: &BatchSummary) -> String {
    match &b.state_reason {
        Some(reason) => format!("{} ({reason})", b.state),
        None => b.state.to_string(),
    }
}

fn order_json(o: &OrderRow) -> serde_json::Value {
    json!({
        "id": o.id,
        "line": o.line,
        "order_ref": o.order_ref,
        "state": o.state,
        "attempts": o.attempts,
        "amount": o.amount_minor.map(format_minor),
        "currency": o.currency,
        "provider_refs": o.provider_refs,
        "confirmed_by": o.confirmed_by.map(|b| b.as_str()),
        "confirmed_at": o.confirmed_at_ms.map(format_time),
        "last_error_code": o.last_error_code,
        "last_error_message": o.last_error_message,
        "updated_at": format_time(o.updated_at_ms),
    })
}

/// Unix ms as `2026-11-21 08:52:10`.
pub fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}
