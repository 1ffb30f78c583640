//! `cardbatch.toml` plus `CARDBATCH_*` environment overrides.
//!
//! Resolution order, later wins: built-in defaults, the config file, then environment variables
//! named `CARDBATCH_<KEY>` with `__` between levels (`CARDBATCH_DATABASE_URL`,
//! `CARDBATCH_PROFILES__UQPAY__RATE_LIMIT_PER_SEC=5`). Secrets never live in the file: a profile
//! names the environment variables that hold its credentials, and they are read only when a
//! client is built. With no config file at all, cardbatch runs on a SQLite file in the working
//! directory with one profile per provider aimed at the built-in sandbox.

use crate::domain::ProviderKind;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where the built-in sandbox listens by default; the built-in profiles point here.
pub const DEFAULT_SANDBOX_ADDR: &str = "127.0.0.1:7070";
/// The longest lease (and shutdown grace) accepted: a day.
const MAX_LEASE_SECS: u64 = 86_400;
/// The longest configured delay accepted (reconcile waits, backoff cap): a year.
const MAX_DELAY_SECS: u64 = 365 * 86_400;
/// The longest retention accepted: a century.
const MAX_RETENTION_DAYS: u32 = 36_500;
/// The slowest lane accepted: one call per 100 s.
const MIN_RATE_PER_SEC: f64 = 0.01;
/// The fastest lane accepted.
const MAX_RATE_PER_SEC: f64 = 1_000_000.0;

/// The config file picked up from the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "cardbatch.toml";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://path/to/file.db` (created on first use) or `postgres://user@host/db`.
    pub database_url: String,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub worker: WorkerConfig,
    #[serde(default)]
    pub reconcile: ReconcileConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Log lines on stderr, `text` or `json`, unless `--log-format` or `CARDBATCH_LOG_FORMAT`
    /// says otherwise (flag > environment > this key > `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// Where the schedule files (`*.toml`, one per schedule) are; relative to the working
    /// directory. A directory that does not exist holds no schedule.
    #[serde(default = "defaults::jobs_dir")]
    pub jobs_dir: PathBuf,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    Text,
    /// One JSON object a line: timestamp, level, target, message and fields.
    Json,
}

/// `[metrics]`: where `/metrics` is served besides the main server's address.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A second address serving `/metrics` only (also in a `cardbatch worker`, which has no
    /// server). The main address keeps serving it too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of the HTTP server (webhooks, Alchemy reverse validation, API).
    pub listen: SocketAddr,
    /// The URL providers use to reach this server (callbacks, reverse validation). Defaults to
    /// `http://<listen>`.
    pub public_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".parse().expect("valid literal address"),
            public_url: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// How long a claim is owned without a heartbeat: the worker renews it every third of this
    /// while it holds the order, so another process takes a dead worker's orders over about
    /// this long after it died (orders it had sent: the profile's doubt wait later, with a
    /// lookup first).
    pub lease_secs: u64,
    /// Orders claimed per round trip to the database.
    pub claim_batch: u32,
    /// Longest pause between two polls of an idle SQLite queue (Postgres wakes on NOTIFY).
    pub idle_poll_ms: u64,
    /// On SIGINT/SIGTERM, how long in-flight calls may take to finish before the process exits.
    pub shutdown_grace_secs: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            lease_secs: 4,
            claim_batch: 64,
            idle_poll_ms: 50,
            shutdown_grace_secs: 30,
        }
    }
}

/// The reconciler inside `cardbatch run`: submitted orders whose confirmation has not come are
/// looked up at the provider.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReconcileConfig {
    /// How long a `submitted` order waits for its webhook before the reconciler looks it up.
    pub confirm_after_secs: u64,
    /// How often the reconciler looks for orders due for a lookup.
    pub interval_secs: u64,
    /// The longest wait between two lookups of one order (the backoff doubles up to it).
    pub max_backoff_secs: u64,
    /// Orders looked up per profile per round.
    pub batch: u32,
    /// A `submitted` order that cannot be looked up (an Alchemy Pay order whose `CREATE_CARD`
    /// callback never came: nothing names its card) goes to `needs_review` after this long.
    pub review_after_secs: u64,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            confirm_after_secs: 60,
            interval_secs: 10,
            max_backoff_secs: 3600,
            batch: 256,
            // Alchemy Pay's spec: "escalate items with no callback after 24 h".
            review_after_secs: 24 * 3600,
        }
    }
}

