//! [`CsvOrders`]: a streaming reader that turns an order file into validated [`NewOrder`]s and
//! row errors, one record at a time.
//!
//! Memory stays flat whatever the file's size: the file is read through a buffer, one
//! `StringRecord` is reused for every row, and nothing about earlier rows is kept (a repeated
//! `order_ref` is found by the store's unique index when the rows are written). The
//! `StringRecord` (rather than a `ByteRecord`) makes the csv crate check each cell's UTF-8 while
//! it parses, and report the record's position and cell when the check fails.

use super::check::RowChecker;
use super::dialect;
use super::error::{FileError, NOT_UTF8, Problem, RowError};
use super::row::Row;
use super::schema::Schema;
use super::{alchemypay_vcc, qitech_postpaid, qitech_prepaid, uqpay};
use crate::domain::{NewOrder, Payload, ProviderKind};
use csv::StringRecord;
use std::collections::BTreeMap;
use std::io::{Chain, Read};

/// What a provider's validator returns for a row without problems.
pub(crate) struct Validated {
    /// The provider's order, in its own field names, money in minor units.
    pub payload: Payload,
    pub amount_minor: Option<i64>,
    pub currency: Option<&'static str>,
}

/// A provider's row validator: records problems on the row, returns the order if it has none.
/// `order_ref` is the row's (already checked) reference, empty when it is invalid.
pub(crate) type Validator = fn(&mut Row<'_>, &str) -> Option<Validated>;

/// The orders of one CSV file for one provider, validated, in file order.
///
/// Yields `Ok(NewOrder)` for a good row and `Err(RowError)` for a row with problems, then goes
/// on with the next row, so one pass reports every problem in the file. Rows whose cells are all
/// empty (spreadsheets leave them at the end) are skipped. Line endings may be `\n`, `\r\n` or
/// lone `\r`, mixed; line numbers are physical lines of the file as written. Bytes that are not
/// UTF-8 after the header end the iteration with one `RowError` whose `fatal` is true: the whole
/// file must then be refused.
pub struct CsvOrders<R: Read> {
    reader: csv::Reader<Chain<dialect::Normalised<R>, &'static [u8]>>,
    headers: StringRecord,
    record: StringRecord,
    delimiter: u8,
    /// Physical lines before the csv reader's first line (an Excel `sep=` line).
    lines_skipped: u64,
    checker: RowChecker,
    done: bool,
}

impl<R: Read> CsvOrders<R> {
    /// Reads and checks the header; fatal problems (encoding, missing/unknown/duplicate columns,
    /// profile defaults naming unknown columns, an empty file) are returned here. Blank lines
    /// before the header are skipped; a file of nothing else is [`FileError::Empty`].
    ///
    /// `defaults` are the profile's column -> value defaults: a default applies when its column
    /// is absent from the header or the row's cell is empty, and is validated like a cell.
    pub fn new(
        input: R,
        provider: ProviderKind,
        defaults: &BTreeMap<String, String>,
    ) -> Result<Self, FileError> {
        let (buf, dialect) = dialect::sniff(input)?;
        let delimiter = dialect.delimiter;
        let buf = buf.chain(TAIL);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(64 * 1024)
            .delimiter(delimiter)
            .from_reader(buf);
        let mut headers = StringRecord::new();
        loop {
            match reader.read_record(&mut headers) {
                // Lines of spaces (or `;;;` from a spreadsheet) are not a header.
                Ok(true) if headers.iter().all(|c| c.trim().is_empty()) => continue,
                Ok(true) => break,
                Ok(false) => return Err(FileError::Empty),
                Err(e) => {
                    return Err(match e.kind() {
                        csv::ErrorKind::Utf8 { pos, .. } => FileError::NotUtf8 {
                            line: pos.as_ref().map_or(1, |p| p.line()) + dialect.lines_skipped,
                        },
                        _ => FileError::Csv(e),
                    });
                }
            }
        }
        let checker = RowChecker::new(provider, &headers, defaults)?;
        Ok(CsvOrders {
            reader,
            headers,
            record: StringRecord::new(),
            delimiter,
            lines_skipped: dialect.lines_skipped,
            checker,
            done: false,
        })
    }

    /// The header as written in the file, for the rejects file.
    pub fn headers(&self) -> &StringRecord {
        &self.headers
    }

    /// The delimiter found in the header line: `b','` or `b';'`.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The provider the rows are validated for.
    pub fn provider(&self) -> ProviderKind {
        self.checker.provider()
    }

    /// The physical line where the record just read starts (the header is line 1, or 2 after
    /// a `sep=` line).
    ///
    /// The csv reader's own record position is the line where the previous record ended, which
    /// is wrong after blank lines. Its line counter after the read is exact, though: it has
    /// counted every `\n` consumed (after [`Newlines`](super::newlines::Newlines) every line
    /// ending is one `\n`), so the start is that count minus the line breaks inside quoted cells,
    /// minus the record's terminating `\n`.
    fn record_start_line(&self) -> u64 {
        let after = self.reader.position().line();
        let embedded = bytecount_newlines(self.record.as_byte_record().as_slice());
        // A cell still open at the end of the file took the tail's line break in: it is
        // counted among the embedded ones already, and the record has no terminator.
        let terminator = u64::from(!self.ran_to_end_in_a_quote());
        (after + self.lines_skipped).saturating_sub(embedded + terminator)
    }

    /// The record just read ended inside a quoted cell: it holds the `\r` of [`TAIL`], which
    /// the normalised file never contains, so a quote opened in it was never closed.
    fn ran_to_end_in_a_quote(&self) -> bool {
        self.record.as_byte_record().as_slice().contains(&b'\r')
    }

    /// A cell opened with `"` and never closed swallows every line after it into one record:
    /// the rows it ate cannot be skipped one by one, so the whole file is refused (even with
    /// `--skip-invalid`), naming the line of the quote.
    fn unterminated_quote(&self, line: u64) -> Option<RowError> {
        if !self.ran_to_end_in_a_quote() {
            return None;
        }
        // The last line with text in it: the line breaks at the very end are the file's own
        // (or the tail's).
        let bytes = self.record.as_byte_record().as_slice();
        let text_end = bytes
            .iter()
            .rposition(|&b| b != b'\n' && b != b'\r')
            .map_or(0, |i| i + 1);
        let last = line + bytecount_newlines(&bytes[..text_end]);
        let reason = format!(
            "a quote (\") opens a cell here that is never closed: it runs to the end of the file \
             (line {last}) and takes in every row after it; close or remove the quote"
        );
        Some(RowError::new(
            line,
            vec![Problem {
                column: None,
                reason,
            }],
            StringRecord::new(),
            true,
        ))
    }

    fn check_record(&mut self, line: u64) -> Result<NewOrder, RowError> {
        self.checker
            .check(&self.record, self.record.len(), line)
            .map_err(|problems| RowError::new(line, problems, self.record.clone(), false))
    }

    /// Turns a read error after the header into the final, fatal row error. The record's cells
    /// are not available, so its line is computed as for a record without quoted line breaks.
    fn fatal(&self, e: csv::Error) -> RowError {
        let line = (self.reader.position().line() + self.lines_skipped).saturating_sub(1);
        let (line, column, reason) = match e.kind() {
            csv::ErrorKind::Utf8 { err, .. } => {
                let column = self
                    .headers
                    .get(err.field())
                    .map(|h| h.trim().to_ascii_lowercase());
                // The row error names its line itself: the reason does not repeat it.
                (line, column, NOT_UTF8.to_string())
            }
            _ => {
                let line = e.position().map_or(line, |p| p.line() + self.lines_skipped);
                (line, None, FileError::Csv(e).to_string())
            }
        };
        RowError::new(
            line,
            vec![Problem { column, reason }],
            StringRecord::new(),
            true,
        )
    }
}

impl<R: Read> Iterator for CsvOrders<R> {
    type Item = Result<NewOrder, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.reader.read_record(&mut self.record) {
                Ok(true) if self.record.iter().all(|c| c.trim().is_empty()) => continue,
                Ok(true) => {
                    let line = self.record_start_line();
                    if let Some(fatal) = self.unterminated_quote(line) {
                        self.done = true;
                        return Some(Err(fatal));
                    }
                    return Some(self.check_record(line));
                }
                Ok(false) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(self.fatal(e)));
                }
            }
        }
        None
    }
}

/// Appended after the file's last byte. The `\n` gives every record a terminator, so the line
/// arithmetic in `record_start_line` holds for a file without a final newline too (an extra
/// blank line at the end is skipped like any other). The `\r` cannot occur in the normalised
/// file: outside quotes it ends an empty line, which is skipped; inside a quote that was never
/// closed it becomes part of the last record, which is how that record is recognised.
const TAIL: &[u8] = b"\n\r";

fn bytecount_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The schema and validator of each provider.
pub(crate) fn parts(provider: ProviderKind) -> (&'static Schema, Validator) {
    match provider {
        ProviderKind::QitechPrepaid => (&qitech_prepaid::SCHEMA, qitech_prepaid::validate),
        ProviderKind::QitechPostpaid => (&qitech_postpaid::SCHEMA, qitech_postpaid::validate),
        ProviderKind::AlchemypayVcc => (&alchemypay_vcc::SCHEMA, alchemypay_vcc::validate),
        ProviderKind::Uqpay => (&uqpay::SCHEMA, uqpay::validate),
    }
}

/// The columns a provider's CSV accepts, in canonical order (for documentation and generators).
pub fn columns(provider: ProviderKind) -> &'static [&'static str] {
    parts(provider).0.columns
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
