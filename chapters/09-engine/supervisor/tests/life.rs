//! The supervisor's life against real children: `sh -c ...` started with
//! std's Command, its pipes (or a pty) handed to `supervise`, which runs in
//! the test's thread while other threads play attach clients and watchers.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dockyard_supervisor::copier::Io;
use dockyard_supervisor::log::LogOptions;
use dockyard_supervisor::sys::{Errno, Fd};
use dockyard_supervisor::{Config, FAILED, Failure, supervise};

/// `supervise` reaps every child of the process that has ended (wait4(-1)):
/// in a test, another test's too. One test with children at a time.
static CHILDREN: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner())
}

fn fd(owned: impl Into<OwnedFd>) -> Fd {
    // SAFETY: the descriptor is ours alone from here on.
    unsafe { Fd::from_raw(owned.into().into_raw_fd()) }
}

fn pidfd_open(pid: u32) -> Fd {
    // SAFETY: pidfd_open(2) takes plain integers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: a new descriptor, ours.
    unsafe { Fd::from_raw(fd as i32) }
}

/// A test's directory: the attach socket and the log.
struct Place {
    dir: tempfile::TempDir,
    log: CString,
}

impl Place {
    fn new() -> Place {
        let dir = tempfile::tempdir().unwrap();
        let log = CString::new(dir.path().join("c-json.log").as_os_str().as_bytes()).unwrap();
        Place { dir, log }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("attach.sock")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("c-json.log")
    }

    fn options(&self) -> LogOptions<'_> {
        LogOptions {
            path: &self.log,
            max_size: None,
            max_file: 1,
            attrs: None,
        }
    }

    /// Runs `supervise` for `child` with `io`: its status.
    fn supervise(&self, child: &Child, io: Io, log: LogOptions<'_>) -> i32 {
        self.try_supervise(child, io, log).unwrap()
    }

    /// Runs `supervise` for `child` with `io`.
    fn try_supervise(&self, child: &Child, io: Io, log: LogOptions<'_>) -> Result<i32, Failure> {
        let listener = UnixListener::bind(self.socket()).unwrap();
        supervise(Config {
            pid: child.id() as i32,
            pidfd: pidfd_open(child.id()),
            listener: fd(listener),
            io,
            log,
        })
    }

    /// Connects to the attach socket (once it is there) and says `hello`.
    fn connect(&self, hello: &[u8]) -> UnixStream {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut stream = loop {
            match UnixStream::connect(self.socket()) {
                Ok(stream) => break stream,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(err) => panic!("connect: {err}"),
            }
        };
        stream.write_all(hello).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// The log's entries: (stream, log), each time checked.
    fn entries(&self) -> Vec<(String, String)> {
        entries(&self.log_path())
    }

    /// Waits until the log has an entry with `text`.
    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.entries().iter().any(|(_, l)| l.contains(text)) {
            assert!(Instant::now() < deadline, "no {text:?} in the log");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn entries(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_rfc3339_nano(v["time"].as_str().unwrap());
            (
                v["stream"].as_str().unwrap().to_string(),
                v["log"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the fraction 1-9 digits without
/// trailing zeros.
fn assert_rfc3339_nano(time: &str) {
    let b = time.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b.ends_with(b"Z")
        && (b.len() == 20
            || (b[19] == b'.'
                && (22..=30).contains(&b.len())
                && digits(20..b.len() - 1)
                && b[b.len() - 2] != b'0'));
    assert!(ok, "not RFC3339Nano: {time}");
}

/// `sh -c script` with stdout and stderr on pipes, stdin on a pipe if asked.
fn piped(script: &str, stdin: bool) -> (Child, Io) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let io = Io {
        out: fd(child.stdout.take().unwrap()),
        err: Some(fd(child.stderr.take().unwrap())),
        stdin: child.stdin.take().map(fd),
        stdin_once: false,
        tty: false,
    };
    (child, io)
}

/// Reads one attach frame: (stream, bytes); `None` at end-of-file.
fn read_frame(stream: &mut UnixStream) -> Option<(u8, Vec<u8>)> {
    let mut header = [0u8; 8];
    match stream.read_exact(&mut header) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return None,
        Err(err) => panic!("read a frame: {err}"),
    }
    assert_eq!(header[1..4], [0, 0, 0]);
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).unwrap();
    Some((header[0], body))
}

fn read_to_end(stream: &mut UnixStream) -> Vec<u8> {
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    all
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(s, l)| (s.to_string(), l.to_string()))
        .collect()
}

#[test]
fn logs_both_streams_and_returns_the_exit_code() {
    let _children = one_at_a_time();
    let place = Place::new();
    let (child, io) = piped("echo out; echo '<err>' >&2; printf partial; exit 3", false);
    let log = LogOptions {
        attrs: Some(b"\"tag\":\"web\""),
        ..place.options()
    };
    assert_eq!(place.supervise(&child, io, log), 3);
    let mut got = place.entries();
    // Two pipes: the order between them is the kernel's.
    got.sort();
    assert_eq!(
        got,
        pairs(&[
            ("stderr", "<err>\n"),
            ("stdout", "out\n"),
            ("stdout", "partial")
        ])
    );
    let text = std::fs::read_to_string(place.log_path()).unwrap();
    assert!(
        text.contains("{\"log\":\"\\u003cerr\\u003e\\n\",\"stream\":\"stderr\",\"attrs\":{\"tag\":\"web\"},\"time\":\""),
        "{text}"
    );
}

#[test]
fn a_killed_child_is_128_plus_the_signal() {
    let _children = one_at_a_time();
    let place = Place::new();
    let (mut child, io) = piped("echo before; exec sleep 100", false);
    child.kill().unwrap();
    assert_eq!(place.supervise(&child, io, place.options()), 128 + 9);
}

/// Blocks the forwarded signals in this thread, as the engine leaves them
/// for the supervisor; returns this thread's id for tgkill(2).
fn block_forwarded() -> libc::pid_t {
    // SAFETY: plain signal-set calls on a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ] {
            libc::sigaddset(&mut set, sig);
        }
        assert_eq!(
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
            0
        );
        libc::gettid()
    }
}

