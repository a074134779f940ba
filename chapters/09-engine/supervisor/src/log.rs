//! Docker's `json-file` log driver, the writing half: output is cut into
//! lines as docker's copier cuts it ([`Lines`]) and each line is appended
//! to the log as one JSON entry ([`LogWriter`]), rotated by size. (The
//! reading half, `docker logs`, is the shim's `logs::read`.)

use core::ffi::CStr;

use crate::json::{self, Stream};
use crate::sys::{self, ENOENT, Errno, Fd};

/// How much of a line without a newline is held before it is logged as a
/// partial line: docker's copier buffer (`bufSize = 16 * 1024`).
pub const MAX_LINE: usize = 16 * 1024;

/// The longest `--attrs` text taken: the engine's labels, env and tag
/// attributes, already encoded.
pub const MAX_ATTRS: usize = 4096;

/// The longest entry: a [`MAX_LINE`] line escaped, with [`MAX_ATTRS`].
pub const MAX_ENTRY: usize = json::max_len(MAX_LINE, MAX_ATTRS);

/// The longest path a rotated name is built from (`PATH_MAX`, limits.h),
/// leaving room for `.N` and the NUL.
const MAX_PATH: usize = 4096;

/// Cuts a stream of bytes into log lines as docker's copier does: at each
/// `\n`, and every [`MAX_LINE`] bytes of a line that has none yet (a partial
/// line, logged without a `\n`).
#[derive(Debug)]
pub struct Lines<'a> {
    pending: &'a mut [u8; MAX_LINE],
    len: usize,
}

impl<'a> Lines<'a> {
    /// A cutter holding its partial line in `pending`.
    pub fn new(pending: &'a mut [u8; MAX_LINE]) -> Lines<'a> {
        Lines { pending, len: 0 }
    }

    /// Takes `data` and calls `emit(line)` for each line it completes.
    pub fn push(&mut self, mut data: &[u8], emit: &mut dyn FnMut(&[u8])) {
        while !data.is_empty() {
            let take = &data[..data.len().min(MAX_LINE - self.len)];
            let (piece, whole) = match take.iter().position(|&b| b == b'\n') {
                Some(i) => (&take[..=i], true),
                None => (take, false),
            };
            if whole && self.len == 0 {
                emit(piece);
            } else {
                self.pending[self.len..self.len + piece.len()].copy_from_slice(piece);
                self.len += piece.len();
                if whole || self.len == MAX_LINE {
                    emit(&self.pending[..self.len]);
                    self.len = 0;
                }
            }
            data = &data[piece.len()..];
        }
    }

    /// At end of stream: logs what is left as a partial line.
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if self.len > 0 {
            emit(&self.pending[..self.len]);
            self.len = 0;
        }
    }
}

/// `--log`, `--max-size`, `--max-file` and `--attrs`: the json-file
/// driver's options as the engine resolved them.
#[derive(Debug, Clone, Copy)]
pub struct LogOptions<'a> {
    /// The live log file (`<id>-json.log` in docker).
    pub path: &'a CStr,
    /// `max-size`: rotate once the file has reached this many bytes.
    pub max_size: Option<u64>,
    /// `max-file`: how many files to keep, the live one included (at least 1).
    pub max_file: u32,
    /// The encoded contents of the `attrs` object, at most [`MAX_ATTRS`]
    /// bytes; `None` writes no `attrs`.
    pub attrs: Option<&'a [u8]>,
}

/// The writer's buffers: the entry being encoded and the two names of a
/// rename while rotating. (Never on the stack: see `copier::Mapped`.)
#[derive(Debug)]
pub struct LogBuffers {
    entry: [u8; MAX_ENTRY],
    from: [u8; MAX_PATH + 12],
    to: [u8; MAX_PATH + 12],
}

impl LogBuffers {
    /// Zero-filled buffers.
    pub const ZERO: LogBuffers = LogBuffers {
        entry: [0; MAX_ENTRY],
        from: [0; MAX_PATH + 12],
        to: [0; MAX_PATH + 12],
    };
}

/// The live log file, appended to entry by entry and rotated by size.
#[derive(Debug)]
pub struct LogWriter<'a> {
    options: LogOptions<'a>,
    file: Fd,
    size: u64,
    buffers: &'a mut LogBuffers,
}

