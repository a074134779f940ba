//! The supervisor's main loop, and what the engine uses to talk to it.
//!
//! One supervisor process per container. The engine starts it with
//! [`launch`] (a double fork, so it is nobody's child to wait for, then an
//! exec of the engine binary as `dockyard shim ...`), and the re-exec'd
//! process calls [`supervise`], which:
//!
//! 1. becomes a daemon: a session of its own (setsid(2)), a *child subreaper*
//!    (prctl(2) `PR_SET_CHILD_SUBREAPER`: any descendant orphaned under it,
//!    such as the processes of a dying PID namespace, is re-parented to it
//!    rather than to the host's init, so it can reap them), stdio on /dev/null;
//! 2. writes `supervisor.json` (its pid and start time) for [`SupervisorInfo`]
//!    and listens on `attach.sock` (unix(7));
//! 3. for each run of the container: gives it pipes for stdout and stderr (or,
//!    with `-t`, a pty(7) whose master it holds) and for stdin with `-i`;
//!    calls the engine's [`Runner::run`], which runs chapter 03's
//!    `run_with_setup` (chapter 02's runner inside: clone, pidfd_open(2) and
//!    poll(2), signalfd(2) forwarding; nothing polls on a timer), while a second
//!    thread copies the output into the json-file log and to attach clients
//!    and their input to the container;
//! 4. when the run ends: tears down through [`Runner::teardown`], records the
//!    exit through [`Record::record`] (the engine writes it atomically into its
//!    store), and applies the restart policy with docker's delay.
//!
//! The attach socket speaks a tiny protocol of its own, wrapped by
//! [`attach`], [`resize`] and [`watch_run`]: a client's first byte says what
//! it wants. An attach client then sends raw stdin and receives the output
//! in docker's attach format (raw with `-t`; otherwise docker's multiplexed
//! frames, 8-byte header `[stream, 0, 0, 0, size as u32 big-endian]`, read
//! with [`read_frame`]), so the daemon can pass it on to an API client as is.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use ch01_chroot::explain;
use ch03_cgroups::{Exit, RunError};
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::pty::{Winsize, openpty};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::logs::{self, LogConfig, LogWriter, Stream};
use crate::restart::{Policy, Restarts};

/// The attach socket's name in the supervisor's directory.
pub const SOCKET: &str = "attach.sock";
/// The file with the supervisor's pid and start time.
pub const INFO: &str = "supervisor.json";
/// The file the supervisor writes its last exit status into, for [`ExitWatch`].
pub const EXIT: &str = "exit";
/// The variable through which [`launch`] tells the supervisor which
/// descriptor to report readiness on.
pub const READY_FD_VAR: &str = "DOCKYARD_SHIM_READY_FD";

/// The descriptor [`launch`] hands the supervisor its end of the ready pipe on.
const READY_FD: RawFd = 3;

/// A client's first byte on the attach socket.
const HELLO_ATTACH: u8 = b'a';
const HELLO_RESIZE: u8 = b'r';
const HELLO_WATCH: u8 = b'w';

nix::ioctl_write_ptr_bad!(set_winsize, libc::TIOCSWINSZ, Winsize);