/// `[retention]`: what `cardbatch prune` (and `cardbatch run`, every `interval_secs`) removes.
/// Nothing is removed unless a number of days is set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Orders settled (issued, failed, rejected, canceled) more than this many days ago lose
    /// their personal data: the payload (names, tax ids, e-mail, phone, address) and their
    /// webhook bodies. order_ref, refs, amounts, states, times and idempotency key stay.
    pub personal_data_days: Option<u32>,
    /// Batches created more than this many days ago whose orders are all settled are exported
    /// (`<export_dir>/<batch id>.csv`, as `cardbatch export` writes it) and then deleted; their
    /// order references are kept, so a re-upload of their file still ingests nothing.
    pub delete_batches_days: Option<u32>,
    /// Where deleted batches are exported; relative to the working directory.
    pub export_dir: PathBuf,
    /// How often `cardbatch run` prunes.
    pub interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            personal_data_days: None,
            delete_batches_days: None,
            export_dir: PathBuf::from("exports"),
            interval_secs: 3600,
        }
    }
}

/// One way of issuing cards: a provider, where it is, with which credentials and defaults, and how
/// hard it may be pushed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub provider: ProviderKind,
    /// The provider's API root, e.g. `https://api-auth.qitech.app` or `https://api.uqpay.com/api`.
    pub base_url: String,
    /// Credential name -> the environment variable holding it (e.g. `api_key = "UQPAY_API_KEY"`).
    #[serde(default)]
    pub credentials_env: BTreeMap<String, String>,
    /// Column -> value used when a CSV row leaves the column out or empty (program_key,
    /// account_key, wallet_key, vid, card_product_id, card_currency, ...).
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// Provider-specific switches (e.g. QI Tech `signing = "v1" | "v2"`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Create calls per second across every worker of this profile in one process.
    #[serde(default = "defaults::rate_limit_per_sec")]
    pub rate_limit_per_sec: f64,
    /// Provider calls in flight at once for this profile.
    #[serde(default = "defaults::concurrency")]
    pub concurrency: u32,
    /// Attempts before an order that keeps failing transiently is `dead`.
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    /// First retry delay; each retry doubles it, with full jitter, up to `backoff_cap_ms`.
    #[serde(default = "defaults::backoff_base_ms")]
    pub backoff_base_ms: u64,
    #[serde(default = "defaults::backoff_cap_ms")]
    pub backoff_cap_ms: u64,
    /// Least wait before an order whose create answer was lost is looked up ([`Profile::doubt_wait`]).
    #[serde(default)]
    pub doubt_wait_ms: Option<u64>,
    /// How long, from when it was queued, an order whose calls never reach the provider (a
    /// refused connection: not counted toward `max_attempts`) keeps retrying before it is
    /// `dead`. Default a day.
    #[serde(default = "defaults::give_up_after_secs")]
    pub give_up_after_secs: u64,
    /// A credential whose environment variable is not set takes the built-in sandbox's
    /// development value (`cardbatch sandbox` accepts it). Only for a loopback `base_url`: a
    /// development key is never sent anywhere else. The built-in profiles set it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sandbox_credentials: bool,
    /// Maker-checker: a batch with more new orders than this waits `awaiting_approval` until
    /// someone other than its submitter approves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_over_orders: Option<u64>,
    /// Maker-checker: a batch whose amounts add up to more than this (in the profile's currency,
    /// major units: `10000` or `"10000.00"`) waits `awaiting_approval` likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_over_amount: Option<Amount>,
    /// Failure threshold: a batch is paused when this share (0 < rate <= 1) of its attempted
    /// orders failed permanently, once `pause_min_attempts` were attempted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_after_failure_rate: Option<f64>,
    /// The attempted orders the failure threshold waits for before it judges (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_min_attempts: Option<u64>,
    /// Daily spend cap in the profile's currency (major units, like `approval_over_amount`):
    /// orders whose amount would take the day's total over it wait for the next day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_spend_cap: Option<Amount>,
    /// The UTC offset whose midnight starts a spend day, e.g. `"-03:00"` (default `"+00:00"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend_day_utc_offset: Option<String>,
}

