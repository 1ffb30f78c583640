//! Running the real `cardbatch` binary as a child process: a config file pointing at the
//! test's sandbox and database, credentials in the child's environment only.

use super::dev_credentials;
use cardbatch::config::{Config, Profile};
use cardbatch::domain::ProviderKind;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// Runs the `cardbatch` binary with `args` to its end, without the test's Postgres URL in its
/// environment: (exit code, stdout, stderr).
pub async fn cardbatch_output<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cardbatch"))
        .env_remove(super::PG_URL_VAR)
        .args(args)
        .output()
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The environment variable a child reads credential `name` of `kind` from.
fn env_var(kind: ProviderKind, name: &str) -> String {
    format!("E2E_{}_{}", kind.as_str(), name).to_uppercase()
}

/// Writes a `cardbatch.toml` with one profile (`profile`, named after its provider) on
/// `database_url`, the server on an ephemeral loopback port, and short leases so that a killed
/// process's orders are taken over quickly.
pub fn write_config(dir: &Path, database_url: &str, profile: &Profile, lease_secs: u64) -> PathBuf {
    let mut config =
        Config::from_toml_str(&format!("database_url = {database_url:?}")).expect("a config");
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.worker.lease_secs = lease_secs;
    config.worker.claim_batch = 16;
    config.worker.idle_poll_ms = 10;
    config.worker.shutdown_grace_secs = 10;
    let profile = with_env_credentials(profile.clone());
    config
        .profiles
        .insert(profile.provider.as_str().to_string(), profile);
    let path = dir.join(format!("cardbatch-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        toml::to_string(&config).expect("the config serialises"),
    )
    .unwrap();
    path
}

/// `profile` reading its credentials from the variables [`RunProcess::command`] sets.
fn with_env_credentials(mut profile: Profile) -> Profile {
    profile.credentials_env = dev_credentials(profile.provider)
        .into_iter()
        .map(|(name, _)| (name.to_string(), env_var(profile.provider, name)))
        .collect();
    profile
}

/// A `cardbatch` child (`run`, `worker`, `serve`) whose stderr goes to a file.
pub struct RunProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl RunProcess {
    /// Starts `cardbatch run --config <config>` with `kind`'s dev credentials in its environment.
    pub fn spawn(config: &Path, kind: ProviderKind, log: PathBuf) -> RunProcess {
        RunProcess::command(config, "run", &[kind], log)
    }

    /// Starts `cardbatch --config <config> <command>` (`run`, `worker`, `serve`, with their
    /// options after a space) with the dev credentials of `kinds` in its environment.
    pub fn command(
        config: &Path,
        command: &str,
        kinds: &[ProviderKind],
        log: PathBuf,
    ) -> RunProcess {
        let stderr = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cardbatch"));
        cmd.arg("--config")
            .arg(config)
            .args(command.split_whitespace());
        // The child reads CARDBATCH_* as configuration; the test's own variables must not leak.
        for (key, _) in std::env::vars() {
            if key.starts_with("CARDBATCH_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("CARDBATCH_LOG", "warn,cardbatch=info");
        for kind in kinds {
            for (name, value) in dev_credentials(*kind) {
                cmd.env(env_var(*kind, name), value);
            }
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .expect("the cardbatch binary starts");
        RunProcess { child, log }
    }

    /// SIGKILL: no shutdown, no release, calls cut mid-flight.
    pub async fn kill9(mut self) {
        self.child.kill().await.expect("SIGKILL");
    }

    /// SIGTERM, then waits for a clean exit; returns what the process logged.
    pub async fn terminate(mut self) -> String {
        let pid = self.child.id().expect("still running");
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the process stops within a minute of SIGTERM")
            .unwrap();
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(exit.success(), "cardbatch run exited {exit}: {log}");
        log
    }

    /// Whether the process has exited already (it must not, while the test runs it).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }
}

/// Orders the `lane stopped` lines of a run's log say it completed.
pub fn completed_in_log(log: &str) -> u64 {
    strip_ansi(log)
        .lines()
        .filter(|l| l.contains("lane stopped"))
        .filter_map(|l| l.split("completed=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|n| n.parse::<u64>().ok())
        .sum()
}

/// The log without terminal colour sequences (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