/// An error of the engine's own code (its store, its teardown), passed through.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong in the supervisor or in talking to it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or socket operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// A system call without a path failed.
    #[error("{step}: {source}")]
    Sys {
        /// The call and what it was for.
        step: &'static str,
        /// What the kernel said.
        source: Errno,
    },
    /// The state file could not be written.
    #[error(transparent)]
    State(#[from] ch04_overlayfs::io::IoError),
    /// The log could not be written.
    #[error(transparent)]
    Log(#[from] logs::Error),
    /// The engine's store refused a record.
    #[error("record the container's {what}: {source}")]
    Record {
        /// Which record.
        what: &'static str,
        /// The store's error.
        source: BoxError,
    },
    /// The supervisor ended before it said whether the container started.
    #[error("the supervisor ({program}) exited before the container started")]
    NoReady {
        /// The program that was launched.
        program: String,
    },
    /// The container could not start (docker's 125/126/127 in `code`).
    #[error("{message}")]
    StartFailed {
        /// docker's exit status for the failure.
        code: i32,
        /// What went wrong, as the runtime said it.
        message: String,
    },
    /// No supervisor listens in this directory (it has exited or was killed).
    #[error("no supervisor listens on {0}")]
    Gone(PathBuf),
}

fn io_at(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { op, path, source }
}

fn sys(step: &'static str) -> impl FnOnce(Errno) -> Error {
    move |source| Error::Sys { step, source }
}

/// A terminal's size in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSize {
    /// Lines.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

// ANCHOR: config
/// How to supervise one container.
#[derive(Debug)]
pub struct Config {
    /// The supervisor's own directory (the container's, in the engine):
    /// `attach.sock` and `supervisor.json` go there. Its path must be short
    /// enough for a unix socket address (under 100 bytes).
    pub dir: PathBuf,
    /// The json-file log (`<id>-json.log` in docker).
    pub log_path: PathBuf,
    /// `--log-opt`s.
    pub log: LogConfig,
    /// `-t`: a pty for the container.
    pub tty: bool,
    /// `-i`: keep the container's stdin open for attach clients.
    pub open_stdin: bool,
    /// docker's `StdinOnce` (`run -i` without `-d`): the container's stdin
    /// closes when the first attach client that sends stdin closes its side.
    /// (With `-t` input simply stops: a terminal has no end-of-file; a
    /// client sends Ctrl-D for that.)
    pub stdin_once: bool,
    /// `--restart`.
    pub restart: Policy,
    /// How many restarts the store has counted already.
    pub restart_count: u32,
    /// The terminal size to start with (`-t`).
    pub size: Option<WindowSize>,
    /// Where to say whether the container started (see [`launch`] and
    /// [`ready_fd_from_env`]); closed after the first start.
    pub ready: Option<OwnedFd>,
}
// ANCHOR_END: config

// ANCHOR: traits
/// The engine's side of a run: make the container, wait for it, undo.
pub trait Runner {
    /// Runs the container once and returns how it ended: the engine sets up
    /// what the run needs (rootfs mount, network) and calls chapter 03's
    /// `run_with_setup`, calling `started` from its set-up hook with the
    /// container's pid (after its own set-up steps). The container inherits
    /// the supervisor's stdin, stdout and stderr, which are already the
    /// container's pipes or pty when this is called.
    fn run(&mut self, started: &mut ch02_namespaces::Setup<'_>) -> Result<Exit, RunError>;

    /// Undoes what `run` set up (unmount, network teardown); chapter 03
    /// already removed the cgroup. Called after every run, before the exit is
    /// recorded, so a container recorded as exited has nothing left mounted.
    fn teardown(&mut self) -> Result<(), BoxError>;
}

/// The engine's store, as the supervisor sees it: every record must be
/// written atomically (temp file, fsync, rename).
pub trait Record {
    /// Records an event of the container's life.
    fn record(&mut self, event: &Event) -> Result<(), BoxError>;

    /// Whether the user stopped the container (`docker stop`/`kill`), which
    /// no restart policy overrides. The engine sets it before it signals.
    fn stopped_by_user(&mut self) -> bool;
}
// ANCHOR_END: traits

/// What the supervisor records, as it happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The container's init exists (host pid), about to exec the command.
    Started {
        /// Its pid on the host.
        pid: i32,
        /// When (docker's `StartedAt`).
        at: SystemTime,
        /// docker's `RestartCount` at this start.
        restart_count: u32,
    },
    /// The run ended (or could not start).
    Exited(ExitRecord),
    /// The restart policy will start it again after `delay` (docker's
    /// `restarting` status).
    Restarting {
        /// docker's `RestartCount`, this restart included.
        restart_count: u32,
        /// How long the supervisor waits first.
        delay: Duration,
    },
}

/// How a run ended, for docker's `State`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// `ExitCode`: the status, 128+N after signal N, 125/126/127 when it
    /// could not start.
    pub code: i32,
    /// `OOMKilled`.
    pub oom_killed: bool,
    /// `FinishedAt`.
    pub finished_at: SystemTime,
    /// `RestartCount` so far.
    pub restart_count: u32,
    /// `Error`: why it could not start, if it could not.
    pub error: Option<String>,
}

/// What the supervisor tells [`launch`] once, on its ready pipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ready {
    /// The container's command runs; the host pid of its init.
    Started {
        /// The pid.
        pid: i32,
    },
    /// It could not be started.
    Failed {
        /// docker's exit status for the failure.
        code: i32,
        /// What went wrong.
        message: String,
    },
}

