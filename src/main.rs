//! The `cardbatch` binary: parse the command line, set up logging, dispatch. Every error ends
//! as one line on stderr and a non-zero exit code.

use cardbatch::cli::{Cli, LogFormat, dispatch};
use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr so that stdout stays clean for tables, JSON and CSV. The demo prints its
    // own story; its routine info lines (lane slow-downs, reconciler passes) would only interleave.
    #[cfg(feature = "sandbox")]
    let quiet = matches!(cli.command, cardbatch::cli::Command::Demo { .. });
    #[cfg(not(feature = "sandbox"))]
    let quiet = false;
    let default_filter = if quiet { "warn" } else { "warn,cardbatch=info" };
    let filter =
        EnvFilter::try_from_env("CARDBATCH_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Flag > CARDBATCH_LOG_FORMAT (both through clap) > the config's `log_format` > text. A
    // config that cannot be read is reported by the command itself, after this.
    let log_format = cli.log_format.unwrap_or_else(|| {
        cardbatch::config::Config::load(cli.config.as_deref())
            .ok()
            .and_then(|c| c.log_format)
            .unwrap_or(LogFormat::Text)
    });
    match log_format {
        LogFormat::Json => logs.json().init(),
        // Colours only for a terminal: logs redirected to a file stay plain text.
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    match dispatch(cli).await {
        Ok(code) => code,
        // The reader of our stdout went away (`| head`): stop quietly, as `yes | head` does.
        Err(err) if cardbatch::cli::is_closed_pipe(&err) => ExitCode::from(141),
        Err(err) => {
            eprintln!("error: {}", cardbatch::cli::error_line(&err));
            ExitCode::FAILURE
        }
    }
}
