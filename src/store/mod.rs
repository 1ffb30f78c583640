//! The only module with SQL. SQLite (the embedded default) and Postgres (to scale out) sit behind
//! one [`Store`]; each operation keeps its SQL for both engines beside it, under the same
//! noun-first name (`batch_writer`, `order_claim_due`, `order_complete_many`, ...).
//!
//! The `orders` table is the queue: an order's row is also its job, with its state, attempt
//! count, next due time and lease. See `migrations/` for the schema.

#![warn(missing_docs)]

mod activity;
mod api_tokens;
mod attach;
mod audit;
mod batch_control;
mod batch_write;
mod claim;
mod complete;
mod confirm;
mod connect;
mod error;
mod failure_rate;
mod fence;
mod gauges;
mod inbox;
mod lane_budget;
mod lookup;
mod migrations;
mod model;
mod next_due;
mod order_match;
mod pg_stage;
mod prune;
mod reconcile_lookup;
mod reconcile_read;
mod recount;
mod report;
mod requeue;
mod row;
mod schedule_runs;
mod tokens;
mod wake;

mod spend;

pub use activity::Activity;

pub use api_tokens::ApiToken;
pub use audit::{AuditEntry, AuditRow};
pub use batch_control::BatchControl;
pub use batch_write::BatchWriter;
pub use confirm::{ConfirmedBy, EventSettlement, OrderConfirmation};
pub use connect::{Engine, Store};
pub use error::{Error, Result};
pub use fence::SendFence;
pub use inbox::{EventOutcome, NewWebhookEvent, WebhookEvent};
pub use lane_budget::{
    BURST_TOLERANCE as LANE_BURST_TOLERANCE, FLOOR_PER_SEC as LANE_FLOOR_PER_SEC, LaneBudget,
    LaneBudgetRow, LaneGrant,
};
pub use lookup::KeyedOrder;
pub use model::{
    AttemptKind, AttemptOutcome, AttemptRecord, BatchInsertReport, BatchStatus, BatchSummary,
    ClaimedOrder, Completion, DuplicateOf, DuplicateSample, FAILING_STATES, OrderRow,
};
pub use order_match::{CardMatchKey, MatchedOrder};
pub use prune::{PRUNED, PruneCount};
pub use reconcile_lookup::{LookupClaim, LookupOutcome};
pub use reconcile_read::{AwaitingOrder, ConfirmationCount, MismatchedOrder};
pub use schedule_runs::{RunClaim, RunRecord, RunRetake, ScheduleRun};
pub use tokens::{StoredToken, TokenLock};
pub use wake::{NOTIFY_CHANNEL, WorkSignal};