// ANCHOR: launch
/// Starts a supervisor and returns the container's pid once its command
/// runs (its execve(2) succeeded), or docker's error and exit status
/// ([`Error::StartFailed`], 127 for a command not found) if it could not
/// start. Runs `cmd` (the engine binary with `shim` arguments that lead to
/// [`supervise`]) double-forked (the child forks again and exits, so the supervisor is
/// re-parented to init and outlives the caller without being its zombie),
/// with stdio on /dev/null and the write end of a pipe on which it reports
/// [`Ready`]. This is how `run -d` returns at once.
pub fn launch(mut cmd: Command) -> Result<i32, Error> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let (read_end, write_end) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe2(2) for the ready pipe"))?;
    let raw = write_end.as_raw_fd();
    cmd.env(READY_FD_VAR, READY_FD.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec only async-signal-safe calls: dup2(2),
    // fcntl(2), fork(2), _exit(2).
    unsafe {
        cmd.pre_exec(move || {
            if raw == READY_FD {
                let flags = libc::fcntl(raw, libc::F_GETFD);
                libc::fcntl(raw, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            } else if libc::dup2(raw, READY_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            match libc::fork() {
                -1 => Err(io::Error::last_os_error()),
                0 => Ok(()),
                _ => libc::_exit(0),
            }
        });
    }
    let mut middle = cmd.spawn().map_err(io_at("start", Path::new(&program)))?;
    let _ = middle.wait();
    drop(write_end);
    let mut report = String::new();
    File::from(read_end)
        .read_to_string(&mut report)
        .map_err(io_at("read the ready pipe of", Path::new(&program)))?;
    match serde_json::from_str::<Ready>(report.trim()) {
        Ok(Ready::Started { pid }) => Ok(pid),
        Ok(Ready::Failed { code, message }) => Err(Error::StartFailed { code, message }),
        Err(_) => Err(Error::NoReady { program }),
    }
}
// ANCHOR_END: launch

/// In the process [`launch`] started: the ready pipe's write end, for
/// [`Config::ready`].
pub fn ready_fd_from_env() -> Option<OwnedFd> {
    let fd: RawFd = std::env::var(READY_FD_VAR).ok()?.parse().ok()?;
    // Only take a descriptor that is open, and keep it from the container.
    // SAFETY: fcntl(2) on a plain descriptor number touches no memory.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return None;
    }
    // SAFETY: launch gave us this descriptor for our own use, and nothing
    // else in the process owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether `pid` runs another program than ours (it has exec'd): its
/// `/proc/PID/exe` is another file. False once it is exiting (its memory,
/// and so its exe link, is gone).
fn has_execd(pid: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::metadata("/proc/self/exe"),
        std::fs::metadata(format!("/proc/{pid}/exe")),
    ) {
        (Ok(ours), Ok(theirs)) => (ours.dev(), ours.ino()) != (theirs.dev(), theirs.ino()),
        _ => false,
    }
}

/// The ready pipe of the first run, shared by the main thread and the copier
/// (which watches for the exec): whoever knows first reports, once.
struct Readiness {
    ready: Mutex<Option<OwnedFd>>,
    /// The container's init, once chapter 02's set-up hook has seen it.
    pid: AtomicI32,
}

impl Readiness {
    fn waiting(&self) -> bool {
        self.ready.lock().is_ok_and(|r| r.is_some())
    }

    fn report(&self, message: &Ready) {
        let fd = match self.ready.lock() {
            Ok(mut ready) => ready.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(fd) = fd {
            let mut line = serde_json::to_vec(message).unwrap_or_default();
            line.push(b'\n');
            let _ = File::from(fd).write_all(&line);
        }
    }
}

// ANCHOR: liveness
/// Which process is a container's supervisor, written to `supervisor.json`
/// when it starts. A pid alone can be reused after the process is gone; the
/// pair (pid, start time) cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisorInfo {
    /// The supervisor's pid.
    pub pid: i32,
    /// Its start time, in clock ticks after boot (`/proc/PID/stat` field 22).
    pub start_time: u64,
}

impl SupervisorInfo {
    /// Reads `supervisor.json` in `dir`.
    pub fn read(dir: &Path) -> Result<SupervisorInfo, Error> {
        let path = dir.join(INFO);
        let bytes = std::fs::read(&path).map_err(io_at("read", &path))?;
        serde_json::from_slice(&bytes).map_err(|e| io_at("parse", &path)(io::Error::other(e)))
    }

    /// Whether the supervisor is still running: see [`is_alive`].
    pub fn is_alive(&self) -> bool {
        is_alive(self.pid, self.start_time)
    }
}

/// Whether the process `pid` that started at `start_time` still runs: it
/// exists, it is the same process (not a later one given the same pid), and
/// it is not a zombie whose threads have all exited. (A multithreaded
/// process killed by SIGKILL shows its main thread as a zombie while the
/// others are still on their way out, holding its descriptors: it counts as
/// alive until the last is gone.) After a `kill -9` of a supervisor this
/// turns false, and the engine marks the container exited and cleans up
/// after it.
pub fn is_alive(pid: i32, start_time: u64) -> bool {
    let Some((state, start)) = read_stat(&format!("/proc/{pid}/stat")) else {
        return false;
    };
    if start != start_time {
        return false;
    }
    if !matches!(state, 'Z' | 'X') {
        return true;
    }
    std::fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|tasks| {
        tasks.flatten().any(|task| {
            read_stat(&task.path().join("stat").to_string_lossy())
                .is_some_and(|(state, _)| !matches!(state, 'Z' | 'X'))
        })
    })
}

/// The state letter (field 3: R, S, Z...) and start time (field 22, clock
/// ticks after boot) in a `/proc/PID/stat` or `/proc/PID/task/TID/stat`
/// file (proc(5)).
fn read_stat(path: &str) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may contain spaces and parentheses: count
    // fields from after its last ')', where field 3 is the first.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    Some((
        fields.first()?.chars().next()?,
        fields.get(22 - 3)?.parse().ok()?,
    ))
}
// ANCHOR_END: liveness

// ANCHOR: exit_watch
/// A waiter's hold on the exit status a supervisor leaves when its life is
/// over: what lets `docker wait` print the status of an auto-removed (`--rm`)
/// container, whose records are gone by the time the waiter wakes. The
/// supervisor makes an empty `exit` file in its directory when it starts and
/// writes the status into that same file (not a new one renamed over it) at
/// the end, before the engine removes anything; a waiter opens it before it
/// waits, so it can read the status through its descriptor even after the
/// file is unlinked. It reads only after the supervisor let go of the run (the
/// engine's run lock), so the one small write(2) is complete by then.
#[derive(Debug)]
pub struct ExitWatch(File);

impl ExitWatch {
    /// Opens the exit file of the supervisor in `dir`; `None` if there is
    /// none (no supervisor, or one already gone).
    pub fn open(dir: &Path) -> Option<ExitWatch> {
        File::open(dir.join(EXIT)).ok().map(ExitWatch)
    }

    /// The status the supervisor wrote, once it has: `None` before, or if it
    /// ended without one (it was killed).
    pub fn code(&self) -> Option<i32> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 16];
        let n = self.0.read_at(&mut buf, 0).ok()?;
        std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
    }
}
// ANCHOR_END: exit_watch