impl<'a> LogWriter<'a> {
    /// Opens (or creates, mode 0640 as docker does) the log for appending.
    pub fn open(
        options: LogOptions<'a>,
        buffers: &'a mut LogBuffers,
    ) -> Result<LogWriter<'a>, Errno> {
        let file = sys::open_append(options.path)?;
        let size = sys::file_size(&file)?;
        Ok(LogWriter {
            options,
            file,
            size,
            buffers,
        })
    }

    /// Appends the entry of one line (see [`Lines`]), rotating first if the
    /// file has reached `max-size`.
    pub fn write(&mut self, stream: Stream, line: &[u8], time: (i64, u32)) -> Result<(), Errno> {
        if self.options.max_size.is_some_and(|max| self.size >= max) {
            self.rotate()?;
        }
        let entry = &mut self.buffers.entry;
        let n = json::encode(&mut entry[..], stream, line, self.options.attrs, time);
        // One write(2) per entry, with O_APPEND: a reader never sees half an
        // entry unless it reads in the middle of this very call. (A regular
        // file takes it all unless the disk is full.)
        sys::write_all(&self.file, &entry[..n])?;
        self.size += n as u64;
        Ok(())
    }

    /// docker's `rotate`: drop `NAME.(max-file - 1)`, shift the others up by
    /// one, `NAME` -> `NAME.1`, start a new `NAME`. With `max-file=1`, the
    /// file is simply started again.
    fn rotate(&mut self) -> Result<(), Errno> {
        let n = self.options.max_file;
        let path = self.options.path;
        if n >= 2 {
            let LogBuffers { from, to, .. } = &mut *self.buffers;
            missing_is_fine(sys::unlink(numbered(path, n - 1, to)?))?;
            for i in (1..n - 1).rev() {
                let from = numbered(path, i, from)?;
                missing_is_fine(sys::rename(from, numbered(path, i + 1, to)?))?;
            }
            sys::rename(path, numbered(path, 1, to)?)?;
            self.file = sys::open_append(path)?;
        } else {
            sys::truncate(&self.file)?;
        }
        self.size = 0;
        Ok(())
    }
}

fn missing_is_fine(result: Result<(), Errno>) -> Result<(), Errno> {
    match result {
        Err(ENOENT) => Ok(()),
        other => other,
    }
}