/// An amount in major units as the configuration gives it (`10000`, `2500.50` or `"2500,50"`),
/// held in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    /// The amount in minor units (cents).
    pub minor: i64,
}

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::domain::money::format_minor(self.minor))
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Int(u64),
            Float(f64),
            Text(String),
        }
        let text = match Given::deserialize(d)? {
            Given::Int(n) => n.to_string(),
            Given::Float(f) => format!("{f:.2}"),
            Given::Text(t) => t,
        };
        crate::domain::money::parse_amount_minor(text.trim())
            .map(|minor| Amount { minor })
            .map_err(serde::de::Error::custom)
    }
}

impl Profile {
    /// The offset whose midnight starts a spend day ([`Profile::spend_day_utc_offset`]; UTC
    /// when unset or unreadable, which `Config` validation refuses).
    pub fn spend_day_offset(&self) -> chrono::FixedOffset {
        self.spend_day_utc_offset
            .as_deref()
            .and_then(|o| o.parse().ok())
            .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("zero is a valid offset"))
    }

    /// [`Profile::give_up_after_secs`] as a duration.
    pub fn give_up_after(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.give_up_after_secs)
    }

    /// How long an order whose create answer was lost waits, at least, before its doubt is
    /// resolved (the backoff applies on top). Unset: 60 s for QI Tech prepaid, whose create has
    /// no idempotency, so that a card QI is still making has time to show before the lookup by
    /// `card_name` decides to send again; one backoff base for the others, whose keys make a
    /// re-send safe anyway.
    pub fn doubt_wait(&self) -> std::time::Duration {
        let ms = self.doubt_wait_ms.unwrap_or(match self.provider {
            ProviderKind::QitechPrepaid => 60_000,
            _ => self.backoff_base_ms,
        });
        std::time::Duration::from_millis(ms.max(self.backoff_base_ms))
    }
}

mod defaults {
    pub fn jobs_dir() -> std::path::PathBuf {
        std::path::PathBuf::from("./jobs")
    }
    pub fn rate_limit_per_sec() -> f64 {
        10.0
    }
    pub fn concurrency() -> u32 {
        4
    }
    pub fn max_attempts() -> u32 {
        8
    }
    pub fn backoff_base_ms() -> u64 {
        1_000
    }
    pub fn give_up_after_secs() -> u64 {
        24 * 3600
    }
    pub fn backoff_cap_ms() -> u64 {
        300_000
    }
}

/// A config that cannot be used, with the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    Missing(PathBuf),
    #[error("{0}")]
    Parse(#[from] Box<figment::Error>),
    #[error("{key}: {problem}")]
    Invalid { key: String, problem: String },
}