// ANCHOR: supervise
/// The supervisor's life: see the [module documentation](self). Returns the
/// last run's exit once no restart is due; the caller then exits.
pub fn supervise(
    mut config: Config,
    runner: &mut dyn Runner,
    store: &mut dyn Record,
) -> Result<ExitRecord, Error> {
    become_daemon()?;
    let me = Pid::this();
    let start_time = read_stat("/proc/self/stat").map_or(0, |(_, start)| start);
    // Under /run, which a reboot empties: atomic, with no need to be durable.
    ch04_overlayfs::io::replace_atomic(
        &config.dir.join(INFO),
        &serde_json::to_vec(&SupervisorInfo {
            pid: me.as_raw(),
            start_time,
        })
        .unwrap_or_default(),
    )?;
    let socket = config.dir.join(SOCKET);
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket).map_err(io_at("listen on", &socket))?;
    listener
        .set_nonblocking(true)
        .map_err(io_at("listen on", &socket))?;
    let exit_path = config.dir.join(EXIT);
    let exit_file = File::create(&exit_path).map_err(io_at("create", &exit_path))?;
    let mut log = LogWriter::open(&config.log_path, config.log.clone())?;
    let mut restarts = Restarts::new(config.restart, config.restart_count);
    // ANCHOR: loop
    let result: ExitRecord = loop {
        // LAB: run the container once (run_once), then tear down what the run set up (runner.teardown; a failure is only narrated with explain!), then record Event::Exited with exit.record(restarts.count()) (a store error becomes Error::Record, what "exit"); a run that could not start (exit.outcome is Err) is never restarted; otherwise ask restarts.after_exit(code, exit.ran, store.stopped_by_user()): None ends the loop with the record; Some(delay) is recorded as Event::Restarting with restarts.count() and the delay (Error::Record, what "restart"), then wait_unless_stopped(delay), and the loop ends with the record if that says false or the user stopped the container meanwhile
        let exit = run_once(&mut config, &listener, &mut log, runner, store, &restarts)?;
        let ran = exit.ran;
        let record = exit.record(restarts.count());
        if let Err(err) = runner.teardown() {
            explain!("teardown after the run failed: {err}");
        }
        store
            .record(&Event::Exited(record.clone()))
            .map_err(|source| Error::Record {
                what: "exit",
                source,
            })?;
        let delay = match &exit.outcome {
            // A container that could not start is not restarted (dockerd
            // reports the error instead).
            Err(_) => None,
            Ok(_) => restarts.after_exit(record.code, ran, store.stopped_by_user()),
        };
        let Some(delay) = delay else {
            break record;
        };
        store
            .record(&Event::Restarting {
                restart_count: restarts.count(),
                delay,
            })
            .map_err(|source| Error::Record {
                what: "restart",
                source,
            })?;
        if !wait_unless_stopped(delay)? || store.stopped_by_user() {
            break record;
        }
        // LAB: END
    };
    // ANCHOR_END: loop
    let _ = std::fs::remove_file(&socket);
    // One write(2) into the file waiters hold open (see ExitWatch).
    (&exit_file)
        .write_all(format!("{}\n", result.code).as_bytes())
        .map_err(io_at("write", &exit_path))?;
    Ok(result)
}
// ANCHOR_END: supervise

// ANCHOR: run_end
/// A run's result, as the supervisor saw it.
struct RunEnd {
    outcome: Result<Exit, RunError>,
    ran: Duration,
}

impl RunEnd {
    fn record(&self, restart_count: u32) -> ExitRecord {
        // LAB: docker's State after a run: a run that ended (Ok) gives its exit code and OOMKilled (exit.oom_killed is Some(true) only when the kernel's OOM killer struck); a run that could not start (Err) gives err.exit_code() (125, 126 or 127), OOMKilled false and the error's text as `error`; finished_at is now
        let (code, oom_killed, error) = match &self.outcome {
            Ok(exit) => (exit.code, exit.oom_killed == Some(true), None),
            Err(err) => (err.exit_code(), false, Some(err.to_string())),
        };
        ExitRecord {
            code,
            oom_killed,
            finished_at: SystemTime::now(),
            restart_count,
            error,
        }
        // LAB: END
    }
}
// ANCHOR_END: run_end

// ANCHOR: become_daemon
/// setsid(2), the subreaper bit, stdio on /dev/null, the forwarded signals
/// blocked.
fn become_daemon() -> Result<(), Error> {
    // Already a session leader (a caller that did it) is fine.
    if nix::unistd::getsid(None).ok() != Some(Pid::this()) {
        nix::unistd::setsid().map_err(sys("setsid(2)"))?;
    }
    explain!("prctl(PR_SET_CHILD_SUBREAPER): orphans below us are re-parented to us");
    nix::sys::prctl::set_child_subreaper(true).map_err(sys("prctl(PR_SET_CHILD_SUBREAPER)"))?;
    let _ = std::env::set_current_dir("/");
    null_stdio()?;
    // A forwarded signal that arrives outside a run must neither kill the
    // supervisor nor be lost: blocked, it stays pending (signal(7)). Before
    // a run, chapter 02's runner reads it from its signalfd(2) and passes it
    // on to the container once that runs (and starts the command with these
    // unblocked); during a restart delay, SIGTERM or SIGINT ends the wait
    // (`stop`, see wait_unless_stopped). Every thread started later
    // inherits the mask.
    let mut set = SigSet::empty();
    for sig in ch02_namespaces::signals::FORWARDED {
        set.add(sig);
    }
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(sys("block the forwarded signals"))?;
    Ok(())
}
// ANCHOR_END: become_daemon

/// Points fds 0, 1 and 2 at /dev/null (which also closes the container's
/// ends of its pipes or pty that they held).
fn null_stdio() -> Result<(), Error> {
    let null = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(io_at("open", Path::new("/dev/null")))?;
    stdio_to(null.as_fd(), null.as_fd(), null.as_fd())
}

fn stdio_to(
    stdin: BorrowedFd<'_>,
    stdout: BorrowedFd<'_>,
    stderr: BorrowedFd<'_>,
) -> Result<(), Error> {
    for (fd, target) in [(stdin, 0), (stdout, 1), (stderr, 2)] {
        // SAFETY: dup2(2) onto a standard descriptor; `fd` stays open meanwhile.
        if unsafe { libc::dup2(fd.as_raw_fd(), target) } < 0 {
            return Err(sys("dup2(2) onto the standard descriptors")(Errno::last()));
        }
    }
    Ok(())
}

