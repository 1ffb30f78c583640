//! Tables and JSON for the read commands.

pub use crate::domain::text::neutralise_cell;

use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use serde::Serialize;

/// `println!` on stdout that returns the write error instead of panicking: when stdout is a pipe
/// whose reader has gone (`cardbatch orders B | head`), the command stops quietly ([`is_closed_pipe`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `print!` counterpart of [`outln!`] (only the demo prints text without a line end).
#[cfg(feature = "sandbox")]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

#[cfg(feature = "sandbox")]
pub(crate) use out;
pub(crate) use outln;

/// True when `err` comes from writing to a pipe nobody reads any more; the command then ends
/// quietly, as `yes | head` does.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().or_else(|| {
            cause
                .downcast_ref::<csv::Error>()
                .and_then(|e| match e.kind() {
                    csv::ErrorKind::Io(io) => Some(io),
                    _ => None,
                })
        });
        io.is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `err` and its causes on one line, `a: b: c`, each cause once. Many of our errors name their
/// cause in their own message and also expose it as their source (thiserror's `{0}` with
/// `#[from]`), and sqlx's errors do the same, so anyhow's `{:#}` printed the same text two or
/// three times ("unable to open database file: unable to open database file"). A cause whose
/// text the line already holds is left out.
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Prints rows as a table sized to the terminal.
pub fn print_table(
    headers: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> std::io::Result<()> {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.to_vec());
    for row in rows {
        table.add_row(row);
    }
    outln!("{table}")
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

/// Formats integer minor units as a decimal amount (`123456` -> `1234.56`).
pub fn format_minor(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open the store: {0}")]
    struct Outer(#[from] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("disk full")]
    struct Inner;

    #[test]
    fn an_error_line_names_each_cause_once() {
        let repeated = anyhow::Error::from(Outer(Inner));
        assert_eq!(
            format!("{repeated:#}"),
            "cannot open the store: disk full: disk full"
        );
        assert_eq!(error_line(&repeated), "cannot open the store: disk full");
        let distinct = anyhow::Error::from(Inner).context("writing the batch");
        assert_eq!(error_line(&distinct), "writing the batch: disk full");
    }

    #[test]
    fn minor_units_print_with_two_decimals() {
        assert_eq!(format_minor(123456), "1234.56");
        assert_eq!(format_minor(5), "0.05");
        assert_eq!(format_minor(-1050), "-10.50");
    }
}
