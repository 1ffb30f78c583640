//! Ingest and the store, on a database and nothing else: CSV files read into orders, submitted
//! as one batch transaction, and the orders table working as the queue (claim, lease, complete,
//! release). Scenarios run on SQLite and, with `CARDBATCH_TEST_PG_URL` set, on PostgreSQL.

#[macro_use]
mod support;

mod activity;
mod batch;
mod claim;
mod confirm_locks;
mod controls;
mod counters;
mod fence;
mod ingest_header;
mod ingest_rows;
mod lane_budget;
mod next_due;
mod prune;
mod reupload;
mod schedules;
mod staged_write;
mod submit;
