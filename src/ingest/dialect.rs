//! The file's dialect, decided from its first bytes: an optional UTF-8 byte order mark, an
//! optional Excel `sep=;` / `sep=,` line naming the delimiter, then the header line, whose `,` or
//! `;` count picks the delimiter when no `sep=` line did (Brazilian spreadsheets export `;`,
//! because `,` is their decimal separator). Line endings need no decision: every `\r\n` and lone
//! `\r` is turned into `\n` ([`Newlines`]) before anything else reads the file.

use super::error::FileError;
use super::newlines::Newlines;
use std::io::{BufRead, BufReader, Read};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The buffer the header is sniffed from; a header longer than this is sniffed on its start.
const SNIFF_CAPACITY: usize = 64 * 1024;

/// The file after its byte order mark (and `sep=` line), with `\n` line endings only.
pub(crate) type Normalised<R> = BufReader<Newlines<BufReader<R>>>;

/// What the first lines say about the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dialect {
    pub delimiter: u8,
    /// Physical lines before the header that were consumed here: 1 for a `sep=` line, else 0.
    pub lines_skipped: u64,
}

/// Wraps `input` in a buffer, skips a byte order mark and an Excel `sep=` line, normalises line
/// endings and returns the file's dialect.
pub(crate) fn sniff<R: Read>(input: R) -> Result<(Normalised<R>, Dialect), FileError> {
    let mut raw = BufReader::new(input);
    let head = raw.fill_buf()?;
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return Err(FileError::Utf16);
    }
    if head.starts_with(BOM) {
        raw.consume(BOM.len());
    }
    let mut buf = BufReader::with_capacity(SNIFF_CAPACITY, Newlines::new(raw));
    let head = buf.fill_buf()?;
    let dialect = match sep_line(head) {
        Some((delimiter, len)) => {
            buf.consume(len);
            Dialect {
                delimiter,
                lines_skipped: 1,
            }
        }
        None => Dialect {
            delimiter: delimiter_of(head),
            lines_skipped: 0,
        },
    };
    Ok((buf, dialect))
}

/// Excel's `sep=;` (or `sep=,`) first line: the delimiter it names and the line's length with
/// its line break. Other delimiters are not honoured (the file's rules allow `,` and `;` only).
fn sep_line(head: &[u8]) -> Option<(u8, usize)> {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = &head[..line_end];
    let text = line.strip_suffix(b" ").unwrap_or(line);
    match text {
        [s, e, p, b'=', d @ (b',' | b';')] if [*s, *e, *p].eq_ignore_ascii_case(b"sep") => {
            Some((*d, (line_end + 1).min(head.len())))
        }
        _ => None,
    }
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

    fn rest_and_dialect(input: &[u8]) -> (String, Dialect) {
        let (mut buf, dialect) = sniff(input).unwrap();
        let mut rest = String::new();
        buf.read_to_string(&mut rest).unwrap();
        (rest, dialect)
    }

    #[test]
    fn the_delimiter_is_read_from_the_header_line_only() {
        assert_eq!(delimiter_of(b"a;b;c\n1,5;2,5;3\n"), b';');
        assert_eq!(delimiter_of(b"a,b,c\nx;y;z;w;v\n"), b',');
        assert_eq!(delimiter_of(b"\"a,b\";c;d\n"), b';');
        assert_eq!(delimiter_of(b"only\n"), b',');
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_crlf_becomes_lf() {
        let (rest, dialect) = rest_and_dialect(b"\xEF\xBB\xBFa;b\r\n1;2\r\n");
        assert_eq!(rest, "a;b\n1;2\n");
        assert_eq!(
            dialect,
            Dialect {
                delimiter: b';',
                lines_skipped: 0
            }
        );
    }

    #[test]
    fn an_excel_sep_line_sets_the_delimiter_and_is_skipped() {
        let (rest, dialect) = rest_and_dialect(b"sep=,\r\na;b,c\r\n");
        assert_eq!(rest, "a;b,c\n");
        assert_eq!(
            dialect,
            Dialect {
                delimiter: b',',
                lines_skipped: 1
            }
        );
        let (rest, dialect) = rest_and_dialect(b"\xEF\xBB\xBFSEP=;\na,b,c;d\n");
        assert_eq!((rest.as_str(), dialect.delimiter), ("a,b,c;d\n", b';'));
    }

    #[test]
    fn a_line_that_only_starts_like_a_sep_line_is_the_header() {
        let (rest, dialect) = rest_and_dialect(b"sep=;x;y\n");
        assert_eq!((rest.as_str(), dialect.lines_skipped), ("sep=;x;y\n", 0));
        assert_eq!(sep_line(b"sep=|\n"), None);
    }
}
