//! What the demo is told, and how it can fail.

use std::path::PathBuf;
use std::time::Duration;

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The directory the demo works in: its SQLite file, the submitted CSVs and the results
    /// CSVs. It is emptied first, so every run starts fresh.
    pub dir: PathBuf,
    /// How long every order may take to become final before the demo gives up.
    pub settle_timeout: Duration,
    /// Seed of the sandbox's fault rolls, so a run is repeatable.
    pub seed: u64,
}

impl DemoOptions {
    /// The defaults with `dir` as the working directory.
    pub fn new(dir: impl Into<PathBuf>) -> DemoOptions {
        DemoOptions {
            dir: dir.into(),
            // Generous: a debug build on two busy cores settles in well under a minute.
            settle_timeout: Duration::from_secs(90),
            seed: 0x00de_3000,
        }
    }
}

/// Why the demo could not finish. A demo that finishes with differences from the ledger is not
/// an error: see [`super::DemoOutcome::is_reconciled`].
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The demo directory could not be prepared or written.
    #[error("demo directory {path}: {source}")]
    Dir {
        /// The path at fault.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Binding a loopback port failed.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(std::io::Error),
    /// The sandbox did not start.
    #[error("the sandbox did not start: {0}")]
    Sandbox(#[from] crate::sandbox::SandboxError),
    /// A provider client, webhook key or reverse-validation key could not be set up.
    #[error("cannot set up profile {profile}: {problem}")]
    Profile {
        /// The profile.
        profile: String,
        /// What is wrong.
        problem: String,
    },
    /// The database failed.
    #[error("database: {0}")]
    Store(#[from] crate::store::Error),
    /// An example CSV was not queued.
    #[error("submitting {file}: {problem}")]
    Submit {
        /// The example file.
        file: String,
        /// What went wrong.
        problem: String,
    },
    /// Orders were still moving when the timeout passed.
    #[error("orders still moving after {waited:?}: {moving}")]
    Timeout {
        /// How long the demo waited.
        waited: Duration,
        /// The states the orders were still in, with counts.
        moving: String,
    },
    /// The reconciliation report left a batch out.
    #[error("the reconciliation report has no batch {0}")]
    Report(uuid::Uuid),
    /// The workers stopped with an error.
    #[error("the workers failed: {0}")]
    Worker(String),
}