fn signal_thread(tid: libc::pid_t, sig: i32) {
    // SAFETY: tgkill(2) takes plain integers; the signal is blocked there.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, sig) };
    assert_eq!(rc, 0);
}

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never came", path.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn signals_pending_before_the_start_are_passed_on() {
    let _children = one_at_a_time();
    let place = Place::new();
    let ready = place.dir.path().join("ready");
    let (child, io) = piped(
        &format!(
            "trap 'echo usr1; exit 7' USR1; touch {}; while :; do sleep 0.02; done",
            ready.display()
        ),
        false,
    );
    let me = block_forwarded();
    wait_for_file(&ready);
    signal_thread(me, libc::SIGUSR1);
    assert_eq!(place.supervise(&child, io, place.options()), 7);
    assert_eq!(place.entries(), pairs(&[("stdout", "usr1\n")]));
}

#[test]
fn signals_that_come_meanwhile_are_passed_on() {
    let _children = one_at_a_time();
    let place = Place::new();
    let ready = place.dir.path().join("ready");
    let (child, io) = piped(
        &format!(
            "trap 'echo term; exit 9' TERM; touch {}; while :; do sleep 0.02; done",
            ready.display()
        ),
        false,
    );
    let me = block_forwarded();
    let sender = std::thread::spawn(move || {
        wait_for_file(&ready);
        std::thread::sleep(Duration::from_millis(50));
        signal_thread(me, libc::SIGTERM);
    });
    assert_eq!(place.supervise(&child, io, place.options()), 9);
    sender.join().unwrap();
    assert_eq!(place.entries(), pairs(&[("stdout", "term\n")]));
}

