//! Small character checks shared by the value types, written by hand so that validating a
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
