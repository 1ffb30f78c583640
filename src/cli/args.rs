//! The command-line grammar. Doc comments here are the `--help` text.

use crate::domain::{OrderState, Role};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Issue payment cards in bulk, durably.
///
/// A CSV of card orders becomes a batch of durable jobs; workers issue one card per order through
/// the provider named by a profile, retry transient errors with backoff, and never issue a card
/// twice. With no configuration, cardbatch uses ./cardbatch.db (SQLite) and one profile per
/// provider aimed at the built-in sandbox (`cardbatch sandbox`).
///
/// Exit codes: 0 success; 1 failure (the reason is printed on stderr); 2 bad command line;
/// 3 input refused (e.g. invalid CSV rows; nothing was written); 4 `run --until-idle`: some
/// orders ended failed, rejected, dead or needs_review.
#[derive(Debug, Parser)]
#[command(name = "cardbatch", version, propagate_version = true)]
pub struct Cli {
    /// Configuration file [default: ./cardbatch.toml if present, else built-in defaults].
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "CARDBATCH_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    /// Database URL, overriding the configuration (sqlite://FILE or postgres://...).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Log lines on stderr: `text` for people, `json` (one object a line) for log collectors.
    /// Without it (or CARDBATCH_LOG_FORMAT), the config file's `log_format`, else `text`.
    #[arg(long, global = true, env = "CARDBATCH_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

pub use crate::config::LogFormat;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or upgrade the database schema (also done by every other command).
    Migrate,

    /// Validate a CSV of card orders and queue them as one batch.
    ///
    /// Every error in the file is reported at once (line, column, reason). By default one bad
    /// row refuses the whole file and nothing is written. Rows whose order_ref was already
    /// ingested for the profile are reported as duplicates and never queued twice; an order_ref
    /// used twice within the file is an error on its later line. A cell holding a card number
    /// rejects its row: cardbatch never stores one.
    ///
    /// Exit codes: 0 queued (or nothing new), 1 another failure (the database unreachable), 2 a
    /// bad command line or an unknown profile, 3 the input refused (bad rows, an unreadable,
    /// missing or empty file); nothing is written after 1, 2 or 3.
    Submit(SubmitArgs),

    /// List batches: profile, source file, creation time, orders per state, totals per currency.
    Batches {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },

    /// Show one batch: orders per state and the failing orders with their reasons.
    Status {
        /// Batch id (a unique prefix is enough).
        batch: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },

    /// List the orders of a batch.
    Orders {
        /// Batch id (a unique prefix is enough).
        batch: String,
        /// Only orders in this state (queued, in_flight, retry_wait, submitted, in_doubt,
        /// issued, failed, rejected, dead, canceled, needs_review).
        #[arg(long, value_parser = parse_state)]
        state: Option<OrderState>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },

    /// Reconcile with the providers: per batch, orders confirmed by webhook and by lookup,
    /// awaiting confirmation (with age), failed at the provider, mismatches (the provider says
    /// one thing, we recorded another) and orders needing review; then the provider events no
    /// order claimed.
    ///
    /// The lookups themselves run inside `cardbatch run` (reconcile.confirm_after_secs after an
    /// order is accepted without a webhook); this command only reports.
    Reconcile {
        /// Batch id (a unique prefix is enough) [default: every batch].
        batch: Option<String>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },

    /// Write one CSV row per order: order_ref, final state, card refs, confirmation source and
    /// time, attempts, last error.
    ///
    /// Cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or
    /// carriage return) are prefixed with a single quote.
    Export {
        /// Batch id (a unique prefix is enough).
        batch: String,
        /// Output file [default: standard output].
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },

    /// Give a batch's stuck orders another go, with the same idempotency key.
    ///
    /// `dead` orders (transient failures until their attempts or time ran out, e.g. through a
    /// provider outage) go back to the queue. `needs_review` orders (an answer that could not
    /// be resolved, a card nothing confirmed) go back to doubt: the worker first asks the
    /// provider whether it has the card (a lookup, or a replay of the same key) and sends a new
    /// create only when it provably has not; that needs --confirm, because an operator should
    /// look at why they needed review first (`cardbatch status BATCH`).
    Requeue {
        /// Batch id (a unique prefix is enough).
        batch: String,
        /// Which orders: dead or needs_review.
        #[arg(long, default_value = "dead", value_parser = parse_state)]
        state: OrderState,
        /// Confirm requeueing needs_review orders.
        #[arg(long)]
        confirm: bool,
    },

    /// Pause a batch: its orders are no longer claimed; calls already in flight finish.
    Pause {
        /// Batch id (a unique prefix is enough).
        batch: String,
    },

    /// Resume a paused batch: its orders are claimed again.
    Resume {
        /// Batch id (a unique prefix is enough).
        batch: String,
    },

    /// Cancel a batch: its orders not sent yet (queued, retry_wait) become canceled. Orders in
    /// flight or already sent are never canceled.
    Cancel {
        /// Batch id (a unique prefix is enough).
        batch: String,
    },

    /// Approve a batch awaiting approval (over its profile's approval_over_orders or
    /// approval_over_amount). Whoever submitted it cannot approve it.
    Approve {
        /// Batch id (a unique prefix is enough).
        batch: String,
    },

    /// Attach card refs found by hand (in the provider's portal) to an order that needs review.
    ///
    /// The order becomes submitted with those refs; the reconciler then looks the card up at the
    /// provider and confirms it (or reports a mismatch), so a mistyped ref is caught.
    Attach {
        /// The order's id (`id` in `cardbatch orders BATCH --json` and in the API).
        order: i64,
        /// A ref as NAME=VALUE (e.g. card_id=c-123); repeat for several.
        #[arg(long = "ref", value_name = "NAME=VALUE", required = true, value_parser = parse_ref)]
        refs: Vec<(String, String)>,
    },

