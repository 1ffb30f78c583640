//! One record seen through its provider's schema: cells by column index with profile defaults
//! applied, and the problems found so far. Validators read cells through [`Row`] and never stop
//! at the first problem, so a row reports everything that is wrong with it at once.
//!
//! A record is anything with [`Cells`]: a CSV `StringRecord`, or a row read from a database
//! query (`jobs::db_source`), so every source is validated by the same code.

use super::schema::ColumnMap;
use chrono::{DateTime, NaiveDate, Utc};

/// The clock a file is validated against, read once per file so every row agrees.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
}

/// The cells of one record, by position: what a validator reads, whatever the source.
pub(crate) trait Cells {
    /// The cell at `pos` as written (untrimmed); `None` when the record has no such cell or
    /// the source holds no value there (SQL `NULL`).
    fn cell_at(&self, pos: usize) -> Option<&str>;
}

impl Cells for csv::StringRecord {
    fn cell_at(&self, pos: usize) -> Option<&str> {
        self.get(pos)
    }
}

impl Cells for Vec<Option<String>> {
    fn cell_at(&self, pos: usize) -> Option<&str> {
        self.get(pos)?.as_deref()
    }
}

/// A record under validation.
pub(crate) struct Row<'r> {
    record: &'r dyn Cells,
    map: &'r ColumnMap,
    names: &'static [&'static str],
    pub clock: Clock,
    /// (column, reason) pairs; allocated only when a row has a problem.
    pub problems: Vec<(Option<&'static str>, String)>,
}

impl<'r> Row<'r> {
    pub fn new(
        record: &'r dyn Cells,
        map: &'r ColumnMap,
        names: &'static [&'static str],
        clock: Clock,
    ) -> Row<'r> {
        Row {
            record,
            map,
            names,
            clock,
            problems: Vec::new(),
        }
    }

    /// The cell as written in this row, trimmed; `None` when the column is absent or empty.
    pub fn cell(&self, col: usize) -> Option<&'r str> {
        let pos = self.map.index[col]?;
        let value = trim_cell(self.record.cell_at(pos)?);
        (!value.is_empty()).then_some(value)
    }

    /// The cell, else the profile default; the flag tells whether the default was used.
    fn value(&self, col: usize) -> Option<(&'r str, bool)> {
        match self.cell(col) {
            Some(v) => Some((v, false)),
            None => self.map.defaults[col].as_deref().map(|v| (v, true)),
        }
    }

    /// The cell, else the profile default.
    pub fn get(&self, col: usize) -> Option<&'r str> {
        self.value(col).map(|(v, _)| v)
    }

    /// Records a problem with a column.
    pub fn fail(&mut self, col: usize, reason: impl Into<String>) {
        self.problems.push((Some(self.names[col]), reason.into()));
    }

    /// Records a problem with the row as a whole.
    pub fn fail_row(&mut self, reason: impl Into<String>) {
        self.problems.push((None, reason.into()));
    }

    /// True once any problem was recorded.
    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }

    /// Validates the value of `col` when there is one (cell or default).
    pub fn opt<T>(
        &mut self,
        col: usize,
        check: impl FnOnce(&'r str) -> Result<T, String>,
    ) -> Option<T> {
        let (value, from_default) = self.value(col)?;
        match check(value) {
            Ok(v) => Some(v),
            Err(reason) => {
                let reason = if from_default {
                    format!("{reason} (value from the profile default)")
                } else {
                    reason
                };
                self.fail(col, reason);
                None
            }
        }
    }

    /// Validates the value of `col`, which must be present.
    pub fn req<T>(
        &mut self,
        col: usize,
        check: impl FnOnce(&'r str) -> Result<T, String>,
    ) -> Option<T> {
        if self.value(col).is_none() {
            self.fail(col, "is required");
            return None;
        }
        self.opt(col, check)
    }

    /// Refuses a cell this row fills although it is not allowed here (`why` says when it is).
    /// A profile default for it is silently not applied.
    pub fn forbid(&mut self, col: usize, why: &str) {
        if self.cell(col).is_some() {
            self.fail(col, format!("is not allowed {why}; leave it empty"));
        }
    }

    /// True when the row itself fills any of `cols` (profile defaults do not count).
    pub fn fills_any(&self, cols: impl IntoIterator<Item = usize>) -> bool {
        cols.into_iter().any(|c| self.cell(c).is_some())
    }
}

/// Trims a cell, skipping the Unicode-aware `str::trim` for the usual cell that starts and ends
/// with a plain ASCII character: this runs for every cell of every row.
fn trim_cell(s: &str) -> &str {
    let plain = |b: &u8| !b.is_ascii_whitespace() && b.is_ascii();
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) if plain(first) && plain(last) => s,
        _ => s.trim(),
    }
}
