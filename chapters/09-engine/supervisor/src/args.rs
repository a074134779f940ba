//! The command line the engine runs the supervisor with, and the exit
//! program's, which the supervisor runs at the end:
//!
//! ```text
//! dockyard-supervisor --pid PID --pidfd FD --listen FD --out FD [--err FD]
//!     [--stdin FD] [--stdin-once] [--tty] --log PATH [--max-size BYTES]
//!     [--max-file N] [--attrs TEXT] [--finisher FD] [--go FD]
//!     -- PROGRAM [ARGS...]
//! ```
//!
//! Every descriptor is inherited (not close-on-exec). `--out` is the stdout
//! pipe's read end, or with `--tty` the container's pty master (and no
//! `--err`); `--stdin` the stdin pipe's write end or a dup of the master.
//! `--attrs` is the encoded contents of the json-file `attrs` object.
//! `PROGRAM` is run with `--status N` appended when the container is over,
//! unless `--finisher` is given and the finisher does its work instead (see
//! [`finish`](crate::finish)). With `--go`, the engine ran us before it knew
//! the container's command runs: we wait for its word there first (see
//! [`heard_go`](crate::life::heard_go)).

use core::ffi::CStr;

use crate::copier::Io;
use crate::life::Config;
use crate::log::{LogOptions, MAX_ATTRS};
use crate::sys::{self, Errno, Fd};

/// The usage line, for a bad command line.
const USAGE: &str = "usage: dockyard-supervisor --pid PID --pidfd FD --listen FD --out FD \
[--err FD] [--stdin FD] [--stdin-once] [--tty] --log PATH [--max-size BYTES] [--max-file N] \
[--attrs TEXT] [--finisher FD] [--go FD] -- PROGRAM [ARGS...]";

/// The most arguments the exit program is given (`--status N` aside).
pub const MAX_EXIT_ARGS: usize = 256;

/// A program's arguments as the kernel passes them: pointers to
/// NUL-terminated strings.
#[derive(Debug, Clone, Copy)]
pub struct Argv<'a>(&'a [*const u8]);

impl<'a> Argv<'a> {
    /// Wraps `ptrs`.
    ///
    /// # Safety
    /// Each pointer must point to a NUL-terminated string that lives for `'a`.
    pub unsafe fn new(ptrs: &'a [*const u8]) -> Argv<'a> {
        Argv(ptrs)
    }

    /// The `i`th argument.
    pub fn get(&self, i: usize) -> Option<&'a CStr> {
        // SAFETY: Argv::new's contract.
        self.0.get(i).map(|&p| unsafe { CStr::from_ptr(p.cast()) })
    }

    /// The arguments from the `first`th on.
    pub fn from(&self, first: usize) -> impl Iterator<Item = &'a CStr> + '_ {
        (first..self.0.len()).filter_map(|i| self.get(i))
    }
}

/// A parsed command line. The descriptors are only numbers until
/// [`Args::config`] takes them.
#[derive(Debug)]
pub struct Args<'a> {
    pid: i32,
    pidfd: i32,
    listen: i32,
    out: i32,
    err: Option<i32>,
    stdin: Option<i32>,
    stdin_once: bool,
    tty: bool,
    log: LogOptions<'a>,
    finisher: Option<i32>,
    go: Option<i32>,
    /// `PROGRAM [ARGS...]`.
    pub exit: Argv<'a>,
}

/// Why a command line was refused: what, and the argument it was about.
#[derive(Debug, PartialEq, Eq)]
pub struct Usage<'a> {
    /// What is wrong.
    pub what: &'static str,
    /// The argument in question, if one.
    pub arg: Option<&'a CStr>,
}

impl Usage<'_> {
    /// Says it on stderr, with the usage line.
    pub fn print(&self) {
        let arg = self.arg.map_or(&b""[..], CStr::to_bytes);
        let sep: &[u8] = if arg.is_empty() { b"" } else { b": " };
        crate::complain(
            &[self.what.as_bytes(), sep, arg, b"\n", USAGE.as_bytes()],
            None,
        );
    }
}

