//! The demo from start to finish.

use super::options::{DemoError, DemoOptions};
use super::report::{self, BatchSettlement, DemoBatch, FaultSummary};
use super::settle::wait_until_final;
use super::setup::Stack;
use super::verify::{self, Verification};
use crate::domain::ProviderKind;
use crate::ingest::{SubmitOptions, SubmitOutcome, submit};
use crate::reconcile::ReconcileReport;
use crate::store::Store;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The example CSVs, built in so the demo runs from any directory.
const EXAMPLES: [(ProviderKind, &str); 4] = [
    (
        ProviderKind::QitechPrepaid,
        include_str!("../../examples/orders/qitech_prepaid.csv"),
    ),
    (
        ProviderKind::QitechPostpaid,
        include_str!("../../examples/orders/qitech_postpaid.csv"),
    ),
    (
        ProviderKind::AlchemypayVcc,
        include_str!("../../examples/orders/alchemypay_vcc.csv"),
    ),
    (
        ProviderKind::Uqpay,
        include_str!("../../examples/orders/uqpay.csv"),
    ),
];

/// What a finished demo found.
pub struct DemoOutcome {
    /// The demo directory.
    pub dir: PathBuf,
    /// The demo's database (`sqlite://<dir>/cardbatch.db`), still open for the report.
    pub store: Store,
    /// The database URL, for `cardbatch --database-url ... batches` afterwards.
    pub database_url: String,
    /// One batch per provider.
    pub batches: Vec<DemoBatch>,
    /// How each batch settled, in submission order.
    pub settlements: Vec<BatchSettlement>,
    /// The reconciliation report of every batch, as `reconcile::report` makes it.
    pub reconcile: ReconcileReport,
    /// Faults injected and retries made, per provider.
    pub faults: Vec<FaultSummary>,
    /// The check against the sandbox's ledger.
    pub verification: Verification,
    /// From start to every order final.
    pub elapsed: Duration,
}

impl DemoOutcome {
    /// True only when every order is final and confirmed where issued, and the recorded cards
    /// match the sandbox's ledger one for one.
    pub fn is_reconciled(&self) -> bool {
        self.verification.mismatches.is_empty() && self.settlements.iter().all(|r| r.is_complete())
    }

    /// The reconciliation report, the faults table and the ledger check, as printed.
    pub fn report_text(&self) -> String {
        let mut out = String::new();
        out.push_str("Reconciliation\n");
        out.push_str(&report::render_settlements(&self.settlements));
        out.push('\n');
        for batch in &self.reconcile.batches {
            for review in &batch.needs_review {
                out.push_str(&format!(
                    "  needs review: {} {} ({}: {})\n",
                    batch.profile,
                    review.order_ref,
                    review.last_error_code.as_deref().unwrap_or("-"),
                    review.last_error_message.as_deref().unwrap_or("-")
                ));
            }
            for m in &batch.mismatches {
                out.push_str(&format!(
                    "  provider disagrees: {} {} is {}: {}\n",
                    batch.profile, m.order_ref, m.state, m.note
                ));
            }
        }
        if !self.reconcile.unmatched_events.is_empty() {
            out.push_str(&format!(
                "  {} provider events matched no order\n",
                self.reconcile.unmatched_events.len()
            ));
        }
        out.push_str("\nFaults injected by the sandbox, and cardbatch's retries\n");
        out.push_str(&report::render_faults(&self.faults));
        out.push_str(&format!(
            "\n\nLedger check: {} cards at the providers, {} orders holding a card: ",
            self.verification.cards, self.verification.carded_orders
        ));
        if self.verification.mismatches.is_empty() {
            out.push_str("they match one for one.\n");
        } else {
            out.push_str(&format!(
                "{} differences:\n",
                self.verification.mismatches.len()
            ));
            for m in &self.verification.mismatches {
                out.push_str(&format!("  - {m}\n"));
            }
        }
        out
    }
}