impl Config {
    /// Loads the configuration. `path` must exist when given; otherwise `./cardbatch.toml` is used
    /// if present, else the built-in defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let file = match path {
            Some(p) if !p.exists() => return Err(ConfigError::Missing(p.to_path_buf())),
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
        };
        let figment = match &file {
            // A file brings its own profiles; the built-in sandbox profiles are only the default.
            Some(f) => Figment::from(Serialized::defaults(Config::without_profiles()))
                .merge(Toml::file_exact(f)),
            None => Figment::from(Serialized::defaults(Config::builtin())),
        };
        // Only variables naming a top-level key override the config: others share the prefix
        // without being configuration (CARDBATCH_LOG, the log filter; CARDBATCH_CONFIG, the
        // file's path; CARDBATCH_TEST_PG_URL, the test suite's database server).
        let env = Env::prefixed("CARDBATCH_")
            .filter(|key| {
                let key = key.as_str().to_ascii_lowercase();
                let top = key.split("__").next().unwrap_or_default();
                [
                    "database_url",
                    "server",
                    "worker",
                    "reconcile",
                    "retention",
                    "metrics",
                    "jobs_dir",
                    "profiles",
                ]
                .contains(&top)
            })
            .split("__");
        Self::from_figment(figment.merge(env))
    }

    /// Parses a config from TOML text (with the same defaults and checks as [`Config::load`],
    /// without environment overrides).
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        Self::from_figment(
            Figment::from(Serialized::defaults(Config::without_profiles()))
                .merge(Toml::string(text)),
        )
    }

    fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// The defaults with no profile: what a file without `[profiles]` gets before validation.
    pub fn without_profiles() -> Config {
        Config {
            database_url: "sqlite://cardbatch.db".to_string(),
            server: ServerConfig::default(),
            worker: WorkerConfig::default(),
            reconcile: ReconcileConfig::default(),
            retention: RetentionConfig::default(),
            metrics: MetricsConfig::default(),
            log_format: None,
            jobs_dir: defaults::jobs_dir(),
            profiles: BTreeMap::new(),
        }
    }

    /// The zero-config setup: a SQLite file in the working directory and one profile per provider
    /// pointing at the built-in sandbox, with defaults matching the sandbox's fixtures.
    pub fn builtin() -> Config {
        let mut config = Config::without_profiles();
        for kind in ProviderKind::ALL {
            config.profiles.insert(
                kind.as_str().to_string(),
                Profile::sandbox(kind, DEFAULT_SANDBOX_ADDR),
            );
        }
        config
    }

    pub fn profile(&self, name: &str) -> Result<&Profile, ConfigError> {
        self.profiles.get(name).ok_or_else(|| ConfigError::Invalid {
            key: format!("profiles.{name}"),
            problem: format!(
                "no such profile; configured profiles: {}",
                self.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })
    }

    /// The URL providers call back on.
    pub fn public_url(&self) -> String {
        self.server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.server.listen))
    }

    /// The path of [`Config::public_url`] without its trailing `/` (`/cardbatch` when a proxy
    /// serves cardbatch under it, empty at a host's root): providers that sign the path they
    /// call sign it under this prefix, which such a proxy strips before cardbatch sees it.
    pub fn public_path(&self) -> String {
        reqwest::Url::parse(&self.public_url())
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, problem: &str| {
            Err(ConfigError::Invalid {
                key,
                problem: problem.to_string(),
            })
        };
        if !(self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres"))
        {
            return invalid(
                "database_url".into(),
                "must start with sqlite: or postgres:// (e.g. sqlite://cardbatch.db)",
            );
        }
        // Bounds that keep every duration computed from the file finite: a value past them
        // would overflow a clock or a timestamp (and panic) rather than mean anything.
        if !(1..=MAX_LEASE_SECS).contains(&self.worker.lease_secs) {
            return invalid(
                "worker.lease_secs".into(),
                &format!("must be between 1 and {MAX_LEASE_SECS} (a day)"),
            );
        }
        if self.worker.shutdown_grace_secs > MAX_LEASE_SECS {
            return invalid(
                "worker.shutdown_grace_secs".into(),
                &format!("must be at most {MAX_LEASE_SECS} (a day)"),
            );
        }
        for (key, secs) in [
            (
                "reconcile.confirm_after_secs",
                self.reconcile.confirm_after_secs,
            ),
            ("reconcile.interval_secs", self.reconcile.interval_secs),
            (
                "reconcile.max_backoff_secs",
                self.reconcile.max_backoff_secs,
            ),
            (
                "reconcile.review_after_secs",
                self.reconcile.review_after_secs,
            ),
        ] {
            if secs > MAX_DELAY_SECS {
                return invalid(
                    key.into(),
                    &format!("must be at most {MAX_DELAY_SECS} (a year)"),
                );
            }
        }
        if self.worker.claim_batch == 0 {
            return invalid("worker.claim_batch".into(), "must be at least 1");
        }
        for (key, days) in [
            (
                "retention.personal_data_days",
                self.retention.personal_data_days,
            ),
            (
                "retention.delete_batches_days",
                self.retention.delete_batches_days,
            ),
        ] {
            if days.is_some_and(|d| !(1..=MAX_RETENTION_DAYS).contains(&d)) {
                return invalid(
                    key.into(),
                    &format!("must be between 1 and {MAX_RETENTION_DAYS} (100 years)"),
                );
            }
        }
        if !(1..=MAX_DELAY_SECS).contains(&self.retention.interval_secs) {
            return invalid(
                "retention.interval_secs".into(),
                &format!("must be between 1 and {MAX_DELAY_SECS} (a year)"),
            );
        }
        for (name, p) in &self.profiles {
            let key = |field: &str| format!("profiles.{name}.{field}");
            if !(p.base_url.starts_with("http://") || p.base_url.starts_with("https://")) {
                return invalid(key("base_url"), "must be an http:// or https:// URL");
            }
            if !(p.rate_limit_per_sec.is_finite() && p.rate_limit_per_sec > 0.0) {
                return invalid(key("rate_limit_per_sec"), "must be a number greater than 0");
            }
            if !(MIN_RATE_PER_SEC..=MAX_RATE_PER_SEC).contains(&p.rate_limit_per_sec) {
                return invalid(
                    key("rate_limit_per_sec"),
                    &format!(
                        "must be between {MIN_RATE_PER_SEC} (one call per 100 s) and {MAX_RATE_PER_SEC}"
                    ),
                );
            }
            if p.concurrency == 0 {
                return invalid(key("concurrency"), "must be at least 1");
            }
            if p.max_attempts == 0 {
                return invalid(key("max_attempts"), "must be at least 1");
            }
            if p.backoff_base_ms == 0 || p.backoff_base_ms > p.backoff_cap_ms {
                return invalid(
                    key("backoff_base_ms"),
                    "must be at least 1 and not above backoff_cap_ms",
                );
            }
            if !(1..=MAX_DELAY_SECS).contains(&p.give_up_after_secs) {
                return invalid(
                    key("give_up_after_secs"),
                    &format!("must be between 1 and {MAX_DELAY_SECS} (a year)"),
                );
            }
            if p.backoff_cap_ms > MAX_DELAY_SECS * 1000 {
                return invalid(
                    key("backoff_cap_ms"),
                    &format!("must be at most {} (a year)", MAX_DELAY_SECS * 1000),
                );
            }
            // A sent order whose worker died is looked up only this long after its (short,
            // heartbeat-kept) lease ran out, so any length works; only absurd ones are refused.
            if p.doubt_wait_ms.is_some_and(|ms| ms > MAX_DELAY_SECS * 1000) {
                return invalid(
                    key("doubt_wait_ms"),
                    &format!("must be at most {} (a year)", MAX_DELAY_SECS * 1000),
                );
            }
            if let Some(offset) = &p.spend_day_utc_offset
                && offset.parse::<chrono::FixedOffset>().is_err()
            {
                return invalid(
                    key("spend_day_utc_offset"),
                    "must be a UTC offset such as \"-03:00\" or \"+00:00\"",
                );
            }
            if let Some(rate) = p.pause_after_failure_rate
                && !(rate > 0.0 && rate <= 1.0)
            {
                return invalid(
                    key("pause_after_failure_rate"),
                    "must be a share above 0 and at most 1 (0.2 = 20%)",
                );
            }
            if p.sandbox_credentials && !p.is_loopback() {
                return invalid(
                    key("sandbox_credentials"),
                    "is only allowed for a loopback base_url (127.0.0.1, ::1, localhost): development keys are never sent elsewhere",
                );
            }
            for (cred, var) in &p.credentials_env {
                if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return invalid(
                        key(&format!("credentials_env.{cred}")),
                        "must name an environment variable (letters, digits, _); secrets are never written in the config file",
                    );
                }
            }
        }
        Ok(())
    }
}

