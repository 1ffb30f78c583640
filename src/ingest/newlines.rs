//! [`Newlines`]: a `Read` adapter that turns every line ending into `\n`.
//!
//! Files come with `\n` (Unix), `\r\n` (Windows, Excel) and lone `\r` (old Mac exports, some
//! Excel versions) line endings, sometimes mixed in one file. After this adapter the reader sees
//! only `\n`, so a physical line is exactly one `\n` and the line arithmetic needs no dialect.
//! Line breaks inside quoted cells are normalised too: no order field may contain one, so such a
//! cell is refused either way, and it still counts as one line break.

use std::io::{self, Read};

/// `\r\n` and lone `\r` become `\n`; every other byte passes unchanged. The output never holds
/// a `\r`.
pub(crate) struct Newlines<R> {
    inner: R,
    /// The last byte handed out was a `\r` turned into `\n`: a `\n` right after it (possibly in
    /// the next read) belongs to the same line ending and is dropped.
    after_cr: bool,
}

impl<R: Read> Newlines<R> {
    pub(crate) fn new(inner: R) -> Self {
        Newlines {
            inner,
            after_cr: false,
        }
    }
}

impl<R: Read> Read for Newlines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            // The usual case, an LF file: nothing to rewrite.
            if !self.after_cr && !buf[..n].contains(&b'\r') {
                return Ok(n);
            }
            // Rewrite in place: the output is never longer than the input.
            let mut out = 0;
            for i in 0..n {
                let b = buf[i];
                match b {
                    b'\n' if self.after_cr => self.after_cr = false,
                    b'\r' => {
                        buf[out] = b'\n';
                        out += 1;
                        self.after_cr = true;
                    }
                    _ => {
                        buf[out] = b;
                        out += 1;
                        self.after_cr = false;
                    }
                }
            }
            // Zero bytes would mean the end of the input: read on instead (the read held only
            // the `\n` of a `\r\n` split across reads).
            if out > 0 {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out one byte per read, so every `\r\n` is split across reads.
    struct OneByte<'a>(&'a [u8]);

    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.split_first() {
                Some((&b, rest)) if !buf.is_empty() => {
                    buf[0] = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn normalised(input: impl Read) -> Vec<u8> {
        let mut out = Vec::new();
        Newlines::new(input).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn crlf_and_lone_cr_become_lf_and_lf_stays() {
        let input = b"a\r\nb\rc\nd\r\r\ne\r";
        assert_eq!(normalised(&input[..]), b"a\nb\nc\nd\n\ne\n");
    }

    #[test]
    fn a_crlf_split_across_reads_is_one_line_break() {
        let input = b"a\r\nb\r\r\nc\n\rd";
        assert_eq!(normalised(OneByte(input)), b"a\nb\n\nc\n\nd");
    }
}
