//! `cardbatch export BATCH [-o FILE]`: one CSV row per order with its final state, card refs and
//! what confirmed it (webhook or lookup) when, safe to open in a spreadsheet.

use super::output::neutralise_cell;
use super::read::{compact_refs, resolve_batch};
use crate::store::Store;
use anyhow::Context;
use futures::TryStreamExt;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use uuid::Uuid;

const HEADER: [&str; 11] = [
    "line",
    "order_ref",
    "state",
    "card_ref",
    "provider_refs",
    "confirmed_by",
    "confirmed_at",
    "attempts",
    "last_error_code",
    "last_error_message",
    "updated_at",
];

pub async fn run(store: &Store, batch: &str, output: Option<&Path>) -> anyhow::Result<ExitCode> {
    let id = resolve_batch(store, batch).await?;
    let out: Box<dyn Write> = match output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let n = write_batch(store, id, out).await?;
    if let Some(p) = output {
        eprintln!("{n} orders written to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the results CSV of batch `id` to `out`; returns the number of orders.
pub async fn write_batch(store: &Store, id: Uuid, out: impl Write) -> anyhow::Result<u64> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(HEADER)?;
    let mut rows = store.order_export(id);
    let mut n = 0u64;
    while let Some(o) = rows.try_next().await? {
        let cells = [
            o.line.to_string(),
            o.order_ref,
            o.state.to_string(),
            o.card_ref.unwrap_or_default(),
            o.provider_refs
                .as_ref()
                .map(compact_refs)
                .unwrap_or_default(),
            o.confirmed_by
                .map(|b| b.as_str().to_string())
                .unwrap_or_default(),
            o.confirmed_at_ms
                .map(super::read::format_time)
                .unwrap_or_default(),
            o.attempts.to_string(),
            o.last_error_code.unwrap_or_default(),
            o.last_error_message.unwrap_or_default(),
            super::read::format_time(o.updated_at_ms),
        ];
        writer.write_record(cells.iter().map(|c| neutralise_cell(c).into_owned()))?;
        n += 1;
    }
    writer.flush()?;
    Ok(n)
}