impl Profile {
    /// A profile for `kind` aimed at a sandbox on `addr`, with defaults matching the sandbox's
    /// default fixtures (`crates/sandbox/src/fixtures.toml`).
    pub fn sandbox(kind: ProviderKind, addr: &str) -> Profile {
        let pairs: &[(&str, &str)];
        let creds: &[(&str, &str)];
        let base_url;
        match kind {
            ProviderKind::QitechPrepaid => {
                base_url = format!("http://{addr}/qitech");
                pairs = &[
                    ("account_key", "5294ed8d-08fc-4397-b15f-6d9aa07b0041"),
                    ("program_key", "7d405c31-ec9a-46c1-8ac8-54bab209bf41"),
                    ("type", "virtual"),
                    ("cvv_rotation_interval_hours", "72"),
                ];
                creds = &[
                    ("api_key", "QITECH_API_KEY"),
                    ("private_key", "QITECH_PRIVATE_KEY"),
                    ("qitech_public_key", "QITECH_PUBLIC_KEY"),
                ];
            }
            ProviderKind::QitechPostpaid => {
                base_url = format!("http://{addr}/qitech");
                pairs = &[
                    ("wallet_key", "3f9a7c2e-1b4d-4e8f-9a6c-5d2e8b7f1a30"),
                    ("card_type", "virtual"),
                ];
                creds = &[
                    ("api_key", "QITECH_API_KEY"),
                    ("private_key", "QITECH_PRIVATE_KEY"),
                    ("qitech_public_key", "QITECH_PUBLIC_KEY"),
                ];
            }
            ProviderKind::AlchemypayVcc => {
                base_url = format!("http://{addr}/alchemypay");
                pairs = &[("vid", "USD"), ("currency", "USD")];
                creds = &[
                    ("access_key", "ALCHEMYPAY_ACCESS_KEY"),
                    ("secret_key", "ALCHEMYPAY_SECRET_KEY"),
                ];
            }
            ProviderKind::Uqpay => {
                base_url = format!("http://{addr}/uqpay/api");
                pairs = &[
                    ("card_product_id", "467e993f-317a-49fc-9ea0-bf49de7d1f76"),
                    ("card_currency", "USD"),
                ];
                creds = &[
                    ("client_id", "UQPAY_CLIENT_ID"),
                    ("api_key", "UQPAY_API_KEY"),
                    ("webhook_secret", "UQPAY_WEBHOOK_SECRET"),
                ];
            }
        }
        let map = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Profile {
            provider: kind,
            base_url,
            credentials_env: map(creds),
            defaults: map(pairs),
            options: BTreeMap::new(),
            rate_limit_per_sec: defaults::rate_limit_per_sec(),
            concurrency: defaults::concurrency(),
            max_attempts: defaults::max_attempts(),
            backoff_base_ms: defaults::backoff_base_ms(),
            backoff_cap_ms: defaults::backoff_cap_ms(),
            // The sandbox's QI makes the card before it answers (a lost answer is lost after the
            // card exists), so it needs no wait beyond the backoff.
            doubt_wait_ms: Some(0),
            give_up_after_secs: defaults::give_up_after_secs(),
            sandbox_credentials: true,
            approval_over_orders: None,
            approval_over_amount: None,
            pause_after_failure_rate: None,
            pause_min_attempts: None,
            daily_spend_cap: None,
            spend_day_utc_offset: None,
        }
    }