/// Runs the demo in `options.dir` (emptied first) and reports what happened. An `Err` means
/// the demo could not run to the end; differences from the ledger are in the outcome.
pub async fn run(options: DemoOptions) -> Result<DemoOutcome, DemoError> {
    let started = Instant::now();
    let dir = fresh_dir(&options.dir)?;
    let database_url = format!("sqlite://{}", dir.join("cardbatch.db").display());
    let store = Store::connect(&database_url).await?;
    store.migrate().await?;

    let stack = Stack::start(store.clone(), options.seed).await?;
    let result = submit_and_settle(&stack, &dir, options.settle_timeout).await;
    let outcome = match result {
        Ok(batches) => summarise(&stack, batches).await,
        Err(e) => Err(e),
    };
    let stopped = stack.shutdown().await;
    let (batches, settlements, reconcile, faults, verification) = outcome?;
    stopped?;
    Ok(DemoOutcome {
        dir,
        store,
        database_url,
        batches,
        settlements,
        reconcile,
        faults,
        verification,
        elapsed: started.elapsed(),
    })
}

/// Empties (or creates) the demo directory and returns its absolute path.
fn fresh_dir(dir: &Path) -> Result<PathBuf, DemoError> {
    let io = |source| DemoError::Dir {
        path: dir.to_path_buf(),
        source,
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    std::fs::create_dir_all(dir.join("orders")).map_err(io)?;
    std::path::absolute(dir).map_err(io)
}

/// Submits every example through the real ingest path (the workers pick each batch up as it
/// is queued) and waits until every order is final.
async fn submit_and_settle(
    stack: &Stack,
    dir: &Path,
    timeout: Duration,
) -> Result<Vec<DemoBatch>, DemoError> {
    let mut batches = Vec::new();
    for (kind, text) in EXAMPLES {
        let name = kind.as_str();
        let path = dir.join("orders").join(format!("{name}.csv"));
        std::fs::write(&path, text).map_err(|source| DemoError::Dir {
            path: path.clone(),
            source,
        })?;
        let problem = |problem: String| DemoError::Submit {
            file: path.display().to_string(),
            problem,
        };
        let file = std::fs::File::open(&path).map_err(|e| problem(e.to_string()))?;
        let report = submit(
            &stack.store,
            name,
            &stack.profiles[name],
            &path,
            file,
            SubmitOptions::default(),
        )
        .await
        .map_err(|e| problem(e.to_string()))?;
        if report.outcome != SubmitOutcome::Queued {
            return Err(problem(format!(
                "{:?}: {} invalid rows, first: {:?}",
                report.outcome,
                report.invalid,
                report.errors.first()
            )));
        }
        batches.push(DemoBatch {
            profile: name.to_string(),
            provider: kind,
            batch_id: report.batch_id,
            file: path,
            orders: report.rows,
        });
    }

    wait_until_final(&stack.store, &stack.sandbox, &batches, timeout).await?;
    Ok(batches)
}

type Summary = (
    Vec<DemoBatch>,
    Vec<BatchSettlement>,
    ReconcileReport,
    Vec<FaultSummary>,
    Verification,
);

async fn summarise(stack: &Stack, batches: Vec<DemoBatch>) -> Result<Summary, DemoError> {
    let reconcile = crate::reconcile::report(&stack.store, None).await?;
    let mut settlements = Vec::new();
    let mut faults = Vec::new();
    for batch in &batches {
        let Some(reconciled) = reconcile
            .batches
            .iter()
            .find(|r| r.batch_id == batch.batch_id)
        else {
            return Err(DemoError::Report(batch.batch_id));
        };
        settlements
            .push(report::settlement(&stack.store, &stack.sandbox, batch, reconciled).await?);
        faults.push(report::faults(&stack.store, &stack.sandbox, batch).await?);
    }
    let verification =
        verify::against_ledger(&stack.store, stack.sandbox.ledger(), &batches).await?;
    Ok((batches, settlements, reconcile, faults, verification))
}