/// `NAME.N`, a rotated log, written into `buf`.
fn numbered<'b>(path: &CStr, n: u32, buf: &'b mut [u8; MAX_PATH + 12]) -> Result<&'b CStr, Errno> {
    const ENAMETOOLONG: Errno = Errno(36);
    let name = path.to_bytes();
    if name.len() >= MAX_PATH {
        return Err(ENAMETOOLONG);
    }
    buf[..name.len()].copy_from_slice(name);
    let mut len = name.len();
    buf[len] = b'.';
    len += 1;
    for &d in crate::args::Decimal::of_u32(n).as_bytes() {
        buf[len] = d;
        len += 1;
    }
    buf[len] = 0;
    CStr::from_bytes_with_nul(&buf[..=len]).map_err(|_| ENAMETOOLONG)
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use super::*;

    fn cut(chunks: &[&[u8]], finish: bool) -> Vec<Vec<u8>> {
        let mut buf = Box::new([0u8; MAX_LINE]);
        let mut lines = Lines::new(&mut buf);
        let mut got = Vec::new();
        let mut emit = |l: &[u8]| got.push(l.to_vec());
        for chunk in chunks {
            lines.push(chunk, &mut emit);
        }
        if finish {
            lines.finish(&mut emit);
        }
        got
    }

    /// As docker's copier cuts them, and the edges around [`MAX_LINE`].
    #[test]
    fn lines_are_cut_as_docker_cuts_them() {
        assert_eq!(
            cut(&[b"one\ntw", b"o\nthree"], true),
            [b"one\n".to_vec(), b"two\n".to_vec(), b"three".to_vec()]
        );
        let lens = |chunks: &[&[u8]], finish| -> Vec<usize> {
            cut(chunks, finish).iter().map(Vec::len).collect()
        };
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        assert_eq!(lens(&[&long, b"\n"], false), [MAX_LINE, MAX_LINE, 11]);
        // A line of exactly MAX_LINE bytes with its newline is whole.
        let mut exact = vec![b'x'; MAX_LINE - 1];
        exact.push(b'\n');
        assert_eq!(lens(&[&exact], false), [MAX_LINE]);
        // One more byte: a full partial piece, then the newline alone.
        let over = vec![b'x'; MAX_LINE];
        assert_eq!(lens(&[&over, b"\n"], false), [MAX_LINE, 1]);
        // Held bytes and a long chunk: the piece is cut at MAX_LINE.
        assert_eq!(lens(&[b"abcde", &over], true), [MAX_LINE, 5]);
        assert_eq!(lens(&[b"", b"a\n\nb"], true), [2, 1, 1]);
        assert!(lens(&[b"held"], false).is_empty());
    }

    fn options<'a>(path: &'a CStr, max_size: Option<u64>, max_file: u32) -> LogOptions<'a> {
        LogOptions {
            path,
            max_size,
            max_file,
            attrs: None,
        }
    }

    fn c_path(path: &Path) -> CString {
        CString::new(path.as_os_str().as_bytes()).unwrap()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn logged(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["log"].as_str().unwrap().to_string()
            })
            .collect()
    }

    /// The writing half; the shim's
    /// `rotation_keeps_max_file_files_and_reads_across_them` reads these
    /// files back with `docker logs`' reader.
    #[test]
    fn rotation_keeps_max_file_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let c = c_path(&path);
        let mut buffers = Box::new(LogBuffers::ZERO);
        let mut writer = LogWriter::open(options(&c, Some(200), 3), &mut buffers).unwrap();
        for i in 0..40 {
            writer
                .write(Stream::Stdout, format!("line {i}\n").as_bytes(), (i, 5))
                .unwrap();
        }
        assert_eq!(
            names(dir.path()),
            ["c-json.log", "c-json.log.1", "c-json.log.2"]
        );
        for name in names(dir.path()) {
            // A file is rotated once it has reached max-size: at most one entry over.
            let len = std::fs::metadata(dir.path().join(&name)).unwrap().len();
            assert!(len < 200 + 80, "{name} is {len} bytes");
        }
        let mut all = logged(&dir.path().join("c-json.log.2"));
        all.extend(logged(&dir.path().join("c-json.log.1")));
        all.extend(logged(&path));
        let first: usize = all[0]
            .trim_start_matches("line ")
            .trim_end()
            .parse()
            .unwrap();
        let expected: Vec<String> = (first..40).map(|i| format!("line {i}\n")).collect();
        assert_eq!(all, expected, "oldest first, no gaps");
    }

    #[test]
    fn max_file_one_starts_the_file_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let c = c_path(&path);
        let mut buffers = Box::new(LogBuffers::ZERO);
        let mut writer = LogWriter::open(options(&c, Some(100), 1), &mut buffers).unwrap();
        for i in 0..10 {
            writer
                .write(Stream::Stdout, b"0123456789\n", (i, 0))
                .unwrap();
        }
        assert!(std::fs::metadata(&path).unwrap().len() < 200);
        assert_eq!(names(dir.path()), ["log"]);
    }

    #[test]
    fn appends_to_what_is_there_and_counts_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "x".repeat(150) + "\n").unwrap();
        let c = c_path(&path);
        let mut buffers = Box::new(LogBuffers::ZERO);
        let mut writer = LogWriter::open(options(&c, Some(100), 2), &mut buffers).unwrap();
        // Already over max-size: rotated before the first entry.
        writer.write(Stream::Stderr, b"new\n", (0, 0)).unwrap();
        assert_eq!(logged(&path), ["new\n"]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("log.1"))
                .unwrap()
                .len(),
            151
        );
        let fresh = dir.path().join("fresh");
        let c = c_path(&fresh);
        drop(writer);
        LogWriter::open(options(&c, None, 1), &mut buffers).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode & !0o640,
            0,
            "at most rw-r----- (umask aside): {mode:o}"
        );
    }

    #[test]
    fn rotated_names() {
        let mut buf = [0u8; MAX_PATH + 12];
        assert_eq!(numbered(c"/l/x.log", 12, &mut buf).unwrap(), c"/l/x.log.12");
        assert_eq!(numbered(c"a", 0, &mut buf).unwrap(), c"a.0");
        let long = CString::new(vec![b'a'; MAX_PATH]).unwrap();
        assert!(numbered(&long, 1, &mut buf).is_err());
    }
}
