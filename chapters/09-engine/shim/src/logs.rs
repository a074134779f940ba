//! Docker's `json-file` log driver: the reader behind `docker logs`, and the
//! options the writer is given.
//!
//! Each line the container writes becomes one JSON object on one line of the
//! log file, byte for byte as dockerd writes it:
//!
//! ```text
//! {"log":"hello\n","stream":"stdout","time":"2019-01-01T11:11:11.111111111Z"}
//! ```
//!
//! The writer is the supervisor program's (`dockyard_supervisor::log`, with
//! `json` and `time`): it holds the container's output while it runs. A line
//! longer than 16 KiB is cut into pieces (each without the final `\n`), as
//! docker's copier does. With `--log-opt max-size=10m` the file is rotated
//! when it has reached that size: `NAME` becomes `NAME.1`, `NAME.1` becomes
//! `NAME.2`, … and `--log-opt max-file=N` keeps N files in all.
//!
//! Following (`docker logs -f`) sleeps in poll(2) until the file changes or
//! is rotated: [`follow_watched`] is woken by the supervisor's watch socket
//! ([`crate::supervise::watch_run`]: a byte after new lines, end-of-file at
//! the end of the run); [`read`] uses inotify(7) on the log's directory, and
//! stops when a descriptor the caller gives becomes readable or hangs up.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use dockyard_supervisor::json;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use serde::Deserialize;

use crate::timefmt::{self, TimeError};

/// What went wrong with a log file or a log option.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Making or reading a log file failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file it was done to.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// Watching the log for `--follow` failed.
    #[error("watch {path} for new lines: {source}")]
    Watch {
        /// The directory watched.
        path: PathBuf,
        /// Why it failed.
        source: nix::errno::Errno,
    },
    /// A `--log-opt` value docker would refuse, in docker's words.
    #[error("{0}")]
    Option(String),
    /// A `--since`/`--until` value docker would refuse.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// A `--tail` value that is neither a number nor `all`.
    #[error("invalid value for \"tail\": {0:?}")]
    Tail(String),
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { op, path, source }
}

