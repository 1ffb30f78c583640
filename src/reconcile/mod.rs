//! Stage 6: matching provider events (and, later, lookups) to orders.
//!
//! `read` turns an inbox event into the keys that find its order and what it means for that
//! order; `events` is the processor that applies it: `submitted` moves to `issued` or `failed`,
//! an event whose order is not there yet (or not yet `submitted`) waits, an event no order
//! claims is kept as `unmatched` for the report, and nothing ever moves an order backwards.

mod events;
mod lookup;
mod read;
mod report;

pub use events::{
    ProcessOptions, ProcessReport, ProviderClients, process_pending_events, run_event_processor,
};
pub use lookup::{LookupOptions, LookupReport, Reconciler, lookup_backoff};
pub use read::{EventMeaning, EventReading, read_event};
pub use report::{
    AWAITING_LISTED, AwaitingConfirmation, BatchReconciliation, Mismatch, ReconcileReport,
    ReviewOrder, UnmatchedEvent, report, report_at,
};