    /// True when `base_url` points at this machine (127.0.0.0/8, `::1`, `localhost`).
    pub fn is_loopback(&self) -> bool {
        let Some(rest) = self
            .base_url
            .strip_prefix("http://")
            .or_else(|| self.base_url.strip_prefix("https://"))
        else {
            return false;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        // Credentials in the URL (`user@host`) are not a host.
        let host_port = authority.rsplit('@').next().unwrap_or_default();
        let host = match host_port.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host_port.split(':').next().unwrap_or_default(),
        };
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_config_has_one_valid_profile_per_provider() {
        let config = Config::builtin();
        config.validate().unwrap();
        for kind in ProviderKind::ALL {
            assert_eq!(config.profile(kind.as_str()).unwrap().provider, kind);
        }
    }

    #[test]
    fn the_public_path_is_the_public_urls_path_without_its_trailing_slash() {
        let path = |url: Option<&str>| {
            let mut config = Config::builtin();
            config.server.public_url = url.map(str::to_string);
            config.public_path()
        };
        assert_eq!(
            path(Some("https://ops.example.com/cardbatch/")),
            "/cardbatch"
        );
        assert_eq!(path(Some("https://ops.example.com/a/b")), "/a/b");
        assert_eq!(path(Some("https://cards.example.com")), "");
        assert_eq!(path(None), "", "the listen address: a host's root");
    }

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../examples/cardbatch.toml");
        let config = Config::from_toml_str(text).unwrap();
        assert!(!config.profiles.is_empty());
    }