impl<'a> Args<'a> {
    /// The supervisor's [`Config`], owning the descriptors.
    ///
    /// # Safety
    /// The descriptors must be ours to close (the engine handed them over),
    /// and this must be called once.
    pub unsafe fn config(&self) -> Config<'a> {
        // SAFETY: the caller's promise; parse checked each is open and
        // that no two are the same.
        let take = |fd: i32| unsafe { Fd::from_raw(fd) };
        Config {
            pid: self.pid,
            pidfd: take(self.pidfd),
            listener: take(self.listen),
            io: Io {
                out: take(self.out),
                err: self.err.map(take),
                stdin: self.stdin.map(take),
                stdin_once: self.stdin_once,
                tty: self.tty,
            },
            log: self.log,
        }
    }

    /// The finisher's descriptor, if the engine gave one, owned.
    ///
    /// # Safety
    /// As for [`Args::config`]: ours to close, taken once.
    pub unsafe fn finisher(&self) -> Option<Fd> {
        // SAFETY: the caller's promise; parse checked it is open and no
        // other descriptor of ours.
        self.finisher.map(|fd| unsafe { Fd::from_raw(fd) })
    }

    /// The descriptor the engine's word comes on (`--go`), if given, owned.
    ///
    /// # Safety
    /// As for [`Args::config`]: ours to close, taken once.
    pub unsafe fn go(&self) -> Option<Fd> {
        // SAFETY: as for `finisher`.
        self.go.map(|fd| unsafe { Fd::from_raw(fd) })
    }
}

/// Reads the command line (`argv[0]` first, as the kernel passes it).
pub fn parse<'a>(argv: &Argv<'a>) -> Result<Args<'a>, Usage<'a>> {
    let usage = |what, arg| Usage { what, arg };
    let (mut pid, mut pidfd, mut listen, mut out) = (None, None, None, None);
    let (mut err, mut stdin, mut path, mut finisher) = (None, None, None, None);
    let mut go = None;
    let (mut stdin_once, mut tty) = (false, false);
    let (mut max_size, mut max_file, mut attrs) = (None, 1, None);
    let mut i = 1;
    let exit = loop {
        let Some(arg) = argv.get(i) else {
            return Err(usage("no -- PROGRAM to run at the end", None));
        };
        i += 1;
        match arg.to_bytes() {
            b"--" => break &argv.0[i..],
            b"--stdin-once" => stdin_once = true,
            b"--tty" => tty = true,
            name => {
                let Some(value) = argv.get(i) else {
                    return Err(usage("a value is missing after", Some(arg)));
                };
                i += 1;
                let bytes = value.to_bytes();
                let number = || number(bytes).ok_or(usage("not a number", Some(value)));
                let fd = || {
                    let fd = number()?;
                    match i32::try_from(fd) {
                        Ok(fd) if sys::is_open(fd) => Ok(fd),
                        _ => Err(usage("not an open descriptor", Some(value))),
                    }
                };
                match name {
                    b"--pid" => {
                        pid = Some(
                            i32::try_from(number()?)
                                .ok()
                                .filter(|&p| p > 0)
                                .ok_or(usage("not a pid", Some(value)))?,
                        )
                    }
                    b"--pidfd" => pidfd = Some(fd()?),
                    b"--listen" => listen = Some(fd()?),
                    b"--out" => out = Some(fd()?),
                    b"--err" => err = Some(fd()?),
                    b"--stdin" => stdin = Some(fd()?),
                    b"--finisher" => finisher = Some(fd()?),
                    b"--go" => go = Some(fd()?),
                    b"--log" if !bytes.is_empty() => path = Some(value),
                    b"--max-size" => {
                        max_size = Some(number()?).filter(|&n| n > 0);
                        if max_size.is_none() {
                            return Err(usage("max-size must be a positive number", Some(value)));
                        }
                    }
                    b"--max-file" => {
                        max_file = u32::try_from(number()?)
                            .ok()
                            .filter(|&n| n >= 1)
                            .ok_or(usage("max-file cannot be less than 1", Some(value)))?
                    }
                    b"--attrs" if bytes.len() <= MAX_ATTRS => attrs = Some(bytes),
                    b"--attrs" => return Err(usage("attrs longer than 4096 bytes", None)),
                    _ => return Err(usage("unknown option", Some(arg))),
                }
            }
        }
    };
    let need = |value: Option<i32>, what| value.ok_or(usage(what, None));
    let args = Args {
        pid: need(pid, "--pid is required")?,
        pidfd: need(pidfd, "--pidfd is required")?,
        listen: need(listen, "--listen is required")?,
        out: need(out, "--out is required")?,
        err,
        stdin,
        stdin_once,
        tty,
        log: LogOptions {
            path: path.ok_or(usage("--log is required", None))?,
            max_size,
            max_file,
            attrs,
        },
        finisher,
        go,
        // SAFETY: a part of what the caller vouched for.
        exit: unsafe { Argv::new(exit) },
    };
    if tty && err.is_some() {
        return Err(usage("--err with --tty: a pty has one output", None));
    }
    if exit.is_empty() {
        return Err(usage("no PROGRAM after --", None));
    }
    if exit.len() > MAX_EXIT_ARGS {
        return Err(usage("too many arguments after --", None));
    }
    let fds = [
        Some(args.pidfd),
        Some(args.listen),
        Some(args.out),
        err,
        stdin,
        finisher,
        go,
    ];
    for (i, a) in fds.iter().enumerate() {
        if a.is_some() && fds[i + 1..].contains(a) {
            return Err(usage("a descriptor is given twice", None));
        }
    }
    Ok(args)
}

