//! Small character checks shared by the value types (and the safety rules for text that leaves
//! cardbatch: spreadsheet cells, log lines), written by hand so that validating a
//! million rows compiles no regular expression and allocates only for the value it returns.

/// The ASCII digits of `s` when every other character is one of `ignore`; `None` when some
/// other character appears.
pub(crate) fn digits_ignoring(s: &str, ignore: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_digit() {
            out.push(b as char);
        } else if !ignore.contains(&b) {
            return None;
        }
    }
    Some(out)
}

/// True when `s` is non-empty and only ASCII digits.
pub fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// True for a letter a person's name may hold on a Brazilian card: ASCII letters and the Latin-1
/// accented letters `À`–`ÿ` (without `×` and `÷`, which sit in that range but are not letters).
pub fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (('\u{C0}'..='\u{FF}').contains(&c) && c != '\u{D7}' && c != '\u{F7}')
}

/// The first character of `s` that is a control character (C0, DEL or C1), if any.
pub fn first_control_char(s: &str) -> Option<char> {
    // C0 and DEL are single bytes; C1 (U+0080-U+009F) is encoded as 0xC2 0x80-0x9F. Looking at
    // bytes first keeps the usual, clean cell off the slower char-by-char path.
    let b = s.as_bytes();
    let suspect = b.iter().enumerate().any(|(i, &c)| {
        c < 0x20
            || c == 0x7F
            || (c == 0xC2 && b.get(i + 1).is_some_and(|n| (0x80..=0x9F).contains(n)))
    });
    if suspect {
        s.chars().find(|c| c.is_control())
    } else {
        None
    }
}

/// Makes a cell safe to open in a spreadsheet: a value a spreadsheet would evaluate as a
/// formula (leading `=`, `+`, `-`, `@`, tab or carriage return) gets a leading `'`, which
/// spreadsheets show as text.
pub fn neutralise_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => {
            std::borrow::Cow::Owned(format!("'{cell}"))
        }
        _ => std::borrow::Cow::Borrowed(cell),
    }
}

/// `s` fit for one log line: control characters (a `%0A` in a request that would forge a second
/// line, ANSI escapes) are shown escaped (`\n`, `\u{1b}`), everything else as it is.
pub fn log_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if first_control_char(s).is_none() {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// What a spreadsheet makes of a number with leading zeros typed into a cell formatted as a
/// number: the zeros are gone (`012.345.678-90` becomes `1234567890`). When `s` is such a bare
/// number of `min..width` digits, the number padded back to `width` digits; else `None`.
pub(crate) fn restore_leading_zeros(s: &str, min: usize, width: usize) -> Option<String> {
    let s = s.trim();
    (is_digits(s) && (min..width).contains(&s.len())).then(|| format!("{s:0>width$}"))
}

/// The digits of a document number of `width` digits (`digits`, read from `cell`), with the
/// leading zeros a spreadsheet dropped put back ([`restore_leading_zeros`], for a bare number
/// down to `min` digits), and the note a refusal then adds: the reader must know that the
/// number checked is not the one in the cell.
pub(crate) fn document_digits(
    cell: &str,
    digits: String,
    min: usize,
    width: usize,
) -> (String, String) {
    match restore_leading_zeros(cell, min, width) {
        Some(padded) => (
            padded,
            format!(
                " (the cell has {} digits, read with the leading zeros a spreadsheet drops)",
                cell.trim().len()
            ),
        ),
        None => (digits, String::new()),
    }
}

/// The hint for a bare number one digit short, as a spreadsheet leaves it.
pub(crate) const LEADING_ZEROS_HINT: &str =
    "a spreadsheet drops a leading 0 from a cell formatted as a number: format the column as text";

#[cfg(test)]
mod safety_tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_others_left_alone() {
        assert_eq!(neutralise_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise_cell("+5511999"), "'+5511999");
        assert_eq!(neutralise_cell("-2+3"), "'-2+3");
        assert_eq!(neutralise_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise_cell("ord-0001"), "ord-0001");
        assert_eq!(neutralise_cell(""), "");
    }

    #[test]
    fn a_forged_log_line_stays_on_its_own_line() {
        let shown = log_safe("cb1\n2026-11-30T00:00:00Z INFO forged\u{1b}[31m");
        assert!(
            !shown.contains('\n') && !shown.contains('\u{1b}'),
            "{shown}"
        );
        assert!(shown.contains("\\n2026"), "{shown}");
        assert_eq!(log_safe("plain"), "plain");
    }
}