#[test]
fn an_attach_client_gets_frames_and_sends_stdin_once() {
    let _children = one_at_a_time();
    let place = Place::new();
    let (child, mut io) = piped("cat; echo done >&2", true);
    io.stdin_once = true;
    let client = std::thread::scope(|scope| {
        let client = scope.spawn(|| {
            let mut stream = place.connect(&[b'a', 1 | 2 | 4]);
            stream.write_all(b"hello\n").unwrap();
            let first = read_frame(&mut stream);
            // End of input: with stdin-once, the container's stdin closes.
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            let mut rest = Vec::new();
            while let Some(frame) = read_frame(&mut stream) {
                rest.push(frame);
            }
            (first, rest)
        });
        assert_eq!(place.supervise(&child, io, place.options()), 0);
        client.join().unwrap()
    });
    assert_eq!(client.0, Some((1, b"hello\n".to_vec())));
    assert_eq!(client.1, [(2, b"done\n".to_vec())]);
    assert_eq!(
        place.entries(),
        pairs(&[("stdout", "hello\n"), ("stderr", "done\n")])
    );
}

#[test]
fn without_stdin_once_stdin_outlives_a_client() {
    let _children = one_at_a_time();
    let place = Place::new();
    let (child, io) = piped("exec cat", true);
    let pid = child.id() as i32;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for word in ["one\n", "two\n"] {
                let mut stream = place.connect(&[b'a', 1 | 2]);
                stream.write_all(word.as_bytes()).unwrap();
                assert_eq!(read_frame(&mut stream), Some((1, word.as_bytes().to_vec())));
            }
            // SAFETY: kill(2) of our child, not yet reaped (supervise waits).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        });
        assert_eq!(place.supervise(&child, io, place.options()), 128 + 9);
    });
    assert_eq!(
        place.entries(),
        pairs(&[("stdout", "one\n"), ("stdout", "two\n")])
    );
}

#[test]
fn clients_get_the_streams_they_ask_for() {
    let _children = one_at_a_time();
    let place = Place::new();
    // It waits for a line on stdin, so both clients are there before it prints.
    let (child, io) = piped("read x; echo o; echo e >&2", true);
    std::thread::scope(|scope| {
        let clients = scope.spawn(|| {
            let mut err_only = place.connect(&[b'a', 4]);
            let mut out_only = place.connect(&[b'a', 2]);
            let mut input = place.connect(&[b'a', 1]);
            // Taken on in order: once the last answers, all are.
            let mut watch = place.connect(b"w");
            let mut dot = [0u8; 1];
            watch.read_exact(&mut dot).unwrap();
            input.write_all(b"go\n").unwrap();
            let frames = |s: &mut UnixStream| {
                let mut all = Vec::new();
                while let Some(frame) = read_frame(s) {
                    all.push(frame);
                }
                all
            };
            (
                frames(&mut out_only),
                frames(&mut err_only),
                read_to_end(&mut input),
            )
        });
        assert_eq!(place.supervise(&child, io, place.options()), 0);
        let (out, err, input) = clients.join().unwrap();
        assert_eq!(out, [(1, b"o\n".to_vec())]);
        assert_eq!(err, [(2, b"e\n".to_vec())]);
        assert!(input.is_empty(), "an input-only client gets no output");
    });
}

#[test]
fn watchers_get_a_dot_per_batch_then_end_of_file() {
    let _children = one_at_a_time();
    let place = Place::new();
    let (child, io) = piped("echo one; sleep 0.3; echo two", false);
    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let mut watch = place.connect(b"w");
            let all = read_to_end(&mut watch);
            // At end-of-file, everything is in the log.
            (all, place.entries())
        });
        assert_eq!(place.supervise(&child, io, place.options()), 0);
        let (dots, logged) = watcher.join().unwrap();
        assert!(dots.iter().all(|&b| b == b'.'), "{dots:?}");
        assert!(dots.len() >= 2, "one at once, one per batch: {dots:?}");
        assert_eq!(logged, pairs(&[("stdout", "one\n"), ("stdout", "two\n")]));
    });
}

#[test]
fn more_than_the_maximum_and_unknown_hellos_are_closed() {
    let _children = one_at_a_time();
    let place = Place::new();
    let (child, io) = piped("read x; echo end", true);
    std::thread::scope(|scope| {
        let clients = scope.spawn(|| {
            let mut watchers: Vec<UnixStream> = (0..33).map(|_| place.connect(b"w")).collect();
            let mut unknown = place.connect(b"z");
            let mut input = place.connect(&[b'a', 1]);
            let last = read_to_end(&mut watchers[32]);
            let bogus = read_to_end(&mut unknown);
            input.write_all(b"\n").unwrap();
            let first = read_to_end(&mut watchers[0]);
            (last, bogus, first)
        });
        assert_eq!(place.supervise(&child, io, place.options()), 0);
        let (last, bogus, first) = clients.join().unwrap();
        assert!(last.is_empty(), "the 33rd watcher is closed at once");
        assert!(bogus.is_empty());
        assert!(first.starts_with(b".."), "{first:?}");
    });
}

