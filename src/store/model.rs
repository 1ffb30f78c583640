//! The plain structs the store takes and returns. No formatting happens here: the CLI and the
//! server decide how to show them.

use super::confirm::ConfirmedBy;
use crate::domain::{BatchState, OrderState, ProviderKind, ProviderOrder, ProviderRefs};
use std::collections::BTreeMap;
use uuid::Uuid;

/// An order a worker has claimed under a lease: the order as the provider layer sees it, plus
/// what the queue knows about this attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedOrder {
    /// The order's row id (also the job id).
    pub id: i64,
    /// The batch the order came in.
    pub batch_id: Uuid,
    /// This attempt's number, starting at 1 (the claim counts it).
    pub attempt: u32,
    /// The previous attempt may have reached the provider and nobody knows its answer: the order
    /// was taken over from a worker whose lease expired. The provider layer must resolve that
    /// doubt (a lookup, or an idempotent replay) before sending anything new.
    pub previous_outcome_unknown: bool,
    /// What the provider client sends and looks up by.
    pub order: ProviderOrder,
}

/// What one provider call ended as, for the `attempts` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The provider accepted the order.
    Accepted,
    /// A failure worth retrying (5xx, 429, timeout, a code the provider marks transient).
    Transient,
    /// The provider refused the order for good.
    Permanent,
    /// The call may or may not have reached the provider.
    Unknown,
}

impl AttemptOutcome {
    /// The value stored in `attempts.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Accepted => "accepted",
            AttemptOutcome::Transient => "transient",
            AttemptOutcome::Permanent => "permanent",
            AttemptOutcome::Unknown => "unknown",
        }
    }
}

/// Which call an `attempts` row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptKind {
    /// The create-card call.
    Create,
    /// A read: a status lookup by the reconciler, or the worker resolving a doubt.
    Lookup,
    /// An access-token request.
    Token,
}

impl AttemptKind {
    /// The value stored in `attempts.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptKind::Create => "create",
            AttemptKind::Lookup => "lookup",
            AttemptKind::Token => "token",
        }
    }

    /// The kind stored as `text`.
    pub fn parse(text: &str) -> Option<AttemptKind> {
        [AttemptKind::Create, AttemptKind::Lookup, AttemptKind::Token]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// One provider call, as the provider layer reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    /// Which call; `None` on rows recorded before calls had a kind.
    pub kind: Option<AttemptKind>,
    /// The order's attempt number this call belongs to ([`ClaimedOrder::attempt`]).
    pub attempt_no: u32,
    /// When the call started (Unix ms).
    pub started_at_ms: i64,
    /// How long the call took.
    pub duration_ms: i64,
    /// `None` when no HTTP answer arrived (timeout, connection reset).
    pub http_status: Option<u16>,
    /// The provider's own error or status code, when it gave one.
    pub provider_code: Option<String>,
    /// How the call ended.
    pub outcome: AttemptOutcome,
    /// A short human-readable description (no personal data).
    pub message: Option<String>,
}

/// How a worker leaves an order it holds: the new state and what goes with it. Written fenced on
/// the lease, so a worker whose order was taken over cannot overwrite the new owner's work.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The order being completed.
    pub order_id: i64,
    /// Any state but `queued` and `in_flight`.
    pub state: OrderState,
    /// For `retry_wait`: when the order is due again (Unix ms).
    pub next_attempt_at: Option<i64>,
    /// Replaces the stored provider refs when given (the card key and order key columns follow
    /// them).
    pub provider_refs: Option<ProviderRefs>,
    /// `(code, message)` of the failure; `None` clears the last error.
    pub error: Option<(String, String)>,
    /// The provider calls made during this attempt; stored even when the fence refuses the state
    /// change, because the calls happened.
    pub attempts: Vec<AttemptRecord>,
    /// No call of this attempt reached the provider (the connection was refused): the attempt
    /// the claim counted is given back, so an outage does not use up `max_attempts`.
    pub nothing_sent: bool,
}

/// Which earlier order a duplicate row collided with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DuplicateOf {
    /// An order of another (earlier) batch.
    Batch(Uuid),
    /// An earlier line of the file being written.
    EarlierLine(u64),
}

/// One duplicate row, kept as an example in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateSample {
    /// The duplicate row's physical line in the file being written.
    pub line: u64,
    /// The reference it repeats.
    pub order_ref: String,
    /// The order that already holds the reference.
    pub duplicate_of: DuplicateOf,
}

