//! Stage 6: confirming what the providers did, from their events and by asking them.
//!
//! `read` turns an inbox event into the keys that find its order and what it means for that
//! order; `events` is the processor that applies it: `submitted` moves to `issued` or `failed`,
//! an event whose order is not there yet (or not yet `submitted`) waits, an event no order
//! claims is kept as `unmatched` for the report, and nothing ever moves an order backwards.
//! `lookup` is the reconciler: orders still `submitted` with no confirmation after a while are
//! looked up at the provider and confirmed (or failed) by lookup; disagreements are recorded as
//! mismatches. `report` is the reconciliation report `cardbatch reconcile` and the demo print.

mod events;
mod lookup;
mod read;
mod report;

pub use events::{ProcessOptions, ProcessReport, process_pending_events, run_event_processor};
pub use lookup::{LookupOptions, LookupReport, Reconciler, lookup_backoff};
pub use read::{EventMeaning, EventReading, read_event};
pub use report::{
    AWAITING_LISTED, AwaitingConfirmation, BatchReconciliation, Mismatch, ReconcileReport,
    ReviewOrder, UnmatchedEvent, report, report_at,
};
