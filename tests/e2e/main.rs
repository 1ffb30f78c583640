//! cardbatch as its users run it: the `cardbatch` binary as a child process (`run` killed and
//! restarted mid-batch, one frozen with SIGSTOP while another takes over, two `run`s sharing a
//! database, the read commands' output, `sandbox` with a
//! config file, the README's zero-configuration commands) and the demo.
//! Scenarios run on SQLite and, with `CARDBATCH_TEST_PG_URL` set, on PostgreSQL.

#[macro_use]
mod support;

mod chaos;
mod cli_output;
mod cluster;
mod dashboard_browser;
mod demo;
mod frozen;
mod json_logs;
mod operator_cli;
mod prune_cli;
mod recovery;
mod restart;
mod sandbox_cli;
mod schedules_cli;
mod submit_cli;
mod zero_config;