/// What a batch write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchInsertReport {
    /// The batch written (rows are written under it even if all were duplicates).
    pub batch_id: Uuid,
    /// Orders written (now queued).
    pub inserted: u64,
    /// Rows whose `order_ref` already existed for this profile; nothing was written for them.
    pub duplicates: u64,
    /// Duplicates per earlier batch they belong to.
    pub duplicates_by_batch: BTreeMap<Uuid, u64>,
    /// Duplicates of an earlier line of the same file.
    pub duplicates_within_file: u64,
    /// The first [`BatchInsertReport::SAMPLE_LIMIT`] duplicates, in file order.
    pub samples: Vec<DuplicateSample>,
    /// Duplicates that are errors for the caller to report on their line: a reference reused
    /// for other content (another person's card), and any repeat of an earlier line of the
    /// same file. Counted in `duplicates` too. At most [`BatchInsertReport::CONFLICT_LIMIT`]
    /// are kept.
    pub conflicts: Vec<DuplicateSample>,
    /// How many duplicates conflicted, kept or not.
    pub conflicting: u64,
}

impl BatchInsertReport {
    /// How many duplicate rows the report lists individually.
    pub const SAMPLE_LIMIT: usize = 100;
    /// How many conflicting duplicates the report lists individually.
    pub const CONFLICT_LIMIT: usize = 10_000;
}

/// A batch with its order counts, for `cardbatch batches`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSummary {
    /// The batch id (one per uploaded file or table pull).
    pub id: Uuid,
    /// The provider profile its orders are issued through.
    pub profile: String,
    /// The profile's provider.
    pub provider: ProviderKind,
    /// The file name as given, or `table:<name>`.
    pub source: String,
    /// When ingest created the batch (Unix ms).
    pub created_at_ms: i64,
    /// Whether its orders are claimed (paused, awaiting approval, canceled, or active).
    pub state: BatchState,
    /// Why it is in that state, when someone said (an auto-pause's numbers).
    pub state_reason: Option<String>,
    /// Who submitted it (`cli:<user>`, `token:<name>`).
    pub submitted_by: Option<String>,
    /// Orders per state; states with no orders are absent.
    pub counts: BTreeMap<OrderState, u64>,
    /// Sum of `amount_minor` per currency (orders without an amount are not counted).
    pub totals_minor: BTreeMap<String, i64>,
}

impl BatchSummary {
    /// All orders of the batch.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// One order as reports and exports show it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRow {
    /// The order's row id (also its job id).
    pub id: i64,
    /// The batch the order came in.
    pub batch_id: Uuid,
    /// The customer's reference, unique per profile.
    pub order_ref: String,
    /// Physical line in the source file.
    pub line: u64,
    /// Where the order is in its life.
    pub state: OrderState,
    /// Attempts claimed so far (a released claim does not count).
    pub attempts: u32,
    /// When the order is (or was) due for its next attempt (Unix ms).
    pub next_attempt_at_ms: i64,
    /// Money amount in integer minor units, when the provider has one.
    pub amount_minor: Option<i64>,
    /// ISO 4217 currency of `amount_minor`.
    pub currency: Option<String>,
    /// The provider's keys for the card or order, once it answered.
    pub provider_refs: Option<ProviderRefs>,
    /// Code of the last failure (the provider's, or cardbatch's own).
    pub last_error_code: Option<String>,
    /// Message of the last failure.
    pub last_error_message: Option<String>,
    /// Last change of the row (Unix ms).
    pub updated_at_ms: i64,
    /// The provider's card key, once known (also inside `provider_refs`).
    pub card_ref: Option<String>,
    /// What confirmed the final state (`issued` / `failed`), if anything did.
    pub confirmed_by: Option<ConfirmedBy>,
    /// When it was confirmed (Unix ms).
    pub confirmed_at_ms: Option<i64>,
}

/// A batch, its counts, and the orders that need attention.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStatus {
    /// The batch with its counts and totals.
    pub summary: BatchSummary,
    /// Orders in `rejected`, `dead`, `failed`, `needs_review` or `retry_wait`, by line.
    pub failing: Vec<OrderRow>,
}

/// The states [`BatchStatus::failing`] lists.
pub const FAILING_STATES: [OrderState; 5] = [
    OrderState::Rejected,
    OrderState::Dead,
    OrderState::Failed,
    OrderState::NeedsReview,
    OrderState::RetryWait,
];