#[test]
fn a_client_that_does_not_read_is_let_go() {
    let _children = one_at_a_time();
    let place = Place::new();
    let (child, io) = piped("read x; head -c 4000000 /dev/zero | tr '\\0' x; echo", true);
    std::thread::scope(|scope| {
        let client = scope.spawn(|| {
            let mut lazy = place.connect(&[b'a', 1 | 2]);
            lazy.write_all(b"go\n").unwrap();
            lazy
        });
        // Were it waited for, the container would block on a full pipe.
        assert_eq!(place.supervise(&child, io, place.options()), 0);
        let mut lazy = client.join().unwrap();
        let got = read_to_end(&mut lazy).len();
        assert!(got < 4_000_000, "dropped before the end: {got}");
    });
    let logged: usize = place.entries().iter().map(|(_, l)| l.len()).sum();
    assert_eq!(logged, 4_000_001);
}

#[test]
fn rotates_while_it_runs() {
    let _children = one_at_a_time();
    let place = Place::new();
    let (child, io) = piped(
        "i=0; while [ $i -lt 40 ]; do echo line $i; i=$((i+1)); done",
        false,
    );
    let log = LogOptions {
        max_size: Some(300),
        max_file: 2,
        ..place.options()
    };
    assert_eq!(place.supervise(&child, io, log), 0);
    let mut names: Vec<String> = std::fs::read_dir(place.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("c-json"))
        .collect();
    names.sort();
    assert_eq!(names, ["c-json.log", "c-json.log.1"]);
    let mut all = entries(&place.dir.path().join("c-json.log.1"));
    all.extend(place.entries());
    assert_eq!(all.last().unwrap().1, "line 39\n");
    let first: usize = all[0].1["line ".len()..].trim().parse().unwrap();
    assert_eq!(all.len(), 40 - first, "no gaps");
}

/// A pty (pty(7)) whose slave is the child's stdio, as the container's own
/// terminal; the master is the supervisor's `--out` and (a dup) `--stdin`.
fn on_a_pty(script: &str) -> (Child, Io) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty(3) writes two descriptors; no name, termios or size.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0);
    // SAFETY: new descriptors, ours.
    let (master, slave) = unsafe {
        use std::os::fd::FromRawFd;
        (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave))
    };
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let io = Io {
        stdin: Some(fd(master.try_clone().unwrap())),
        out: fd(master),
        err: None,
        stdin_once: false,
        tty: true,
    };
    (child, io)
}

#[test]
fn a_tty_replays_its_start_to_the_first_client_that_asks_and_resizes() {
    let _children = one_at_a_time();
    let place = Place::new();
    let (child, io) = on_a_pty("echo banner; read line; echo \"got $line\"; stty size");
    std::thread::scope(|scope| {
        let clients = scope.spawn(|| {
            place.wait_for("banner");
            let mut first = place.connect(&[b'a', 1 | 2 | 8]);
            let mut banner = [0u8; 8];
            first.read_exact(&mut banner).unwrap();
            let mut second = place.connect(&[b'a', 2 | 8]);
            let mut resize = place.connect(&[b'r', 0, 33, 0, 101]);
            let mut ack = [0u8; 1];
            resize.read_exact(&mut ack).unwrap();
            first.write_all(b"hi\n").unwrap();
            (
                banner,
                ack,
                read_to_end(&mut first),
                read_to_end(&mut second),
            )
        });
        assert_eq!(place.supervise(&child, io, place.options()), 0);
        let (banner, ack, first, second) = clients.join().unwrap();
        assert_eq!(&banner, b"banner\r\n", "raw, as the pty wrote it");
        assert_eq!(&ack, b"k");
        let first = String::from_utf8(first).unwrap();
        let second = String::from_utf8(second).unwrap();
        // The pty echoes the input, then the command's answer.
        assert_eq!(first, "hi\r\ngot hi\r\n33 101\r\n");
        assert_eq!(second, first, "no replay for the second client");
    });
    assert_eq!(
        place.entries(),
        pairs(&[
            ("stdout", "banner\r\n"),
            ("stdout", "hi\r\n"),
            ("stdout", "got hi\r\n"),
            ("stdout", "33 101\r\n"),
        ])
    );
}