    #[test]
    fn the_controls_amounts_read_as_integers_decimals_or_text_and_bad_values_are_named() {
        let base = "database_url = \"sqlite://x.db\"\n[profiles.p]\nprovider = \"uqpay\"\nbase_url = \"http://127.0.0.1:9\"\n";
        let p = |extra: &str| Config::from_toml_str(&format!("{base}{extra}"));
        let amount = |extra: &str| {
            p(extra).unwrap().profiles["p"]
                .daily_spend_cap
                .unwrap()
                .minor
        };
        assert_eq!(amount("daily_spend_cap = 1000\n"), 100_000);
        assert_eq!(amount("daily_spend_cap = 12.5\n"), 1_250);
        assert_eq!(amount("daily_spend_cap = \"12,50\"\n"), 1_250);
        let err = p("pause_after_failure_rate = 1.5\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pause_after_failure_rate"), "{err}");
        let err = p("spend_day_utc_offset = \"BRT\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("spend_day_utc_offset"), "{err}");
        let err = p("approval_over_amount = \"lots\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("approval_over_amount"), "{err}");
    }

    #[test]
    fn a_misspelled_key_is_named_in_the_error() {
        let err = Config::from_toml_str(
            "database_url = \"sqlite://x.db\"\n[profiles.p]\nprovider = \"uqpay\"\nbase_url = \"http://x\"\nrate_limit = 3\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("rate_limit"), "{err}");
    }

    #[test]
    fn a_wrongly_typed_value_names_its_key() {
        let err = Config::from_toml_str(
            "database_url = \"sqlite://x.db\"\n[profiles.p]\nprovider = \"uqpay\"\nbase_url = \"http://x\"\nconcurrency = \"many\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("concurrency"), "{err}");
    }

    #[test]
    fn a_zero_rate_limit_is_refused_with_its_key() {
        let err = Config::from_toml_str(
            "database_url = \"sqlite://x.db\"\n[profiles.p]\nprovider = \"uqpay\"\nbase_url = \"http://x\"\nrate_limit_per_sec = 0\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("profiles.p.rate_limit_per_sec"), "{err}");
    }

    #[test]
    fn values_that_would_overflow_a_clock_are_refused_with_their_key() {
        let base = "database_url = \"sqlite://x.db\"\n";
        let profile = "[profiles.p]\nprovider = \"uqpay\"\nbase_url = \"http://x\"\n";
        for (text, key) in [
            (
                format!("{profile}rate_limit_per_sec = 1e-300\n"),
                "profiles.p.rate_limit_per_sec",
            ),
            (
                format!("{profile}rate_limit_per_sec = 1e300\n"),
                "profiles.p.rate_limit_per_sec",
            ),
            (
                format!("[worker]\nlease_secs = 9223372036854775807\n{profile}"),
                "worker.lease_secs",
            ),
            (
                format!("{profile}doubt_wait_ms = 9223372036854775807\n"),
                "profiles.p.doubt_wait_ms",
            ),
            (
                format!("{profile}backoff_cap_ms = 9223372036854775807\n"),
                "profiles.p.backoff_cap_ms",
            ),
            (
                "[reconcile]\ninterval_secs = 9223372036854775807\n".to_string(),
                "reconcile.interval_secs",
            ),
        ] {
            let err = Config::from_toml_str(&format!("{base}{text}"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(key), "{key}: {err}");
        }
    }

    #[test]
    fn sandbox_credentials_are_refused_for_a_remote_provider() {
        let text = |url: &str| {
            format!(
                "database_url = \"sqlite://x.db\"\n[profiles.p]\nprovider = \"uqpay\"\nbase_url = \"{url}\"\nsandbox_credentials = true\n"
            )
        };
        for url in [
            "https://api.uqpay.com/api",
            "http://127.0.0.1.evil.example/x",
            "http://127.0.0.1@evil.example/",
        ] {
            let err = Config::from_toml_str(&text(url)).unwrap_err().to_string();
            assert!(
                err.starts_with("profiles.p.sandbox_credentials"),
                "{url}: {err}"
            );
        }
        for url in [
            "http://127.0.0.1:7070/uqpay/api",
            "http://localhost:7070",
            "http://[::1]:7070/",
        ] {
            Config::from_toml_str(&text(url)).unwrap();
        }
    }

    #[test]
    fn an_unknown_provider_is_refused() {
        let err = Config::from_toml_str(
            "database_url = \"sqlite://x.db\"\n[profiles.p]\nprovider = \"visa\"\nbase_url = \"http://x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("provider"), "{err}");
    }

    #[test]
    fn a_secret_value_in_place_of_an_env_var_name_is_refused() {
        let err = Config::from_toml_str(
            "database_url = \"sqlite://x.db\"\n[profiles.p]\nprovider = \"uqpay\"\nbase_url = \"http://x\"\n[profiles.p.credentials_env]\napi_key = \"sk-live/abc+def=\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("profiles.p.credentials_env.api_key"), "{err}");
    }
}