/// One run: the container's stdio made, the copier thread started, the
/// engine's run called, stray children reaped.
fn run_once(
    config: &mut Config,
    listener: &UnixListener,
    log: &mut LogWriter,
    runner: &mut dyn Runner,
    store: &mut dyn Record,
    restarts: &Restarts,
) -> Result<RunEnd, Error> {
    let io = Io::new(config)?;
    let tid = nix::unistd::gettid();
    let started_at = std::cell::Cell::new(None);
    let readiness = Readiness {
        ready: Mutex::new(config.ready.take()),
        pid: AtomicI32::new(0),
    };
    // The exec watch: a pipe whose write end (close-on-exec) the container's
    // init inherits when chapter 02 clones it. We close ours in the set-up
    // hook; the read end then sees end-of-file when the init's execve(2)
    // succeeds (or the init dies): only then is `run -d` told "started".
    let (exec_r, exec_w) = if readiness.waiting() {
        let (r, w) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe2(2) for the exec watch"))?;
        (Some(r), Some(w))
    } else {
        (None, None)
    };
    let exec_w = std::cell::RefCell::new(exec_w);
    let outcome = std::thread::scope(|scope| {
        let copier = std::thread::Builder::new()
            .name("shim-io".into())
            .stack_size(128 * 1024)
            .spawn_scoped(scope, || {
                let mut copier = Copier::new(io, listener, log, tid);
                copier.exec = exec_r.map(|fd| (fd, &readiness));
                copier.run()
            })
            .map_err(io_at("start the copier thread for", &config.dir))?;
        let mut started = |pid: Pid| -> Result<(), BoxError> {
            let at = SystemTime::now();
            started_at.set(Some(Instant::now()));
            readiness.pid.store(pid.as_raw(), Ordering::SeqCst);
            drop(exec_w.borrow_mut().take());
            store.record(&Event::Started {
                pid: pid.as_raw(),
                at,
                restart_count: restarts.count(),
            })?;
            give_back_free_heap();
            Ok(())
        };
        let outcome = runner.run(&mut started);
        // The container is gone: let go of its ends, so the copier reads
        // end-of-file once everything it wrote is logged.
        let closed = null_stdio();
        let copied = copier.join().unwrap_or(Ok(()));
        closed?;
        copied?;
        Ok::<_, Error>(outcome)
    })?;
    // Not yet told (the command ended before the exec watch saw it run, or
    // it could not start): say how the run went.
    match &outcome {
        Ok(_) => readiness.report(&Ready::Started {
            pid: readiness.pid.load(Ordering::SeqCst),
        }),
        Err(err) => readiness.report(&Ready::Failed {
            code: err.exit_code(),
            message: err.to_string(),
        }),
    }
    reap_orphans();
    Ok(RunEnd {
        outcome,
        ran: started_at.get().map_or(Duration::ZERO, |t| t.elapsed()),
    })
}

/// Returns the heap the set-up freed (the engine's store read, the spec
/// parsed, the run's records written) to the kernel, malloc_trim(3): the
/// supervisor then idles for the container's whole life, and each page it
/// keeps is memory every container costs. glibc's trim releases the free
/// pages inside the heap too (madvise(2) `MADV_DONTNEED`), not only its top.
fn give_back_free_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim(3) only rearranges the allocator's free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

// ANCHOR: reap
/// As a subreaper we inherit the orphans of the container's dying PID
/// namespace: reap whatever has ended.
fn reap_orphans() {
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}
// ANCHOR_END: reap

/// Waits `delay` before a restart; `false` if SIGTERM or SIGINT came first
/// (the engine's `stop` of a restarting container), or came since the last
/// run (they stay pending: the supervisor keeps them blocked outside runs).
/// Sleeps in poll(2) on a signalfd(2), so no signal is lost and nothing spins.
fn wait_unless_stopped(delay: Duration) -> Result<bool, Error> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    let mut old = SigSet::empty();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
        .map_err(sys("block SIGTERM and SIGINT"))?;
    let waited = (|| {
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(sys("signalfd(2)"))?;
        let deadline = Instant::now() + delay;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(true);
            }
            let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(0) | Err(Errno::EINTR) => {}
                Ok(_) => return Ok(fd.read_signal().ok().flatten().is_none()),
                Err(err) => return Err(sys("poll(2) during the restart delay")(err)),
            }
        }
    })();
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    waited
}

/// The supervisor's ends of the container's stdio for one run.
struct Io {
    /// Output to read: stdout and stderr pipes, or the pty master.
    outputs: Vec<(OwnedFd, Stream)>,
    /// Where attach clients' input goes, if stdin is open.
    stdin: Option<OwnedFd>,
    /// The pty master, for resizes.
    tty: Option<OwnedFd>,
    stdin_once: bool,
}