/// The option before the status on the exit program's command line.
pub const STATUS: &CStr = c"--status";

/// A number written out in decimal, NUL-terminated, without allocating.
#[derive(Debug)]
pub struct Decimal {
    /// The digits after a `-` if negative, then NULs: "-2147483648" is the
    /// longest, 11 bytes.
    bytes: [u8; 12],
    len: usize,
}

impl Decimal {
    /// `value` in decimal.
    pub fn of(value: i32) -> Decimal {
        Decimal::with_sign(value < 0, value.unsigned_abs())
    }

    /// `value` in decimal.
    pub fn of_u32(value: u32) -> Decimal {
        Decimal::with_sign(false, value)
    }

    fn with_sign(negative: bool, value: u32) -> Decimal {
        let mut decimal = Decimal {
            bytes: [0; 12],
            len: 0,
        };
        if negative {
            decimal.bytes[0] = b'-';
            decimal.len = 1;
        }
        let mut digits = [0u8; 10];
        let (mut rest, mut n) = (value, 0);
        loop {
            digits[n] = b'0' + (rest % 10) as u8;
            rest /= 10;
            n += 1;
            if rest == 0 {
                break;
            }
        }
        for &d in digits[..n].iter().rev() {
            decimal.bytes[decimal.len] = d;
            decimal.len += 1;
        }
        decimal
    }

    /// The digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The digits, NUL-terminated.
    pub fn as_c_str(&self) -> &CStr {
        // The array is one longer than the longest number: a NUL follows.
        CStr::from_bytes_until_nul(&self.bytes).unwrap_or_default()
    }
}

/// A decimal number without sign.
fn number(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &b| match b {
        b'0'..=b'9' => n.checked_mul(10)?.checked_add(u64::from(b - b'0')),
        _ => None,
    })
}

