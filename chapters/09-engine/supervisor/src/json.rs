//! One json-file log entry, byte for byte as dockerd writes it
//! (`jsonlogbytes.go`), into a fixed buffer:
//!
//! ```text
//! {"log":"hello\n","stream":"stdout","attrs":{"tag":"web"},"time":"2019-01-01T11:11:11.5Z"}
//! ```

use crate::time::{RFC3339_MAX, rfc3339_nano};

/// Which of the container's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The container's standard output (and everything, with `--tty`).
    Stdout,
    /// The container's standard error.
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`, as the `stream` field has it.
    pub fn name(self) -> &'static [u8] {
        match self {
            Stream::Stdout => b"stdout",
            Stream::Stderr => b"stderr",
        }
    }
}

/// How long an entry can be: every byte of the line escaped to at most six
/// (`\u003c`, or `\ufffd` for one invalid byte), the attrs as given, and
/// the fixed text around them.
pub const fn max_len(line: usize, attrs: usize) -> usize {
    ESCAPED_PER_BYTE * line + attrs + 128
}

// ANCHOR: encode
/// Writes the entry for `line` (with its `\n`, if it has one) into `out`,
/// which must hold [`max_len`] bytes; returns the length. `attrs` is the
/// already-encoded *contents* of the `attrs` object (`"k":"v",...`),
/// written only when given, as dockerd writes it only when non-empty.
pub fn encode(
    out: &mut [u8],
    stream: Stream,
    line: &[u8],
    attrs: Option<&[u8]>,
    time: (i64, u32),
) -> usize {
    let mut w = Out { buf: out, len: 0 };
    w.push(b"{");
    if !line.is_empty() {
        w.push(b"\"log\":");
        escape(line, |bytes| w.push(bytes));
        w.push(b",");
    }
    w.push(b"\"stream\":\"");
    w.push(stream.name());
    w.push(b"\",");
    if let Some(attrs) = attrs {
        w.push(b"\"attrs\":{");
        w.push(attrs);
        w.push(b"},");
    }
    w.push(b"\"time\":\"");
    let mut stamp = [0u8; RFC3339_MAX];
    let n = rfc3339_nano(time.0, time.1, &mut stamp);
    w.push(&stamp[..n]);
    w.push(b"\"}\n");
    w.len
}

/// `s` as a JSON string, quotes included, handed to `push` piece by piece
/// (at most [`ESCAPED_PER_BYTE`] bytes of output per byte of `s`, and two
/// quotes). Go's escaping, as docker's `ffjsonWriteJSONBytesAsString`: `"`
/// and `\` escaped, `\n` and `\r` by name, other control characters and
/// `<`, `>`, `&` (for HTML) as `\u00XX`, U+2028 and U+2029 (line separators
/// to JavaScript) as `\u202X`, each invalid UTF-8 byte as `\ufffd`.
///
/// The engine writes the `attrs` text with it too, so that one function
/// escapes every string in the log.
pub fn escape(s: &[u8], mut push: impl FnMut(&[u8])) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    push(b"\"");
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' | '\\' => push(&[b'\\', c as u8]),
                '\n' => push(b"\\n"),
                '\r' => push(b"\\r"),
                '\u{2028}' | '\u{2029}' => {
                    push(b"\\u202");
                    push(&[HEX[(c as usize) & 0xf]]);
                }
                c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&') => {
                    let b = c as u8;
                    push(b"\\u00");
                    push(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
                }
                c => {
                    let mut utf8 = [0u8; 4];
                    push(c.encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
        for _ in chunk.invalid() {
            push(b"\\ufffd");
        }
    }
    push(b"\"");
}
// ANCHOR_END: encode

/// The most bytes [`escape`] writes for one byte of its input (`\u003c`,
/// or `\ufffd` for one invalid byte).
pub const ESCAPED_PER_BYTE: usize = 6;

/// Appends to a fixed buffer (sized by [`max_len`], so it never overflows).
struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Out<'_> {
    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(stream: Stream, line: &[u8], attrs: Option<&[u8]>, secs: i64) -> String {
        let mut out = vec![0u8; max_len(line.len(), attrs.map_or(0, <[u8]>::len))];
        let n = encode(&mut out, stream, line, attrs, (secs, 500_000_000));
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    /// Byte for byte what dockerd's json-file driver writes.
    #[test]
    fn encodes_as_dockerd_does() {
        assert_eq!(
            entry(Stream::Stdout, b"hello\n", None, 1_546_341_071),
            "{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":\"2019-01-01T11:11:11.5Z\"}\n"
        );
        assert_eq!(
            entry(
                Stream::Stderr,
                b"<a&b> \"q\" \\ \t\x01\xff\xe2\x80\xa8",
                None,
                0
            ),
            "{\"log\":\"\\u003ca\\u0026b\\u003e \\\"q\\\" \\\\ \\u0009\\u0001\\ufffd\\u2028\",\
             \"stream\":\"stderr\",\"time\":\"1970-01-01T00:00:00.5Z\"}\n"
        );
        assert!(
            entry(Stream::Stdout, b"x", Some(b"\"tag\":\"web\""), 0)
                .contains(",\"attrs\":{\"tag\":\"web\"},\"time\":")
        );
    }

    #[test]
    fn empty_lines_have_no_log_field_and_the_worst_case_fits() {
        assert_eq!(
            entry(Stream::Stdout, b"", None, 0),
            "{\"stream\":\"stdout\",\"time\":\"1970-01-01T00:00:00.5Z\"}\n"
        );
        // Every byte invalid: six bytes each, within max_len even at the
        // far ends of time.
        let worst = vec![0xffu8; 1000];
        for secs in [i64::MIN, i64::MAX] {
            let text = entry(Stream::Stdout, &worst, Some(&[b'a'; 4096]), secs);
            assert_eq!(text.matches("\\ufffd").count(), 1000);
        }
    }

    #[test]
    fn escape_alone_writes_a_json_string() {
        let mut out = Vec::new();
        escape(b"k&<\"\xff\n", |bytes| out.extend_from_slice(bytes));
        assert_eq!(out, b"\"k\\u0026\\u003c\\\"\\ufffd\\n\"");
        let worst = [0xffu8; 10];
        let mut len = 0;
        escape(&worst, |bytes| len += bytes.len());
        assert_eq!(len, ESCAPED_PER_BYTE * worst.len() + 2);
    }

    #[test]
    fn reads_back_as_json() {
        let text = entry(
            Stream::Stderr,
            "tab\t<é> \u{2029}\u{1F600}\r\n".as_bytes(),
            Some(b"\"a b\":\"c&d\""),
            5,
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["log"], "tab\t<é> \u{2029}\u{1F600}\r\n");
        assert_eq!(v["stream"], "stderr");
        assert_eq!(v["attrs"]["a b"], "c&d");
        assert_eq!(v["time"], "1970-01-01T00:00:05.5Z");
    }
}