/// Which of the container's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// The container's standard output (and everything, with `-t`).
    Stdout,
    /// The container's standard error.
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`, as the `stream` field has it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

// ANCHOR: config
/// The json-file driver's `--log-opt`s that the supervisor acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `max-size`: rotate once the file has reached this many bytes.
    pub max_size: Option<u64>,
    /// `max-file`: how many files to keep, the live one included (default 1).
    pub max_file: u32,
    /// Extra attributes written with each line (docker's `labels`/`env`/`tag`
    /// options, resolved by the engine) and shown by `docker logs --details`.
    pub attrs: BTreeMap<String, String>,
}
// ANCHOR_END: config

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            max_size: None,
            max_file: 1,
            attrs: BTreeMap::new(),
        }
    }
}

impl LogConfig {
    /// Reads `--log-opt KEY=VALUE` pairs with docker's checks and messages.
    /// `labels`, `env`, `env-regex`, `labels-regex` and `tag` are accepted and
    /// left to the engine, which resolves them into [`LogConfig::attrs`].
    pub fn from_opts<'a>(
        opts: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<LogConfig, Error> {
        let mut config = LogConfig::default();
        for (key, value) in opts {
            match key {
                "max-size" => {
                    let size = parse_size(value)?;
                    if size <= 0 {
                        return Err(Error::Option("max-size must be a positive number".into()));
                    }
                    config.max_size = Some(size as u64);
                }
                "max-file" => {
                    let n: i64 = value.parse().map_err(|_| {
                        Error::Option(format!("strconv.Atoi: parsing {value:?}: invalid syntax"))
                    })?;
                    if n < 1 {
                        return Err(Error::Option("max-file cannot be less than 1".into()));
                    }
                    config.max_file = u32::try_from(n).unwrap_or(u32::MAX);
                }
                "compress" | "labels" | "labels-regex" | "env" | "env-regex" | "tag" => {}
                other => {
                    return Err(Error::Option(format!(
                        "unknown log opt '{other}' for json-file log driver"
                    )));
                }
            }
        }
        Ok(config)
    }
}

/// Parses a size as docker's `units.FromHumanSize` does: decimal units,
/// `10m` = 10,000,000 bytes, `1.5k` = 1500; `b`, `i` suffixes are allowed.
pub fn parse_size(value: &str) -> Result<i64, Error> {
    let invalid = || Error::Option(format!("invalid size: '{value}'"));
    let number_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(number_end);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(invalid());
    }
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let mut unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    if unit.ends_with('b') {
        unit.pop();
    }
    if unit.ends_with('i') {
        unit.pop();
    }
    let scale = match unit.as_str() {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "p" => 1e15,
        _ => return Err(invalid()),
    };
    Ok((number * scale) as i64)
}

/// The members of the `attrs` object as the log has them
/// (`"KEY":"VALUE",...`), for the supervisor program's `--attrs`; `None`
/// without any. Escaped as every string in the log is, by
/// `dockyard_supervisor::json::escape`.
pub fn attrs_text(attrs: &BTreeMap<String, String>) -> Option<String> {
    if attrs.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for (i, (k, v)) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::escape(k.as_bytes(), |bytes| out.extend_from_slice(bytes));
        out.push(b':');
        json::escape(v.as_bytes(), |bytes| out.extend_from_slice(bytes));
    }
    // Valid UTF-8 in, valid UTF-8 out.
    String::from_utf8(out).ok()
}

fn open_append(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(io_err("open", path))
}

/// Makes the log file if there is none yet, mode 0640 as docker makes it
/// (the supervisor program appends to it).
pub fn create(path: &Path) -> Result<(), Error> {
    open_append(path).map(drop)
}

/// `NAME.N`, a rotated log.
pub fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// How many lines `docker logs --tail` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tail {
    /// Everything (`--tail all`, the default).
    #[default]
    All,
    /// The last N lines.
    Last(usize),
}

impl std::str::FromStr for Tail {
    type Err = Error;

    /// `all` (or empty, or negative, as dockerd takes them) or a count.
    fn from_str(value: &str) -> Result<Tail, Error> {
        if value.is_empty() || value == "all" {
            return Ok(Tail::All);
        }
        match value.parse::<i64>() {
            Ok(n) if n < 0 => Ok(Tail::All),
            Ok(n) => Ok(Tail::Last(n as usize)),
            Err(_) => Err(Error::Tail(value.to_string())),
        }
    }
}

/// `docker logs`'s options.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Show the container's standard output.
    pub stdout: bool,
    /// Show its standard error.
    pub stderr: bool,
    /// `-f`: keep reading new lines until `stop` (see [`read`]) fires.
    pub follow: bool,
    /// `-t`: prefix each line with its time (`RFC3339NanoFixed`).
    pub timestamps: bool,
    /// `--tail`.
    pub tail: Tail,
    /// `--since` (see [`parse_time`]): only lines at or after it.
    pub since: Option<SystemTime>,
    /// `--until`: only lines before it.
    pub until: Option<SystemTime>,
    /// `--details`: prefix each line with its attributes (`k=v,k2=v2 `).
    pub details: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            stdout: true,
            stderr: true,
            follow: false,
            timestamps: false,
            tail: Tail::All,
            since: None,
            until: None,
            details: false,
        }
    }
}

/// Parses `--since`/`--until` as docker does: `10m`, RFC 3339, unix time.
pub fn parse_time(value: &str) -> Result<SystemTime, Error> {
    Ok(timefmt::parse_time(value, SystemTime::now())?)
}

/// One line read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The bytes the container wrote (with their `\n` unless partial).
    pub log: String,
    /// Where it wrote them.
    pub stream: Stream,
    /// When the supervisor read them.
    pub time: SystemTime,
    /// The line's extra attributes.
    pub attrs: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(default)]
    log: String,
    stream: Stream,
    time: String,
    #[serde(default)]
    attrs: BTreeMap<String, String>,
}

impl Entry {
    /// Parses one line of a json-file log; `None` for a line that is not one
    /// (docker skips those too).
    pub fn parse(line: &[u8]) -> Option<Entry> {
        let raw: RawEntry = serde_json::from_slice(line).ok()?;
        Some(Entry {
            log: raw.log,
            stream: raw.stream,
            time: timefmt::parse_rfc3339(&raw.time)?,
            attrs: raw.attrs,
        })
    }

    /// The line as `docker logs` prints it with these options: time, then
    /// details (`k=v,…` URL-query-escaped, sorted), then the text.
    pub fn format(&self, options: &ReadOptions) -> String {
        let mut out = String::with_capacity(self.log.len() + 32);
        if options.timestamps {
            out.push_str(&timefmt::rfc3339_nano_fixed(self.time));
            out.push(' ');
        }
        if options.details {
            let attrs: Vec<String> = self
                .attrs
                .iter()
                .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
                .collect();
            out.push_str(&attrs.join(","));
            out.push(' ');
        }
        out.push_str(&self.log);
        out
    }

    fn wanted(&self, options: &ReadOptions) -> bool {
        let stream = match self.stream {
            Stream::Stdout => options.stdout,
            Stream::Stderr => options.stderr,
        };
        stream
            && options.since.is_none_or(|s| self.time >= s)
            && options.until.is_none_or(|u| self.time < u)
    }
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An open log file read line by line, remembering a line cut by a reader
/// that came in the middle of a write.
struct Cursor {
    file: File,
    pending: Vec<u8>,
}

impl Cursor {
    fn open(path: &Path) -> Result<Option<Cursor>, Error> {
        match File::open(path) {
            Ok(file) => Ok(Some(Cursor {
                file,
                pending: Vec::new(),
            })),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(io_err("open", path)(err)),
        }
    }

    /// Reads to the end of the file, handing each whole line to `line`.
    fn drain(
        &mut self,
        path: &Path,
        line: &mut dyn FnMut(Entry) -> io::Result<bool>,
    ) -> Result<bool, Error> {
        let mut buf = [0u8; 8192];
        loop {
            let n = match self.file.read(&mut buf) {
                Ok(0) => return Ok(true),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(io_err("read", path)(err)),
            };
            let mut rest = &buf[..n];
            while let Some(i) = rest.iter().position(|&b| b == b'\n') {
                self.pending.extend_from_slice(&rest[..i]);
                let parsed = Entry::parse(&self.pending);
                self.pending.clear();
                if let Some(entry) = parsed
                    && !line(entry).map_err(io_err("write the log of", path))?
                {
                    return Ok(false);
                }
                rest = &rest[i + 1..];
            }
            self.pending.extend_from_slice(rest);
        }
    }

    /// Whether `path` is no longer this file (it was rotated away), or this
    /// file was cut short in place (`max-file=1`), in which case read it again.
    fn rotated(&mut self, path: &Path) -> bool {
        use std::io::Seek;
        let (Ok(ours), Ok(now)) = (self.file.metadata(), std::fs::metadata(path)) else {
            return false;
        };
        if ours.ino() != now.ino() || ours.dev() != now.dev() {
            return true;
        }
        if let Ok(pos) = self.file.stream_position()
            && now.len() < pos
        {
            let _ = self.file.rewind();
            self.pending.clear();
        }
        false
    }
}

// ANCHOR: read
/// `docker logs`: writes the lines of the log at `path` (and its rotated
/// files, oldest first) that `options` select, formatted, to `out`
/// (`out(stream, text)`). With `follow`, waits for new lines (across
/// rotations) until `stop` becomes readable or hangs up, then shows what
/// arrived up to that moment and returns. An `out` error (a closed pipe)
/// ends the read quietly.
pub fn read(
    path: &Path,
    options: &ReadOptions,
    stop: Option<BorrowedFd<'_>>,
    out: &mut dyn FnMut(Stream, &str) -> io::Result<()>,
) -> Result<(), Error> {
    read_woken(path, options, stop.map(Wake::Stop), out)
}

/// `docker logs -f` of a container whose supervisor runs: [`read`] with
/// `follow`, woken by `watch` (a [`watch_run`](crate::supervise::watch_run)
/// socket: the supervisor writes a byte on it when it takes the watcher on
/// and whenever it has logged lines, and closes it when the run is over)
/// rather than by inotify(7), whose instance costs a wait for an SRCU grace
/// period (often 10 ms or more) when it is closed.
pub fn follow_watched(
    path: &Path,
    options: &ReadOptions,
    watch: BorrowedFd<'_>,
    out: &mut dyn FnMut(Stream, &str) -> io::Result<()>,
) -> Result<(), Error> {
    let options = ReadOptions {
        follow: true,
        ..options.clone()
    };
    read_woken(path, &options, Some(Wake::Watch(watch)), out)
}

/// What wakes a follower besides inotify(7).
enum Wake<'a> {
    /// Readable or hung up when following should stop.
    Stop(BorrowedFd<'a>),
    /// A supervisor's watch socket: a byte for new lines, end-of-file for the
    /// end of the run (no inotify needed).
    Watch(BorrowedFd<'a>),
}

fn read_woken(
    path: &Path,
    options: &ReadOptions,
    wake: Option<Wake<'_>>,
    out: &mut dyn FnMut(Stream, &str) -> io::Result<()>,
) -> Result<(), Error> {
    let follow = options.follow && options.until.is_none_or(|u| u > SystemTime::now());
    // Watch before reading, so no line written in between is missed.
    let dir = path.parent().unwrap_or(Path::new("."));
    let watch = if follow && !matches!(wake, Some(Wake::Watch(_))) {
        let inotify =
            Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).map_err(|source| {
                Error::Watch {
                    path: dir.to_path_buf(),
                    source,
                }
            })?;
        inotify
            .add_watch(
                dir,
                AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO,
            )
            .map_err(|source| Error::Watch {
                path: dir.to_path_buf(),
                source,
            })?;
        Some(inotify)
    } else {
        None
    };

    let mut emit = |entry: Entry| -> io::Result<bool> {
        if options.until.is_some_and(|u| entry.time >= u) {
            return Ok(false);
        }
        if entry.wanted(options) {
            out(entry.stream, &entry.format(options))?;
        }
        Ok(true)
    };

    // The lines there already: rotated files oldest first, then the live one.
    let mut kept: VecDeque<Entry> = VecDeque::new();
    let mut files: Vec<PathBuf> = (1..)
        .map(|n| numbered(path, n))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    let mut live = None;
    for file in files.iter().chain([&path.to_path_buf()]) {
        let Some(mut cursor) = Cursor::open(file)? else {
            continue;
        };
        cursor.drain(file, &mut |entry| {
            if entry.wanted(options) {
                kept.push_back(entry);
                if let Tail::Last(n) = options.tail
                    && kept.len() > n
                {
                    kept.pop_front();
                }
            }
            Ok(true)
        })?;
        if file == path {
            live = Some(cursor);
        }
    }
    for entry in kept {
        if !emit(entry).map_err(io_err("write the log of", path))? {
            return Ok(());
        }
    }

    let wake_fd = match &wake {
        Some(Wake::Stop(fd) | Wake::Watch(fd)) => Some(*fd),
        None => None,
    };
    if !follow || (watch.is_none() && wake_fd.is_none()) {
        return Ok(());
    }
    loop {
        let mut fds: Vec<PollFd<'_>> = watch
            .iter()
            .map(|inotify| PollFd::new(inotify.as_fd(), PollFlags::POLLIN))
            .chain(wake_fd.map(|fd| PollFd::new(fd, PollFlags::POLLIN)))
            .collect();
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(source) => {
                return Err(Error::Watch {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        }
        let woken = fds
            .last()
            .filter(|_| wake_fd.is_some())
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty());
        drop(fds);
        let stopped = match (&wake, woken) {
            (Some(Wake::Stop(_)), true) => true,
            // Bytes say "look again"; end-of-file (or an error) says the end.
            (Some(Wake::Watch(fd)), true) => {
                let mut bytes = [0u8; 64];
                !matches!(nix::unistd::read(fd, &mut bytes), Ok(n) if n > 0)
            }
            _ => false,
        };
        // Empty the queue; the events only say "look again".
        if let Some(inotify) = &watch {
            while inotify.read_events().is_ok_and(|e| !e.is_empty()) {}
        }
        // Read what is new, following the name to a new file after a rotation.
        loop {
            if let Some(cursor) = &mut live
                && !cursor.drain(path, &mut emit)?
            {
                return Ok(());
            }
            if live.as_mut().is_some_and(|c| !c.rotated(path)) {
                break;
            }
            match Cursor::open(path)? {
                Some(cursor) => live = Some(cursor),
                None => break,
            }
        }
        if stopped {
            return Ok(());
        }
    }
}
// ANCHOR_END: read

#[cfg(test)]
mod tests {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::time::{Duration, UNIX_EPOCH};

    use dockyard_supervisor::log::{LogBuffers, LogOptions, LogWriter};

    use super::*;

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, 500_000_000)
    }

    /// A log written as the supervisor program writes it: its own writer
    /// (`dockyard_supervisor::log`, system calls on raw descriptors, so
    /// usable from std), at `t(secs)`. The name and the buffers are leaked:
    /// the writer borrows them, and a test is short.
    struct Log(LogWriter<'static>);

    impl Log {
        fn open(path: &Path, config: &LogConfig) -> Log {
            let path = CString::new(path.as_os_str().as_bytes()).unwrap();
            let attrs = attrs_text(&config.attrs).map(|a| a.leak().as_bytes());
            let options = LogOptions {
                path: Box::leak(path.into_boxed_c_str()),
                max_size: config.max_size,
                max_file: config.max_file,
                attrs,
            };
            let buffers = Box::leak(Box::new(LogBuffers::ZERO));
            Log(LogWriter::open(options, buffers).unwrap())
        }

        fn write(&mut self, stream: Stream, line: &[u8], secs: u64) {
            let stream = match stream {
                Stream::Stdout => json::Stream::Stdout,
                Stream::Stderr => json::Stream::Stderr,
            };
            self.0
                .write(stream, line, (secs as i64, 500_000_000))
                .unwrap();
        }
    }

    /// An entry as the supervisor program encodes it, with attrs as the
    /// engine gives them, reads back.
    #[test]
    fn entries_read_back() {
        let attrs = BTreeMap::from([("a b".to_string(), "c&d".to_string())]);
        let text = attrs_text(&attrs).unwrap();
        assert_eq!(text, "\"a b\":\"c\\u0026d\"");
        let mut line = vec![0u8; json::max_len(5, text.len())];
        let n = json::encode(
            &mut line,
            json::Stream::Stderr,
            b"<hi>\n",
            Some(text.as_bytes()),
            (5, 500_000_000),
        );
        let entry = Entry::parse(line[..n].trim_ascii_end()).unwrap();
        assert_eq!(entry.log, "<hi>\n");
        assert_eq!(entry.stream, Stream::Stderr);
        assert_eq!(entry.time, t(5));
        let options = ReadOptions {
            timestamps: true,
            details: true,
            ..Default::default()
        };
        assert_eq!(
            entry.format(&options),
            "1970-01-01T00:00:05.500000000Z a+b=c%26d <hi>\n"
        );
    }

    #[test]
    fn sizes_use_docker_units() {
        assert_eq!(parse_size("10m").unwrap(), 10_000_000);
        assert_eq!(parse_size("1.5k").unwrap(), 1500);
        assert_eq!(parse_size("2KiB").unwrap(), 2000);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert_eq!(
            parse_size("ten").unwrap_err().to_string(),
            "invalid size: 'ten'"
        );
        let opts = |pairs: &[(&'static str, &'static str)]| {
            LogConfig::from_opts(pairs.iter().copied()).map_err(|e| e.to_string())
        };
        assert_eq!(
            opts(&[("max-size", "10m"), ("max-file", "3")]).unwrap(),
            LogConfig {
                max_size: Some(10_000_000),
                max_file: 3,
                attrs: BTreeMap::new()
            }
        );
        assert_eq!(
            opts(&[("max-file", "0")]).unwrap_err(),
            "max-file cannot be less than 1"
        );
        assert_eq!(
            opts(&[("max-size", "0")]).unwrap_err(),
            "max-size must be a positive number"
        );
        assert_eq!(
            opts(&[("max-bytes", "1")]).unwrap_err(),
            "unknown log opt 'max-bytes' for json-file log driver"
        );
        assert_eq!("all".parse::<Tail>().unwrap(), Tail::All);
        assert_eq!("3".parse::<Tail>().unwrap(), Tail::Last(3));
        assert_eq!("-1".parse::<Tail>().unwrap(), Tail::All);
        assert!("x".parse::<Tail>().is_err());
    }

    fn collect(path: &Path, options: &ReadOptions) -> String {
        let mut text = String::new();
        read(path, options, None, &mut |_, s| {
            text.push_str(s);
            Ok(())
        })
        .unwrap();
        text
    }

    #[test]
    fn rotation_keeps_max_file_files_and_reads_across_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let config = LogConfig {
            max_size: Some(200),
            max_file: 3,
            ..Default::default()
        };
        let mut writer = Log::open(&path, &config);
        for i in 0..40 {
            writer.write(Stream::Stdout, format!("line {i}\n").as_bytes(), i);
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["c-json.log", "c-json.log.1", "c-json.log.2"]);
        for name in &names {
            // A file is rotated once it has reached max-size: at most one line over.
            let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
            assert!(len < 200 + 80, "{name} is {len} bytes");
        }
        let all = collect(&path, &ReadOptions::default());
        assert!(all.ends_with("line 38\nline 39\n"), "{all}");
        let first: usize = all
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("line ")
            .parse()
            .unwrap();
        assert_eq!(all.lines().count(), 40 - first, "no gaps: {all}");

        let tail = ReadOptions {
            tail: Tail::Last(2),
            timestamps: true,
            ..Default::default()
        };
        assert_eq!(
            collect(&path, &tail),
            "1970-01-01T00:00:38.500000000Z line 38\n1970-01-01T00:00:39.500000000Z line 39\n"
        );
        let window = ReadOptions {
            since: Some(t(36)),
            until: Some(t(38)),
            ..Default::default()
        };
        assert_eq!(collect(&path, &window), "line 36\nline 37\n");
    }

    #[test]
    fn follow_sees_new_lines_across_rotation_and_stops_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let config = LogConfig {
            max_size: Some(150),
            max_file: 2,
            ..Default::default()
        };
        let mut writer = Log::open(&path, &config);
        writer.write(Stream::Stdout, b"before\n", 0);
        let (stop_read, stop_write) = nix::unistd::pipe().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = {
            let path = path.clone();
            std::thread::spawn(move || {
                let options = ReadOptions {
                    follow: true,
                    ..Default::default()
                };
                read(
                    &path,
                    &options,
                    Some(stop_read.as_fd()),
                    &mut |stream, s| {
                        tx.send((stream, s.to_string())).unwrap();
                        Ok(())
                    },
                )
                .unwrap();
            })
        };
        let next = || rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(next(), (Stream::Stdout, "before\n".to_string()));
        for i in 0..10 {
            writer.write(Stream::Stderr, format!("live {i}\n").as_bytes(), i);
            assert_eq!(next(), (Stream::Stderr, format!("live {i}\n")));
        }
        assert!(numbered(&path, 1).exists(), "the log was rotated meanwhile");
        writer.write(Stream::Stdout, b"last\n", 20);
        drop(stop_write);
        reader.join().unwrap();
        let rest: Vec<_> = rx.try_iter().map(|(_, s)| s).collect();
        assert_eq!(rest, ["last\n"]);
    }
}