impl Io {
    /// Makes the pipes or pty and points fds 0-2 at the container's ends.
    fn new(config: &Config) -> Result<Io, Error> {
        let cloexec = OFlag::O_CLOEXEC;
        if config.tty {
            // The pty(7) the supervisor holds is the "terminal" chapter 02's
            // runner sees: the runner copies between it and the container's
            // own pty (made inside the container's devpts), passes its size
            // on at start and on SIGWINCH, which the copier sends after a resize.
            let size = config.size.map(|s| Winsize {
                ws_row: s.rows,
                ws_col: s.cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            });
            let pty = openpty(size.as_ref(), None).map_err(sys("openpty(3)"))?;
            for fd in [&pty.master, &pty.slave] {
                fcntl(fd, FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC))
                    .map_err(sys("fcntl(FD_CLOEXEC) on the pty"))?;
            }
            // Raw, so the bytes pass through this outer terminal unchanged
            // (the container's own pty does the echo and line editing).
            let mut termios = tcgetattr(&pty.slave).map_err(sys("tcgetattr(3) on the pty"))?;
            cfmakeraw(&mut termios);
            tcsetattr(&pty.slave, SetArg::TCSANOW, &termios)
                .map_err(sys("tcsetattr(3) on the pty"))?;
            stdio_to(pty.slave.as_fd(), pty.slave.as_fd(), pty.slave.as_fd())?;
            let dup = |fd: &OwnedFd| {
                fd.try_clone()
                    .map_err(io_at("dup the pty master for", &config.dir))
            };
            let stdin = if config.open_stdin {
                Some(dup(&pty.master)?)
            } else {
                None
            };
            return Ok(Io {
                tty: Some(dup(&pty.master)?),
                outputs: vec![(pty.master, Stream::Stdout)],
                stdin,
                stdin_once: config.stdin_once,
            });
        }
        let (out_r, out_w) = nix::unistd::pipe2(cloexec).map_err(sys("pipe2(2) for stdout"))?;
        let (err_r, err_w) = nix::unistd::pipe2(cloexec).map_err(sys("pipe2(2) for stderr"))?;
        let (stdin_r, stdin_w) = if config.open_stdin {
            let (r, w) = nix::unistd::pipe2(cloexec).map_err(sys("pipe2(2) for stdin"))?;
            (r, Some(w))
        } else {
            let null = File::open("/dev/null").map_err(io_at("open", Path::new("/dev/null")))?;
            (OwnedFd::from(null), None)
        };
        stdio_to(stdin_r.as_fd(), out_w.as_fd(), err_w.as_fd())?;
        Ok(Io {
            outputs: vec![(out_r, Stream::Stdout), (err_r, Stream::Stderr)],
            stdin: stdin_w,
            tty: None,
            stdin_once: config.stdin_once,
        })
    }
}

/// An attach client.
struct Client {
    stream: UnixStream,
    /// It sends stdin, and has not closed its side yet.
    reading: bool,
    stdout: bool,
    stderr: bool,
}

// ANCHOR: copier
/// The copier thread: output -> log and attach clients; clients' input ->
/// the container; new clients, resizes and watchers from the socket.
struct Copier<'a> {
    io: Io,
    lines: Vec<logs::Lines>,
    listener: &'a UnixListener,
    log: &'a mut LogWriter,
    /// The supervisor's main thread, to which a resize is signalled.
    main: Pid,
    clients: Vec<Client>,
    watchers: Vec<UnixStream>,
    /// Input not yet taken by the container (its pipe or pty was full).
    pending: Vec<u8>,
    /// Close the container's stdin once `pending` is written.
    close_stdin: bool,
    /// With `-t`: what the run printed so far, kept for the first client that
    /// asks for it ([`AttachOptions::replay`]), up to [`EARLY_MAX`] bytes
    /// (`None` once taken, or once there was more).
    early: Option<Vec<u8>>,
    /// The exec watch's read end, while `run -d` waits to hear.
    exec: Option<(OwnedFd, &'a Readiness)>,
}

/// How much unwritten input the copier holds before it stops reading clients.
const MAX_PENDING: usize = 64 * 1024;

/// How much of a `-t` run's first output is kept for a replaying client: a
/// shell's banner and prompt, not a program's whole output.
const EARLY_MAX: usize = 4096;

