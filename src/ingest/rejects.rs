//! The rejects file: the rejected rows with their original cells plus a `reason` column, so a
//! finance team can fix them in their spreadsheet and upload just those rows again.

use super::error::RowError;
use crate::domain::card_data::mask_pans;
use crate::domain::text::neutralise_cell;
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes rejected rows as CSV with the input's header, delimiter, and a final `reason` column
/// holding `line N, column: reason`.
pub struct RejectsWriter<W: Write> {
    writer: csv::Writer<W>,
    width: usize,
    written: u64,
}

impl RejectsWriter<BufWriter<File>> {
    /// `<dir>/<stem>.rejected.csv` next to `input` (`orders/may.csv` -> `orders/may.rejected.csv`).
    pub fn path_for(input: &Path) -> PathBuf {
        let stem = input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "orders".to_string());
        input.with_file_name(format!("{stem}.rejected.csv"))
    }

    /// Creates (or truncates) the rejects file next to `input` and writes its header.
    pub fn create_next_to(
        input: &Path,
        headers: &csv::StringRecord,
        delimiter: u8,
    ) -> Result<Self, csv::Error> {
        let file = File::create(Self::path_for(input))?;
        RejectsWriter::new(BufWriter::new(file), headers, delimiter)
    }
}

impl<W: Write> RejectsWriter<W> {
    /// Wraps `out` and writes the header: the input's columns, then `reason`.
    pub fn new(out: W, headers: &csv::StringRecord, delimiter: u8) -> Result<Self, csv::Error> {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            // A rejected row may have the wrong number of cells; it is written as it was.
            .flexible(true)
            .from_writer(out);
        let mut header: Vec<&str> = headers.iter().collect();
        header.push("reason");
        writer.write_record(&header)?;
        Ok(RejectsWriter {
            writer,
            width: headers.len(),
            written: 0,
        })
    }

    /// Appends one rejected row. Short rows are padded so `reason` stays in its column.
    /// Every cell is made spreadsheet-safe ([`neutralise_cell`]): the file is meant to be opened
    /// in a spreadsheet, and a cell starting with `=` or `+` must show as text, not run.
    pub fn write(&mut self, error: &RowError) -> Result<(), csv::Error> {
        let mut cells: Vec<Cow<'_, str>> = error.record.iter().map(without_card_number).collect();
        while cells.len() < self.width {
            cells.push(Cow::Borrowed(""));
        }
        cells.push(Cow::Owned(error.to_string()));
        self.writer
            .write_record(cells.iter().map(|c| neutralise_cell(c).into_owned()))?;
        self.written += 1;
        Ok(())
    }

    /// Rows written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> Result<W, csv::Error> {
        self.writer
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))
    }
}

/// A cell as the rejects file keeps it: as written, except a card number (which no order may
/// carry), reduced to its last four digits so the file holds none.
fn without_card_number(cell: &str) -> Cow<'_, str> {
    mask_pans(cell)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::error::Problem;

    #[test]
    fn a_rejected_row_keeps_its_cells_and_gains_a_reason() {
        // Arrange
        let headers = csv::StringRecord::from(vec!["order_ref", "printed_name"]);
        let error = RowError::new(
            7,
            vec![Problem {
                column: Some("printed_name".into()),
                reason: "must contain only letters".into(),
            }],
            csv::StringRecord::from(vec!["A-1", "J0ao"]),
            false,
        );
        // Act
        let mut rejects = RejectsWriter::new(Vec::new(), &headers, b';').unwrap();
        rejects.write(&error).unwrap();
        let text = String::from_utf8(rejects.finish().unwrap()).unwrap();
        // Assert
        assert_eq!(
            text,
            "order_ref;printed_name;reason\nA-1;J0ao;line 7, printed_name: must contain only letters\n"
        );
    }

    #[test]
    fn a_card_number_in_a_rejected_row_keeps_only_its_last_four_digits() {
        let headers = csv::StringRecord::from(vec!["order_ref", "note"]);
        let error = RowError::new(
            3,
            vec![Problem {
                column: Some("note".into()),
                reason: "holds what looks like a card number".into(),
            }],
            csv::StringRecord::from(vec!["A-1", "card 4111111111111111"]),
            false,
        );
        let mut rejects = RejectsWriter::new(Vec::new(), &headers, b',').unwrap();
        rejects.write(&error).unwrap();
        let text = String::from_utf8(rejects.finish().unwrap()).unwrap();
        assert!(text.contains("A-1,card ************1111,"), "{text}");
        assert!(!text.contains("4111111111111111"), "{text}");
    }

    #[test]
    fn a_rejected_cell_a_spreadsheet_would_run_is_written_as_text() {
        let headers = csv::StringRecord::from(vec!["order_ref", "printed_name"]);
        let error = RowError::new(
            3,
            vec![Problem {
                column: Some("printed_name".into()),
                reason: "must contain only letters".into(),
            }],
            csv::StringRecord::from(vec!["A-2", "=HYPERLINK(\"http://x\")"]),
            false,
        );
        let mut rejects = RejectsWriter::new(Vec::new(), &headers, b',').unwrap();
        rejects.write(&error).unwrap();
        let text = String::from_utf8(rejects.finish().unwrap()).unwrap();
        assert!(text.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{text}");
    }

    #[test]
    fn the_rejects_file_sits_next_to_the_input() {
        let path = RejectsWriter::path_for(Path::new("/data/may/orders.csv"));
        assert_eq!(path, PathBuf::from("/data/may/orders.rejected.csv"));
    }
}