/// SIGCHLD's disposition: whether it is `SIG_IGN`.
fn sigchld_ignored() -> bool {
    // SAFETY: sigaction(2) only reads the old action into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(
            libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut old),
            0
        );
        old.sa_sigaction == libc::SIG_IGN
    }
}

fn set_sigchld(handler: libc::sighandler_t) {
    // SAFETY: SIG_IGN or SIG_DFL, no handler function.
    assert_ne!(
        unsafe { libc::signal(libc::SIGCHLD, handler) },
        libc::SIG_ERR
    );
}

/// Gives SIGCHLD its default action back, whatever a test ends with (an
/// ignored SIGCHLD would reap the other tests' children).
struct SigchldDefault;

impl Drop for SigchldDefault {
    fn drop(&mut self) {
        set_sigchld(libc::SIG_DFL);
    }
}

#[test]
fn an_inherited_ignored_sigchld_does_not_lose_the_init() {
    let _children = one_at_a_time();
    let _restore = SigchldDefault;
    let place = Place::new();
    // As a caller such as Python's signal(SIGCHLD, SIG_IGN) leaves it: the
    // kernel would reap the init itself as it ends.
    set_sigchld(libc::SIG_IGN);
    let (child, io) = piped("read x; echo bye; exit 5", true);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut input = place.connect(&[b'a', 1]);
            input.write_all(b"\n").unwrap();
        });
        assert_eq!(place.supervise(&child, io, place.options()), 5);
    });
    assert!(!sigchld_ignored());
    assert_eq!(place.entries(), pairs(&[("stdout", "bye\n")]));
}

#[test]
fn silent_connections_hold_nothing_up_and_are_closed_after_a_second() {
    let _children = one_at_a_time();
    let place = Place::new();
    let (child, io) = piped(
        "while read x; do echo \"$x\"; [ \"$x\" = end ] && exit 0; done",
        true,
    );
    std::thread::scope(|scope| {
        let clients = scope.spawn(|| {
            let start = Instant::now();
            // Connected, and never a word.
            let mut silent: Vec<UnixStream> = (0..5).map(|_| place.connect(b"")).collect();
            let mut watch = place.connect(b"w");
            let mut dot = [0u8; 1];
            watch.read_exact(&mut dot).unwrap();
            let watched = start.elapsed();
            // A hello in two pieces.
            let mut client = place.connect(b"a");
            std::thread::sleep(Duration::from_millis(200));
            client.write_all(&[1 | 2]).unwrap();
            client.write_all(b"one\n").unwrap();
            let frame = read_frame(&mut client);
            let echoed = start.elapsed();
            let closed: Vec<(Vec<u8>, Duration)> = silent
                .iter_mut()
                .map(|s| (read_to_end(s), start.elapsed()))
                .collect();
            client.write_all(b"end\n").unwrap();
            (watched, frame, echoed, closed, read_frame(&mut client))
        });
        assert_eq!(place.supervise(&child, io, place.options()), 0);
        let (watched, frame, echoed, closed, last) = clients.join().unwrap();
        assert!(watched < Duration::from_millis(500), "{watched:?}");
        assert_eq!(frame, Some((1, b"one\n".to_vec())));
        assert!(echoed < Duration::from_millis(900), "{echoed:?}");
        for (got, when) in closed {
            assert!(got.is_empty());
            assert!(
                when >= Duration::from_secs(1) && when < Duration::from_millis(2500),
                "closed after {when:?}"
            );
        }
        assert_eq!(last, Some((1, b"end\n".to_vec())));
    });
    assert_eq!(
        place.entries(),
        pairs(&[("stdout", "one\n"), ("stdout", "end\n")])
    );
}