impl<'a> Copier<'a> {
    fn new(io: Io, listener: &'a UnixListener, log: &'a mut LogWriter, main: Pid) -> Copier<'a> {
        let lines = io.outputs.iter().map(|_| logs::Lines::default()).collect();
        let early = io.tty.as_ref().map(|_| Vec::new());
        Copier {
            early,
            io,
            lines,
            listener,
            log,
            main,
            clients: Vec::new(),
            watchers: Vec::new(),
            pending: Vec::new(),
            close_stdin: false,
            exec: None,
        }
    }

    /// Runs until every output has reached end-of-file; clients and watchers
    /// are then let go (they read end-of-file: the run is over).
    fn run(&mut self) -> Result<(), Error> {
        // Signals are the main thread's business (chapter 02's runner reads
        // them from a signalfd there): never let one be handled here.
        let mut set = SigSet::empty();
        for sig in ch02_namespaces::signals::FORWARDED
            .into_iter()
            .chain([Signal::SIGWINCH])
        {
            set.add(sig);
        }
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
            .map_err(sys("block signals in the copier"))?;
        if let Some(stdin) = &self.io.stdin {
            fcntl(stdin, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
                .map_err(sys("make the container's stdin non-blocking"))?;
        }
        while !self.io.outputs.is_empty() {
            self.step()?;
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), Error> {
        let n_out = self.io.outputs.len();
        let accepting_input = self.io.stdin.is_some() && self.pending.len() < MAX_PENDING;
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(n_out + 2 + self.clients.len());
        for (fd, _) in &self.io.outputs {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
        let stdin_events = if self.pending.is_empty() {
            PollFlags::empty()
        } else {
            PollFlags::POLLOUT
        };
        // Unused slots poll the listener for nothing, so indices stay fixed.
        match &self.io.stdin {
            Some(stdin) => fds.push(PollFd::new(stdin.as_fd(), stdin_events)),
            None => fds.push(PollFd::new(self.listener.as_fd(), PollFlags::empty())),
        }
        match &self.exec {
            Some((fd, _)) => fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN)),
            None => fds.push(PollFd::new(self.listener.as_fd(), PollFlags::empty())),
        }
        for client in &self.clients {
            let events = if client.reading && accepting_input {
                PollFlags::POLLIN
            } else {
                PollFlags::empty()
            };
            fds.push(PollFd::new(client.stream.as_fd(), events));
        }
        for watcher in &self.watchers {
            fds.push(PollFd::new(watcher.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(err) => return Err(sys("poll(2) in the copier")(err)),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);

        // Output first, stdout before stderr: what was written first is
        // logged first as far as two pipes allow.
        let mut ended = Vec::new();
        for (i, &is_ready) in ready.iter().enumerate().take(n_out) {
            if is_ready && self.read_output(i)? {
                ended.push(i);
            }
        }
        for i in ended.into_iter().rev() {
            self.io.outputs.remove(i);
            self.lines.remove(i);
        }
        if ready[n_out + 1] && !self.pending.is_empty() {
            self.flush_stdin();
        }
        if ready[n_out + 2]
            && let Some((_, readiness)) = self.exec.take()
        {
            // End-of-file: the init exec'd its command, or is exiting
            // without (then the main thread reports the failure when the
            // run returns). After execve(2) its /proc/PID/exe is the
            // command's binary, no longer ours.
            let pid = readiness.pid.load(Ordering::SeqCst);
            if has_execd(pid) {
                readiness.report(&Ready::Started { pid });
            }
        }
        let clients = self.clients.len();
        let mut dropped = Vec::new();
        for i in 0..clients {
            if ready[n_out + 3 + i] && !self.read_client(i) {
                dropped.push(i);
            }
        }
        let mut gone_watchers = Vec::new();
        for i in 0..self.watchers.len() {
            if ready[n_out + 3 + clients + i] {
                gone_watchers.push(i);
            }
        }
        for i in gone_watchers.into_iter().rev() {
            self.watchers.swap_remove(i);
        }
        for i in dropped.into_iter().rev() {
            self.clients.swap_remove(i);
        }
        if ready[n_out] {
            self.accept();
        }
        Ok(())
    }

    /// Reads what output is there: logs whole lines, sends the bytes on;
    /// `true` at end-of-file.
    fn read_output(&mut self, i: usize) -> Result<bool, Error> {
        let mut buf = [0u8; 8192];
        let stream = self.io.outputs[i].1;
        let n = match nix::unistd::read(&self.io.outputs[i].0, &mut buf) {
            Ok(n) => n,
            Err(Errno::EAGAIN | Errno::EINTR) => return Ok(false),
            // A pty master reads EIO once no slave is open (pty(7)): the end.
            Err(_) => 0,
        };
        let now = SystemTime::now();
        let log = &mut *self.log;
        let mut failed = None;
        let mut logged = false;
        let mut emit = |line: &[u8], _partial: bool| {
            logged = true;
            if failed.is_none()
                && let Err(err) = log.write(stream, line, now)
            {
                failed = Some(err);
            }
        };
        if n == 0 {
            self.lines[i].finish(&mut emit);
        } else {
            self.lines[i].push(&buf[..n], &mut emit);
            self.send(stream, &buf[..n]);
            if let Some(early) = &mut self.early {
                match early.len() + n <= EARLY_MAX {
                    true => early.extend_from_slice(&buf[..n]),
                    false => self.early = None,
                }
            }
        }
        if logged {
            for watcher in &self.watchers {
                let _ = (&*watcher).write(b".");
            }
        }
        match failed {
            Some(err) => Err(err.into()),
            None => Ok(n == 0),
        }
    }

    /// Sends output to the clients that want it, in docker's attach format.
    fn send(&mut self, stream: Stream, bytes: &[u8]) {
        let framed = self.io.tty.is_none();
        self.clients.retain_mut(|client| {
            let wanted = match stream {
                Stream::Stdout => client.stdout,
                Stream::Stderr => client.stderr,
            };
            if !wanted {
                return true;
            }
            let mut message = Vec::with_capacity(bytes.len() + 8);
            if framed {
                let kind = match stream {
                    Stream::Stdout => 1,
                    Stream::Stderr => 2,
                };
                message.extend_from_slice(&[kind, 0, 0, 0]);
                message.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            }
            message.extend_from_slice(bytes);
            // A client too slow to take its output is let go rather than
            // allowed to stall the container (whose pipe would fill up).
            client.stream.write_all(&message).is_ok()
        });
    }

    /// Reads a client's input; `false` when the client is to be dropped.
    fn read_client(&mut self, i: usize) -> bool {
        let mut buf = [0u8; 8192];
        match self.clients[i].stream.read(&mut buf) {
            // An output-only client hung up.
            Ok(0) if !self.clients[i].reading => false,
            Ok(0) => {
                self.clients[i].reading = false;
                if self.io.stdin_once {
                    self.close_stdin = true;
                    if self.pending.is_empty() {
                        self.io.stdin = None;
                    }
                }
                // An output-only client may stay for the output.
                self.clients[i].stdout || self.clients[i].stderr
            }
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                self.flush_stdin();
                true
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => true,
            Err(_) => false,
        }
    }

    /// Writes pending input to the container as far as it takes it.
    fn flush_stdin(&mut self) {
        let Some(stdin) = &self.io.stdin else {
            self.pending.clear();
            return;
        };
        while !self.pending.is_empty() {
            match nix::unistd::write(stdin, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return,
                Err(_) => {
                    // The container closed its stdin: input has nowhere to go.
                    self.pending.clear();
                    self.io.stdin = None;
                    return;
                }
            }
        }
        if self.close_stdin {
            self.io.stdin = None;
        }
    }

    /// Takes new connections and reads what each asks for.
    fn accept(&mut self) {
        while let Ok((mut stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(false);
            // A client says what it wants at once; one that does not is dropped.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let mut hello = [0u8; 1];
            if stream.read_exact(&mut hello).is_err() {
                continue;
            }
            match hello[0] {
                HELLO_ATTACH => {
                    let mut flags = [0u8; 1];
                    if stream.read_exact(&mut flags).is_err()
                        || stream.set_nonblocking(true).is_err()
                    {
                        continue;
                    }
                    // Before any output this step has not read yet: nothing
                    // is missed and nothing comes twice.
                    if flags[0] & 8 != 0
                        && let Some(early) = self.early.take()
                        && (&stream).write_all(&early).is_err()
                    {
                        continue;
                    }
                    self.clients.push(Client {
                        stream,
                        reading: flags[0] & 1 != 0,
                        stdout: flags[0] & 2 != 0,
                        stderr: flags[0] & 4 != 0,
                    });
                }
                HELLO_RESIZE => {
                    let mut size = [0u8; 4];
                    if stream.read_exact(&mut size).is_err() {
                        continue;
                    }
                    self.resize(WindowSize {
                        rows: u16::from_be_bytes([size[0], size[1]]),
                        cols: u16::from_be_bytes([size[2], size[3]]),
                    });
                    // The answer: the size is set and the runner signalled.
                    let _ = stream.write_all(b"k");
                }
                // Told at once to look (lines may have come before it was
                // taken on), then after each line logged: see
                // logs::follow_watched. Never blocks us: a byte not yet read
                // says "look again" as well as two.
                HELLO_WATCH if stream.set_nonblocking(true).is_ok() => {
                    let _ = (&stream).write(b".");
                    self.watchers.push(stream);
                }
                _ => {}
            }
        }
    }

    /// Sets the size of the terminal chapter 02's runner reads from, then
    /// sends SIGWINCH to the thread that runs it, which copies the size to
    /// the container's pty (TIOCSWINSZ; the kernel then signals the
    /// container's foreground process group).
    fn resize(&self, size: WindowSize) {
        let Some(master) = &self.io.tty else {
            return;
        };
        let winsize = Winsize {
            ws_row: size.rows,
            ws_col: size.cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a Winsize from the pointer we pass.
        let _ = unsafe { set_winsize(master.as_raw_fd(), &winsize) };
        // SAFETY: tgkill(2) takes plain integers.
        unsafe {
            libc::syscall(
                libc::SYS_tgkill,
                libc::getpid(),
                self.main.as_raw(),
                libc::SIGWINCH,
            );
        }
    }
}
// ANCHOR_END: copier

// ANCHOR: clients
/// What an attach client wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachOptions {
    /// Send stdin (`attach` without `--no-stdin`; the container needs `-i`).
    pub stdin: bool,
    /// Receive stdout.
    pub stdout: bool,
    /// Receive stderr.
    pub stderr: bool,
    /// With `-t`, receive first what the run printed before this client came
    /// (the first such client only, and only the first few kB): `run -it` and
    /// `start -ai` attach once the container runs, where docker's CLI attaches
    /// before it starts it, and would otherwise miss a shell's banner and
    /// first prompt. Without `-t` the log has every line for that.
    pub replay: bool,
}

fn connect(dir: &Path, hello: &[u8]) -> Result<UnixStream, Error> {
    let path = dir.join(SOCKET);
    let mut stream = UnixStream::connect(&path).map_err(|err| {
        if matches!(
            err.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
        ) {
            Error::Gone(dir.to_path_buf())
        } else {
            io_at("connect to", &path)(err)
        }
    })?;
    stream.write_all(hello).map_err(io_at("write to", &path))?;
    Ok(stream)
}

/// Attaches to the container's current run: write stdin to the returned
/// socket (shut its write side down for end-of-file), read its output (raw
/// with `-t`, else framed: see [`read_frame`]); it reads end-of-file when
/// the run ends. Output written before the client connected is in the log.
pub fn attach(dir: &Path, options: AttachOptions) -> Result<UnixStream, Error> {
    let flags = u8::from(options.stdin)
        | (u8::from(options.stdout) << 1)
        | (u8::from(options.stderr) << 2)
        | (u8::from(options.replay) << 3);
    connect(dir, &[HELLO_ATTACH, flags])
}

/// Resizes the container's terminal (`docker attach` and `-t`'s SIGWINCH,
/// the API's `/resize`); returns once the supervisor has passed it on.
pub fn resize(dir: &Path, size: WindowSize) -> Result<(), Error> {
    let [r0, r1] = size.rows.to_be_bytes();
    let [c0, c1] = size.cols.to_be_bytes();
    let mut stream = connect(dir, &[HELLO_RESIZE, r0, r1, c0, c1])?;
    let mut ack = [0u8; 1];
    stream
        .read_exact(&mut ack)
        .map_err(io_at("resize through", &dir.join(SOCKET)))
}

/// A socket on which the supervisor writes a byte when it takes it on and
/// after each batch of lines it logs, and which reads end-of-file when the
/// container's current run is over and all its output is in the log: what
/// `logs -f` passes to [`logs::follow_watched`]. `None` if no supervisor
/// listens (nothing more will be written).
pub fn watch_run(dir: &Path) -> Result<Option<UnixStream>, Error> {
    match connect(dir, &[HELLO_WATCH]) {
        Ok(stream) => Ok(Some(stream)),
        Err(Error::Gone(_)) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Reads one frame of docker's multiplexed attach stream: `None` at the end.
pub fn read_frame(reader: &mut impl Read) -> io::Result<Option<(Stream, Vec<u8>)>> {
    let mut header = [0u8; 8];
    match reader.read_exact(&mut header) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    let stream = match header[0] {
        2 => Stream::Stderr,
        _ => Stream::Stdout,
    };
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    Ok(Some((stream, body)))
}
// ANCHOR_END: clients
