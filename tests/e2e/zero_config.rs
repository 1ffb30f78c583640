//! The README's "Trying it by hand", as a newcomer runs it: `cardbatch sandbox` in one terminal,
//! `cardbatch submit …` and `cardbatch run` in another, with an empty environment, no
//! configuration file and a fresh directory. Every example order must be issued (QI Tech plastic
//! cards wait for their holder's activation, `submitted`), and confirmed by the provider's
//! webhook where it sends one.
//!
//! It uses the default addresses the README's commands use (the sandbox on 127.0.0.1:7070,
//! cardbatch on 127.0.0.1:8080), so it needs them free.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const KINDS: [&str; 4] = [
    "uqpay",
    "qitech_prepaid",
    "qitech_postpaid",
    "alchemypay_vcc",
];

/// `cardbatch ARGS` in `dir` with nothing in its environment.
fn cardbatch(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cardbatch"));
    cmd.current_dir(dir).env_clear();
    cmd
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let out = cardbatch(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "cardbatch {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn spawn(dir: &Path, args: &[&str], log: &str) -> KillOnDrop {
    let child = cardbatch(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(log)).unwrap())
        .spawn()
        .unwrap();
    KillOnDrop(child)
}

/// A child process stopped with the test, pass or fail.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn example(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/orders")
        .join(format!("{kind}.csv"))
}

/// The example rows of `kind` for plastic cards (QI Tech: `type` / `card_type` = plastic).
fn plastic_rows(kind: &str) -> u64 {
    let column = match kind {
        "qitech_prepaid" => "type",
        "qitech_postpaid" => "card_type",
        _ => return 0,
    };
    let text = std::fs::read_to_string(example(kind)).unwrap();
    let header = text.lines().next().unwrap_or_default();
    let delimiter = if header.contains(';') { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let at = headers
        .iter()
        .position(|h| h.trim_start_matches('\u{feff}') == column)
        .unwrap_or_else(|| panic!("{kind}: no {column} column in {headers:?}"));
    reader
        .records()
        .filter(|r| r.as_ref().unwrap().get(at) == Some("plastic"))
        .count() as u64
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_two_terminals_of_the_readme_issue_every_example_order_with_no_configuration() {
    // Arrange: a fresh directory; the first terminal.
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let _sandbox = spawn(dir, &["sandbox"], "sandbox.log");

    // Act: the second terminal (submit waits for nothing; the sandbox is only needed by `run`).
    for kind in KINDS {
        let file = example(kind);
        run(dir, &["submit", file.to_str().unwrap(), "--provider", kind]);
    }
    let _run = spawn(dir, &["run"], "run.log");

    // Assert: every order leaves the queue; only plastic cards stay `submitted`.
    let plastic: u64 = KINDS.iter().map(|k| plastic_rows(k)).sum();
    assert!(plastic > 0, "the examples hold plastic cards");
    let started = Instant::now();
    let batches = loop {
        let batches = json(&run(dir, &["batches", "--json"]));
        let count = |state: &str| -> u64 {
            batches
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["counts"][state].as_u64().unwrap_or(0))
                .sum()
        };
        let moving: u64 = ["queued", "in_flight", "retry_wait", "in_doubt"]
            .iter()
            .map(|s| count(s))
            .sum();
        if moving == 0 && count("submitted") == plastic {
            break batches;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "orders still moving: {batches}\nrun: {}\nsandbox: {}",
            std::fs::read_to_string(dir.join("run.log")).unwrap_or_default(),
            std::fs::read_to_string(dir.join("sandbox.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let report = json(&run(dir, &["reconcile", "--json"]));
    for batch in batches.as_array().unwrap() {
        let profile = batch["profile"].as_str().unwrap();
        let orders = batch["orders"].as_u64().unwrap();
        let issued = batch["counts"]["issued"].as_u64().unwrap_or(0);
        assert_eq!(issued + plastic_rows(profile), orders, "{profile}: {batch}");
        let reconciled = report["batches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["batch_id"] == batch["id"])
            .unwrap();
        let by_webhook = reconciled["confirmed_by_webhook"].as_u64().unwrap();
        match profile {
            // Alchemy Pay's callback is unsigned: each is confirmed by a card-info lookup, and
            // only the callback carries the card id that lookup needs, so every issued order's
            // callback came.
            "alchemypay_vcc" => assert_eq!(
                reconciled["confirmed_by_lookup"].as_u64().unwrap(),
                issued,
                "{reconciled}"
            ),
            _ => assert_eq!(by_webhook, issued, "{profile}: {reconciled}"),
        }
    }
}