/// Runs the exit program: `PROGRAM [ARGS...] --status STATUS` with the
/// environment `envp`. Returns only if execve(2) failed, with why.
///
/// # Safety
/// `envp` must be a null-terminated array of pointers to NUL-terminated
/// strings (the one the kernel gave us).
pub unsafe fn exec_exit(exit: &Argv<'_>, status: i32, envp: *const *const u8) -> Errno {
    let number = Decimal::of(status);
    // ANCHOR: exec_exit
    let mut argv = [core::ptr::null::<u8>(); MAX_EXIT_ARGS + 3];
    argv[..exit.0.len()].copy_from_slice(exit.0);
    argv[exit.0.len()] = STATUS.as_ptr().cast();
    argv[exit.0.len() + 1] = number.as_c_str().as_ptr().cast();
    // SAFETY: argv is null-terminated (the rest of the array), its strings
    // live until execve returns; envp is the caller's promise.
    unsafe { sys::execve(argv[0], argv.as_ptr(), envp) }
    // ANCHOR_END: exec_exit
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;

    use super::*;

    #[test]
    fn numbers_are_written_in_decimal() {
        for (value, text) in [
            (0, "0"),
            (137, "137"),
            (-1, "-1"),
            (i32::MIN, "-2147483648"),
        ] {
            assert_eq!(Decimal::of(value).as_bytes(), text.as_bytes());
            assert_eq!(Decimal::of(value).as_c_str().to_bytes(), text.as_bytes());
        }
        assert_eq!(Decimal::of_u32(u32::MAX).as_bytes(), b"4294967295");
    }

    fn parsed(args: &[&str], check: impl FnOnce(Result<Args<'_>, Usage<'_>>)) {
        let owned: Vec<CString> = std::iter::once("dockyard-supervisor")
            .chain(args.iter().copied())
            .map(|a| CString::new(a).unwrap())
            .collect();
        let ptrs: Vec<*const u8> = owned.iter().map(|c| c.as_ptr().cast()).collect();
        // SAFETY: the CStrings outlive the call.
        let argv = unsafe { Argv::new(&ptrs) };
        check(parse(&argv));
    }

    fn refused(args: &[&str]) -> &'static str {
        let mut what = "";
        parsed(args, |r| what = r.unwrap_err().what);
        what
    }

    // Descriptors 0, 1 and 2 are open in a test (parse takes nothing over).
    const BASE: [&str; 10] = [
        "--pid", "42", "--pidfd", "0", "--listen", "1", "--out", "2", "--log", "/l",
    ];

    fn with(extra: &[&'static str]) -> Vec<&'static str> {
        BASE.iter().copied().chain(extra.iter().copied()).collect()
    }

    #[test]
    fn reads_the_contract() {
        parsed(
            &with(&[
                "--tty",
                "--stdin-once",
                "--max-size",
                "100",
                "--max-file",
                "3",
                "--attrs",
                "\"a\":\"b\"",
                "--",
                "/engine",
                "exit",
                "c1",
            ]),
            |r| {
                let args = r.unwrap();
                assert_eq!(
                    (
                        args.pid,
                        args.pidfd,
                        args.listen,
                        args.out,
                        args.err,
                        args.stdin
                    ),
                    (42, 0, 1, 2, None, None)
                );
                assert!(args.tty && args.stdin_once);
                assert_eq!(args.log.path, c"/l");
                assert_eq!(args.log.max_size, Some(100));
                assert_eq!(args.log.max_file, 3);
                assert_eq!(args.log.attrs, Some(&b"\"a\":\"b\""[..]));
                assert_eq!(args.exit.0.len(), 3);
                assert_eq!(args.exit.get(2), Some(c"c1"));
            },
        );
        parsed(&with(&["--", "/x"]), |r| {
            let args = r.unwrap();
            assert_eq!(
                (args.log.max_size, args.log.max_file, args.log.attrs),
                (None, 1, None)
            );
            assert!(!args.tty && !args.stdin_once);
            assert_eq!((args.finisher, args.go), (None, None));
        });
        let null = std::fs::File::open("/dev/null").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&null);
        let text: &'static str = fd.to_string().leak();
        parsed(&with(&["--finisher", text, "--", "/x"]), |r| {
            assert_eq!(r.unwrap().finisher, Some(fd));
        });
        parsed(&with(&["--go", text, "--", "/x"]), |r| {
            assert_eq!(r.unwrap().go, Some(fd));
        });
    }

    #[test]
    fn refuses_bad_command_lines() {
        assert_eq!(refused(&with(&[])), "no -- PROGRAM to run at the end");
        assert_eq!(refused(&with(&["--"])), "no PROGRAM after --");
        assert_eq!(
            refused(&[&BASE[2..], &["--", "x"]].concat()),
            "--pid is required"
        );
        assert_eq!(
            refused(&with(&["--max-file", "0", "--", "x"])),
            "max-file cannot be less than 1"
        );
        assert_eq!(
            refused(&with(&["--max-size", "0", "--", "x"])),
            "max-size must be a positive number"
        );
        assert_eq!(
            refused(&with(&["--max-size", "1k", "--", "x"])),
            "not a number"
        );
        assert_eq!(
            refused(&with(&["--err", "9999", "--", "x"])),
            "not an open descriptor"
        );
        assert_eq!(
            refused(&with(&["--err", "1", "--", "x"])),
            "a descriptor is given twice"
        );
        assert_eq!(
            refused(&with(&["--finisher", "2", "--", "x"])),
            "a descriptor is given twice"
        );
        assert_eq!(
            refused(&with(&["--go", "0", "--", "x"])),
            "a descriptor is given twice"
        );
        let null = std::fs::File::open("/dev/null").unwrap();
        let fd: &'static str = std::os::fd::AsRawFd::as_raw_fd(&null).to_string().leak();
        assert_eq!(
            refused(&with(&["--tty", "--err", fd, "--", "x"])),
            "--err with --tty: a pty has one output"
        );
        assert_eq!(refused(&with(&["--bogus", "--", "x"])), "unknown option");
        assert_eq!(refused(&with(&["--max-file"])), "a value is missing after");
        let long = "a".repeat(MAX_ATTRS + 1);
        let long: &'static str = long.leak();
        assert_eq!(
            refused(&with(&["--attrs", long, "--", "x"])),
            "attrs longer than 4096 bytes"
        );
        let mut pid0 = with(&["--", "x"]);
        pid0[1] = "0";
        assert_eq!(refused(&pid0), "not a pid");
    }

    #[test]
    fn numbers() {
        assert_eq!(number(b"0"), Some(0));
        assert_eq!(number(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(number(b"18446744073709551616"), None);
        assert_eq!(number(b""), None);
        assert_eq!(number(b"-1"), None);
    }
}
