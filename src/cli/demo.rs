//! `cardbatch demo [--dir DIR] [--keep]`: the README's first command.

use super::output::{out, outln};
use super::{export, read};
use crate::demo::{DemoOptions, run};
use std::path::Path;
use std::process::ExitCode;

/// Runs the demo in `dir`, prints the batch table, the reconciliation report and the ledger
/// check, writes one results CSV per batch, and exits 0 only when the recorded cards match the
/// sandbox's ledger one for one. Without `keep`, the database and the submitted copies of the
/// examples are removed at the end; the results CSVs stay.
pub async fn demo(dir: &Path, keep: bool) -> anyhow::Result<ExitCode> {
    eprintln!(
        "cardbatch demo: sandbox, server and workers on 127.0.0.1, a fresh database in {}",
        dir.display()
    );
    let outcome = run(DemoOptions::new(dir)).await?;
    outln!("\nBatches")?;
    read::batches(&outcome.store, false).await?;
    outln!()?;
    out!("{}", outcome.report_text())?;
    outln!()?;
    for batch in &outcome.batches {
        let path = outcome
            .dir
            .join(format!("results-{}.csv", batch.profile.replace('_', "-")));
        export::run(&outcome.store, &batch.batch_id.to_string(), Some(&path)).await?;
    }
    outcome.store.close().await;
    if keep {
        outln!(
            "kept {}: inspect it with `cardbatch --database-url {} batches`",
            outcome.dir.display(),
            outcome.database_url
        )?;
    } else {
        remove_working_files(&outcome.dir);
    }
    outln!(
        "every order settled after {:.1} s; results CSVs in {}",
        outcome.elapsed.as_secs_f64(),
        outcome.dir.display()
    )?;
    if outcome.is_reconciled() {
        outln!("reconciled: every recorded card matches the sandbox ledger one for one")?;
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("NOT reconciled: see the differences above");
        Ok(ExitCode::FAILURE)
    }
}

/// Removes the database and the submitted copies, keeping the results CSVs.
fn remove_working_files(dir: &Path) {
    for name in ["cardbatch.db", "cardbatch.db-wal", "cardbatch.db-shm"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let _ = std::fs::remove_dir_all(dir.join("orders"));
}