    /// Manage the HTTP API's bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),

    /// Show the audit log: every operator action, from the CLI or the API, newest first.
    Audit {
        /// How many rows.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },

    /// Apply the [retention] section: remove the personal data of orders settled more than
    /// personal_data_days ago (payloads and webhook bodies; order_ref, refs, amounts, states,
    /// times and idempotency key stay), and export then delete the batches older than
    /// delete_batches_days whose orders are all settled. `cardbatch run` does this every
    /// retention.interval_secs. A pruned or deleted batch's file re-uploaded still ingests
    /// nothing.
    Prune {
        /// Say what would go, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Run the workers for every configured profile and the HTTP server (webhooks, Alchemy Pay
    /// reverse validation, health) and the scheduler (the schedules in jobs_dir) until SIGINT or
    /// SIGTERM.
    ///
    /// Provider credentials are read from the environment variables each profile names
    /// (profiles.<name>.credentials_env). On a signal, workers stop claiming, let in-flight
    /// provider calls finish within the grace period (worker.shutdown_grace_secs), release the
    /// orders they had not started, and then the server stops.
    ///
    /// With --until-idle (for cron, systemd timers, Kubernetes CronJobs): fire the schedules'
    /// due slots, then exit once no order is waiting or in progress; exit status 0 when every
    /// order that ended during the run was issued, 4 when some ended failed, rejected, dead or
    /// needs_review (or a schedule run failed).
    Run {
        /// Exit once every order is final (or only awaits a provider confirmation its lookups
        /// have settled).
        #[arg(long)]
        until_idle: bool,
    },

    /// List the schedules (jobs_dir/*.toml): cron, time zone, profile, source, last run (slot,
    /// outcome, batch, rows) and next slot. `schedules run NAME` runs one now.
    Schedules {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<SchedulesAction>,
    },

    /// Run the workers for every configured profile until SIGINT or SIGTERM.
    ///
    /// On a signal, workers stop claiming, let in-flight provider calls finish within the grace
    /// period (worker.shutdown_grace_secs) and release the orders they had not started.
    Worker,

    /// Run the HTTP server (provider webhooks, Alchemy Pay reverse validation, health), the
    /// webhook event processor, the reconciler (lookups of submitted orders whose webhook did
    /// not come) and the schedules of jobs_dir, without workers, until SIGINT or SIGTERM. With `worker` processes on the
    /// same database, this is the rest of `run`.
    ///
    /// Webhook secrets come from the environment variables each profile names: UQPAY
    /// `webhook_secret`, QI Tech `qitech_public_key` (or option qitech_public_key_file).
    Serve,

    /// Run everything against the built-in sandbox with faults switched on, and prove the result.
    ///
    /// Needs no configuration: starts the sandbox, the server and the workers on 127.0.0.1 with a
    /// fresh SQLite file in DIR, submits the example CSV of every provider, waits until every
    /// order is final, prints the batches and the reconciliation report, writes one results CSV
    /// per batch into DIR, and exits 0 only when the recorded cards match the sandbox's ledger
    /// one for one.
    #[cfg(feature = "sandbox")]
    Demo {
        /// Working directory, emptied first.
        #[arg(long, default_value = "cardbatch-demo", value_name = "DIR")]
        dir: PathBuf,
        /// Keep the database and the submitted CSVs in DIR (the results CSVs are always kept).
        #[arg(long)]
        keep: bool,
    },

    /// Serve the built-in provider sandbox (QI Tech, Alchemy Pay, UQPAY) on loopback.
    #[cfg(feature = "sandbox")]
    Sandbox {
        /// Sandbox configuration (fixtures, faults, webhook targets) [default: built-in].
        /// `examples/sandbox.toml` is an annotated example.
        // Its own id: the global `--config` (cardbatch's configuration) is a different file.
        #[arg(long = "sandbox-config", id = "sandbox_config", value_name = "FILE")]
        sandbox_config: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = crate::config::DEFAULT_SANDBOX_ADDR)]
        listen: std::net::SocketAddr,
    },
}

#[derive(Debug, Subcommand)]
pub enum SchedulesAction {
    /// Run a schedule now, for its current slot (the newest one not after now). Running the same
    /// slot again reads the source again and ingests nothing twice.
    ///
    /// Exit status: 0 queued or nothing new; 3 the run failed (invalid rows, more than
    /// max_orders, an unreadable source) and nothing was ingested.
    Run {
        /// The schedule's name: its file's stem in jobs_dir.
        name: String,
        /// Print the run's report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `cardbatch token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; it is printed once, on standard output, and only its SHA-256 is stored.
    Create {
        /// A unique name for who or what uses it.
        #[arg(long)]
        name: String,
        /// viewer (reads), operator (also submits, pauses, resumes, cancels, requeues),
        /// approver (also approves), admin (also manages tokens).
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List tokens (names, roles, when made and revoked; never the tokens).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by name.
    Revoke {
        /// The token's name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The CSV file (UTF-8, `,` or `;` delimited, one order per row; see README for columns).
    pub file: PathBuf,
    /// Profile from the configuration to issue through (e.g. uqpay, qitech_prepaid).
    #[arg(long, short = 'p')]
    pub provider: String,
    /// Validate and report, but write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Queue the valid rows and write the rejected ones, with a reason column, to
    /// <FILE stem>.rejected.csv next to the input. A file with no valid row is still refused.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_state(s: &str) -> Result<OrderState, String> {
    s.parse()
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

fn parse_ref(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
            Ok((k.trim().to_string(), v.trim().to_string()))
        }
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}
