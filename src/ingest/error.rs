//! What can go wrong while reading an order file: a problem with the whole file (fatal, nothing
//! is ingested) or problems with single rows (reported all at once, the other rows go on).

use crate::domain::ProviderKind;
use std::fmt;

/// Why bytes that are not UTF-8 refuse the file, without the line: a [`RowError`] names its line
/// itself, [`FileError::NotUtf8`] prefixes it.
pub(crate) const NOT_UTF8: &str = "the file is not valid UTF-8; it looks like Latin-1/Windows-1252 (Excel's plain \"CSV\" export). \
     Re-save it as UTF-8 (Excel: \"CSV UTF-8\"; LibreOffice: character set \"Unicode (UTF-8)\") and try again";

/// A problem that makes the whole file unusable; returned by [`super::CsvOrders::new`].
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The bytes are not UTF-8. Excel's plain "CSV" export on Windows writes Windows-1252, which
    /// would otherwise turn `João` into mojibake in every card.
    #[error("line {line}: {}", NOT_UTF8)]
    NotUtf8 { line: u64 },
    /// The file starts with a UTF-16 byte order mark (Excel's "Unicode text" export).
    #[error(
        "the file is UTF-16 (Excel's \"Unicode text\" export); save it as \"CSV UTF-8\" and try again"
    )]
    Utf16,
    /// Required columns are absent from the header and the profile has no default for them.
    #[error("missing required column(s) for {provider}: {}; add them to the header or set them as profile defaults", columns.join(", "))]
    MissingColumns {
        provider: ProviderKind,
        columns: Vec<String>,
    },
    /// Header names that are not columns of this provider (usually a typo).
    #[error("unknown column(s) for {provider}: {}{}; the allowed columns are: {}", columns.join(", "), hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default(), allowed.join(", "))]
    UnknownColumns {
        provider: ProviderKind,
        columns: Vec<String>,
        allowed: Vec<String>,
        /// Why a column that looks right is not accepted, when we know (e.g. QI prepaid `card_name`).
        hint: Option<String>,
    },
    /// The same column appears twice in the header (names compare trimmed and case-insensitive).
    #[error("column(s) appear more than once in the header: {}", columns.join(", "))]
    DuplicateColumns { columns: Vec<String> },
    /// A profile default names a column this provider does not have: a configuration mistake.
    #[error("profile default(s) for {provider} name unknown column(s): {}; the allowed columns are: {}", keys.join(", "), allowed.join(", "))]
    UnknownDefaults {
        provider: ProviderKind,
        keys: Vec<String>,
        allowed: Vec<String>,
    },
    /// A profile default for `order_ref`: every row would share one reference.
    #[error("a profile cannot default order_ref: each row needs its own reference")]
    OrderRefDefault,
    /// No header line at all: the file has no bytes, or only blank lines, whitespace or a byte
    /// order mark.
    #[error("the file is empty: expected a header line naming the columns")]
    Empty,
    /// A header and no order: most likely the wrong file, or an export that lost its rows.
    #[error("the file has a header but no orders: nothing to queue")]
    NoOrders,
    /// Reading the input failed.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The CSV parser refused the header.
    #[error("malformed CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// One problem with one cell (or the row as a whole when `column` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The column, in its canonical lower-case name.
    pub column: Option<String>,
    /// What is wrong, in words; personal data is masked.
    pub reason: String,
}

/// A rejected row: every problem found on it, where it is, and its original cells.
///
/// When `fatal` is true the file cannot be read any further (bytes that are not UTF-8, or an I/O
/// error after the header); the iterator yields this error once and then ends, and the caller
/// must treat the whole file as refused. This keeps one error channel for the streaming reader
/// instead of a second, out-of-band one.
#[derive(Debug, Clone)]
pub struct RowError {
    /// Physical line where the record starts (the header is line 1).
    pub line: u64,
    /// The column of the first problem.
    pub column: Option<String>,
    /// Every problem of the row, joined with `; `, each as `column: reason`.
    pub reason: String,
    /// The problems one by one.
    pub problems: Vec<Problem>,
    /// The row's original cells, for the rejects file (empty for a fatal error).
    pub record: csv::StringRecord,
    /// The file cannot be read further; see the type's documentation.
    pub fatal: bool,
}

impl RowError {
    pub(crate) fn new(
        line: u64,
        problems: Vec<Problem>,
        record: csv::StringRecord,
        fatal: bool,
    ) -> RowError {
        let reason = problems
            .iter()
            .map(|p| match &p.column {
                Some(c) => format!("{c}: {}", p.reason),
                None => p.reason.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ");
        RowError {
            line,
            column: problems.first().and_then(|p| p.column.clone()),
            reason,
            problems,
            record,
            fatal,
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, {}", self.line, self.reason)
    }
}

impl std::error::Error for RowError {}
