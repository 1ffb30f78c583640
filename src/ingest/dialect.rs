//! The file's dialect, decided from its first bytes: an optional UTF-8 byte order mark, then the
//! header line, whose `,` or `;` count picks the delimiter (Brazilian spreadsheets export `;`,
//! because `,` is their decimal separator). Line endings (LF or CRLF) need no decision: the CSV
//! reader accepts both, but the line number of a record is computed differently for each (see
//! [`Dialect::crlf`]).

use super::error::FileError;
use std::io::{BufRead, BufReader, Read};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The buffer the header is sniffed from; a header longer than this is sniffed on its start.
const SNIFF_CAPACITY: usize = 64 * 1024;

/// What the first line says about the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dialect {
    pub delimiter: u8,
    /// Lines end in `\r\n`. The csv reader ends a record at the `\r` and only counts the `\n`
    /// when it reads the next record, so its line counter lags by one line in such files.
    pub crlf: bool,
}

/// Wraps `input` in a buffer, skips a byte order mark and returns the file's dialect.
pub(crate) fn sniff<R: Read>(input: R) -> Result<(BufReader<R>, Dialect), FileError> {
    let mut buf = BufReader::with_capacity(SNIFF_CAPACITY, input);
    let head = buf.fill_buf()?;
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return Err(FileError::Utf16);
    }
    let bom = if head.starts_with(BOM) { BOM.len() } else { 0 };
    let dialect = Dialect {
        delimiter: delimiter_of(&head[bom..]),
        crlf: first_line_ends_in_crlf(&head[bom..]),
    };
    buf.consume(bom);
    Ok((buf, dialect))
}

/// True when the first line break outside quotes is `\r\n`.
fn first_line_ends_in_crlf(head: &[u8]) -> bool {
    let mut quoted = false;
    for (i, &b) in head.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => return i > 0 && head[i - 1] == b'\r',
            _ => {}
        }
    }
    false
}

/// `;` when the first line has more semicolons than commas outside quotes, else `,`.
fn delimiter_of(head: &[u8]) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0usize, 0usize, false);
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas { b';' } else { b',' }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_is_read_from_the_header_line_only() {
        assert_eq!(delimiter_of(b"a;b;c\n1,5;2,5;3\n"), b';');
        assert_eq!(delimiter_of(b"a,b,c\nx;y;z;w;v\n"), b',');
        assert_eq!(delimiter_of(b"\"a,b\";c;d\n"), b';');
        assert_eq!(delimiter_of(b"only\n"), b',');
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let (mut buf, dialect) = sniff(&b"\xEF\xBB\xBFa;b\r\n"[..]).unwrap();
        let mut rest = String::new();
        buf.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "a;b\r\n");
        assert_eq!(
            dialect,
            Dialect {
                delimiter: b';',
                crlf: true
            }
        );
    }

    #[test]
    fn crlf_is_recognised_from_the_first_line_break_outside_quotes() {
        assert!(first_line_ends_in_crlf(b"a,\"x\ny\"\r\nb"));
        assert!(!first_line_ends_in_crlf(b"a,b\nc\r\n"));
        assert!(!first_line_ends_in_crlf(b"a,b"));
    }
}