/// Whether `pid` is a child not yet reaped.
fn unreaped(pid: u32) -> bool {
    // SAFETY: waitid(2) writes a siginfo_t we own; WNOWAIT reaps nothing.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_PID,
            pid,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        ) == 0
    }
}

#[test]
fn if_the_log_cannot_be_opened_the_init_is_killed_and_reaped() {
    let _children = one_at_a_time();
    let place = Place::new();
    let (child, io) = piped("exec sleep 100", false);
    let nowhere = CString::new(
        place
            .dir
            .path()
            .join("no/such/dir/c-json.log")
            .as_os_str()
            .as_bytes(),
    )
    .unwrap();
    let log = LogOptions {
        path: &nowhere,
        ..place.options()
    };
    let started = Instant::now();
    let failure = place.try_supervise(&child, io, log).unwrap_err();
    assert_eq!(
        failure,
        Failure {
            errno: Errno(libc::ENOENT),
            status: 128 + 9
        }
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!unreaped(child.id()), "reaped, not left running");
}

/// Lowers RLIMIT_NOFILE's soft limit until dropped: then poll(2) of more
/// descriptors than that fails (EINVAL), as good as any failure midway.
struct FewFiles(libc::rlimit);

impl FewFiles {
    fn lower(to: libc::rlim_t) -> FewFiles {
        // SAFETY: getrlimit and setrlimit read and write the struct we pass.
        unsafe {
            let mut old: libc::rlimit = std::mem::zeroed();
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut old), 0);
            let new = libc::rlimit {
                rlim_cur: to,
                ..old
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &new), 0);
            FewFiles(old)
        }
    }
}

impl Drop for FewFiles {
    fn drop(&mut self) {
        // SAFETY: setrlimit reads the struct we pass.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &self.0) }, 0);
    }
}

#[test]
fn if_poll_fails_the_init_is_killed_and_its_output_logged() {
    let _children = one_at_a_time();
    let place = Place::new();
    // It ignores the signal that wakes the supervisor up (a disposition
    // set to ignore survives exec).
    let (child, io) = piped(
        "trap '' USR1; printf 'early\\npartial'; exec sleep 100",
        false,
    );
    let me = block_forwarded();
    let few = Mutex::new(None);
    let failure = std::thread::scope(|scope| {
        scope.spawn(|| {
            place.wait_for("early");
            // Fewer than the supervisor polls: its next poll(2) fails.
            *few.lock().unwrap() = Some(FewFiles::lower(64));
            signal_thread(me, libc::SIGUSR1);
        });
        place.try_supervise(&child, io, place.options())
    });
    drop(few);
    assert_eq!(
        failure,
        Err(Failure {
            errno: Errno(libc::EINVAL),
            status: 128 + 9
        })
    );
    assert!(!unreaped(child.id()));
    // The partial line is logged as the output ends.
    assert_eq!(
        place.entries(),
        pairs(&[("stdout", "early\n"), ("stdout", "partial")])
    );
}

#[test]
fn if_the_init_cannot_be_reaped_its_output_is_logged_all_the_same() {
    let _children = one_at_a_time();
    let _restore = SigchldDefault;
    let place = Place::new();
    let (child, io) = piped(
        "echo early; read x; printf 'late\\npartial'; printf err >&2; exit 3",
        true,
    );
    let failure = std::thread::scope(|scope| {
        scope.spawn(|| {
            place.wait_for("early");
            // Now the kernel reaps it as it ends: waitid(2) fails (ECHILD).
            set_sigchld(libc::SIG_IGN);
            let mut input = place.connect(&[b'a', 1]);
            input.write_all(b"\n").unwrap();
        });
        place.try_supervise(&child, io, place.options())
    });
    assert_eq!(
        failure,
        Err(Failure {
            errno: Errno(libc::ECHILD),
            status: FAILED
        })
    );
    let mut got = place.entries();
    got.sort();
    assert_eq!(
        got,
        pairs(&[
            ("stderr", "err"),
            ("stdout", "early\n"),
            ("stdout", "late\n"),
            ("stdout", "partial"),
        ])
    );
}
