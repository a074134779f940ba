//! The supervisor's life, and what the engine uses to talk to it.
//!
//! One supervisor process per container, one pid for the container's whole
//! life, in two programs by turns. A caller with threads (a daemon) starts
//! it with [`launch`] (a double fork, so it is nobody's child to wait for,
//! and an exec of the engine binary as `dockyard shim ...`), and that
//! process calls [`supervise`], which:
//!
//! 1. becomes a daemon: a session of its own (setsid(2)), a *child subreaper*
//!    (prctl(2) `PR_SET_CHILD_SUBREAPER`: any descendant orphaned under it,
//!    such as the processes of a dying PID namespace, is re-parented to it
//!    rather than to the host's init, so it can reap them), stdio on /dev/null;
//! 2. writes `supervisor.json` (its pid and start time) for [`SupervisorInfo`];
//! 3. starts the container: listens on `attach.sock` (unix(7)), gives the
//!    container pipes for stdout and stderr (and stdin with `-i`; with `-t`
//!    the container makes its own pty and sends back the master) and calls
//!    the engine's [`Runner::start`] (chapter 03's `spawn_with_setup`),
//!    making the log in its set-up hook;
//! 4. once the command runs, *hands the run over* ([`hand_over`]): it
//!    execve(2)s the small static program ([`steady`](crate::steady))
//!    (`dockyard-supervisor`, no libc, ~40 kB of memory), which copies the
//!    output into the json-file log and to attach clients, their input to
//!    the container, forwards signals, and waits on a pidfd; when the
//!    container's init has exited and its output is drained, that program
//!    execve(2)s [`Config::after`] (the engine again, `dockyard shim ...
//!    --status N`), which calls [`resume`];
//! 5. when a run has ended: tears down through [`Runner::teardown`], records
//!    the exit through [`Record::record`] (the engine writes it atomically
//!    into its store), and applies the restart policy with docker's delay:
//!    back to 3, or the end.
//!
//! The CLI, single-threaded, does steps 2 and 3 itself ([`start_here`]):
//! chapter 02's helper, which clones the container's init, keeps it as its
//! own child, becomes a daemon (step 1) and, once the command runs, the
//! small program (step 4).
//!
//! The engine's large image is in memory only for the moments of change
//! (a start, an exit); what stays for the container's whole run is the
//! small program, which is why a container costs so little to keep.
//!
//! The attach socket speaks a tiny protocol of its own, wrapped by
//! [`attach`], [`resize`] and [`watch_run`]: a client's first byte says what
//! it wants. An attach client then sends raw stdin and receives the output
//! in docker's attach format (raw with `-t`; otherwise docker's multiplexed
//! frames, 8-byte header `[stream, 0, 0, 0, size as u32 big-endian]`, read
//! with [`read_frame`]), so the daemon can pass it on to an API client as is.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use ch01_chroot::explain;
use ch03_cgroups::{Exit, RunError};
use ch04_overlayfs::store::StoreLock;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::logs::{self, LogConfig, Stream};
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
/// The variable through which [`launch`] tells the supervisor which
/// descriptor is its end of the launcher's [`Finisher`].
pub const FINISHER_FD_VAR: &str = "DOCKYARD_SHIM_FINISHER_FD";

/// The descriptor [`launch`] hands the supervisor its end of the ready pipe on.
const READY_FD: RawFd = 3;
/// The descriptor [`launch`] hands the supervisor its finisher's end on.
const FINISHER_FD: RawFd = 4;

/// A client's first byte on the attach socket.
const HELLO_ATTACH: u8 = b'a';
const HELLO_RESIZE: u8 = b'r';
const HELLO_WATCH: u8 = b'w';

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

pub(crate) fn io_at(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
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
    /// Where to say whether the container started (see [`launch`] and
    /// [`ready_fd_from_env`]); closed after the first start.
    pub ready: Option<OwnedFd>,
    /// The launcher's [`Finisher`], which does the exit program's work when
    /// the first run is over: the end [`Finisher::pair`] made for us.
    pub finisher: Option<OwnedFd>,
    /// What that program runs when the run is over, in this same process:
    /// the program and its first arguments. [`hand_over`] adds the restart
    /// state ([`Resume::args`]) and the small program `--status N`; that
    /// command reads them back and calls [`resume`].
    pub after: (PathBuf, Vec<OsString>),
}
// ANCHOR_END: config

// ANCHOR: traits
/// The engine's side of a run: make the container, learn how it ended, undo.
pub trait Runner {
    /// Starts the container once and returns when its command runs: the
    /// engine sets up what the run needs (rootfs mount, network) and calls
    /// chapter 03's `spawn_with_setup`, calling `started` from its set-up
    /// hook with the container's pid (after its own set-up steps), once the
    /// container's init is in its cgroup. The
    /// container inherits the supervisor's stdin, stdout and stderr, which
    /// are already the container's pipes when this is called; with `-t` its
    /// own pty's master comes back in [`Started`]. The container is our
    /// child: the small program we become waits for it.
    fn start(&mut self, started: &mut ch02_namespaces::Setup<'_>) -> Result<Started, RunError>;

    /// [`start`](Runner::start), with the container's init kept by chapter
    /// 02's helper, which `adopter` makes its supervisor ([`start_here`]):
    /// the caller's stdio is not the container's, the adopter's is. A
    /// runner that cannot (by default) says so.
    fn start_adopted(
        &mut self,
        started: &mut ch02_namespaces::Setup<'_>,
        adopter: &dyn ch02_namespaces::Adopter,
    ) -> Result<Started, RunError> {
        let _ = (started, adopter);
        let why = "this runner cannot hand the container's init to a supervisor of its own";
        Err(RunError::Runtime(ch02_namespaces::Error::Setup(why.into())))
    }

    /// The command ended with `code`: how the run ended as chapter 03 sees
    /// it (`finish`: the OOM verdict, the cgroup removed).
    fn finish(&mut self, code: i32) -> Exit;

    /// Undoes what `start` set up (unmount, network teardown). Called after
    /// every run, before the exit is recorded, so a container recorded as
    /// exited has nothing left mounted.
    fn teardown(&mut self) -> Result<(), BoxError>;
}

/// A started container, as [`Runner::start`] returns it.
#[derive(Debug)]
pub struct Started {
    /// Its init's host pid, a child of ours.
    pub pid: Pid,
    /// With `-t`, the master side of the container's pty.
    pub terminal: Option<OwnedFd>,
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
/// [`Ready`], and `finisher` if given ([`Config::finisher`]). This is how
/// `run -d` returns at once.
pub fn launch(mut cmd: Command, finisher: Option<OwnedFd>) -> Result<i32, Error> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let (read_end, write_end) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("pipe2(2) for the ready pipe"))?;
    // Copies above the numbers they go to in the child, so that no dup2(2)
    // there closes the other one (or is a no-op that leaves close-on-exec).
    let above = |fd: &OwnedFd| {
        fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(FINISHER_FD + 1))
            // SAFETY: a new descriptor, ours alone.
            .map(|raw| unsafe { OwnedFd::from_raw_fd(raw) })
            .map_err(sys("fcntl(2) F_DUPFD_CLOEXEC"))
    };
    let ready = above(&write_end)?;
    drop(write_end);
    let finisher = finisher.as_ref().map(above).transpose()?;
    let passed = [Some(&ready), finisher.as_ref()].map(|fd| fd.map(|fd| fd.as_raw_fd()));
    cmd.env(READY_FD_VAR, READY_FD.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match finisher {
        Some(_) => cmd.env(FINISHER_FD_VAR, FINISHER_FD.to_string()),
        None => cmd.env_remove(FINISHER_FD_VAR),
    };
    // SAFETY: between fork and exec only async-signal-safe calls: dup2(2),
    // close_range(2), fork(2), _exit(2).
    unsafe {
        cmd.pre_exec(move || {
            for (raw, target) in passed.into_iter().zip([READY_FD, FINISHER_FD]) {
                if let Some(raw) = raw
                    && libc::dup2(raw, target) < 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
            not_inherited(FINISHER_FD + 1);
            match libc::fork() {
                -1 => Err(io::Error::last_os_error()),
                0 => Ok(()),
                _ => libc::_exit(0),
            }
        });
    }
    let mut middle = cmd.spawn().map_err(io_at("start", Path::new(&program)))?;
    let _ = middle.wait();
    drop((ready, finisher));
    read_ready(read_end, program)
}
// ANCHOR_END: launch

/// Marks every descriptor from `first` up close-on-exec (close_range(2)
/// `CLOSE_RANGE_CLOEXEC`, async-signal-safe): what the caller inherited
/// without the flag (a shell's `3>&1`, a test harness's pipe) must not stay
/// open for the container's whole life in the small program, where a reader
/// would wait for its end-of-file as long. Descriptors the supervisor passes
/// on lose the flag again, one by one (see hand_over).
fn not_inherited(first: RawFd) {
    // SAFETY: close_range(2) only changes descriptor flags.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
}

/// What the supervisor said on its ready pipe (see [`Ready`]).
fn read_ready(read_end: OwnedFd, program: String) -> Result<i32, Error> {
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

/// In the process [`launch`] started: the ready pipe's write end, for
/// [`Config::ready`].
pub fn ready_fd_from_env() -> Option<OwnedFd> {
    fd_from_env(READY_FD_VAR)
}

/// In the process [`launch`] started: the finisher's end, if it was given
/// one, for [`Config::finisher`].
pub fn finisher_fd_from_env() -> Option<OwnedFd> {
    fd_from_env(FINISHER_FD_VAR)
}

/// The descriptor whose number the variable `var` holds, if it is open.
fn fd_from_env(var: &str) -> Option<OwnedFd> {
    let fd: RawFd = std::env::var(var).ok()?.parse().ok()?;
    // Only take a descriptor that is open, and keep it from the container.
    // SAFETY: fcntl(2) on a plain descriptor number touches no memory.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return None;
    }
    // SAFETY: launch gave us this descriptor for our own use, and nothing
    // else in the process owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
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
/// it has not ended. After a `kill -9` of a supervisor this turns false, and
/// the engine marks the container exited and cleans up after it.
pub fn is_alive(pid: i32, start_time: u64) -> bool {
    // The kernel's own answer: a pidfd becomes readable once the process
    // has ended, when the last of its threads has exited, zombie or reaped
    // (pidfd_open(2)). Opened first, it stays this process's while /proc
    // says which process that is: were it reaped and its pid reused
    // meanwhile, the pidfd reads as ended.
    let Ok(pidfd) = ch02_namespaces::pidfd_open(Pid::from_raw(pid)) else {
        return false;
    };
    let ended = || {
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::ZERO).is_ok_and(|ready| ready > 0)
    };
    // While a thread other than the main one execve(2)s, the kernel kills
    // the main thread and gives the caller its thread id (execve(2): "all
    // threads other than the calling thread are destroyed"; fs/exec.c,
    // de_thread); meanwhile /proc/PID can fail (ESRCH, ENOENT) and must be
    // read again. The pidfd does not waver.
    let stat = format!("/proc/{pid}/stat");
    for _ in 0..100 {
        if ended() {
            return false;
        }
        if let Ok(start) = start_time_in(&stat) {
            return start == start_time && !ended();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    !ended()
}

/// The start time (field 22, clock ticks after boot) in a `/proc/PID/stat`
/// file (proc(5)).
fn start_time_in(path: &str) -> io::Result<u64> {
    let stat = std::fs::read_to_string(path)?;
    // The command name (field 2) may contain spaces and parentheses: count
    // fields from after its last ')', where field 3 is the first.
    stat.rfind(')')
        .and_then(|at| stat[at + 1..].split_whitespace().nth(22 - 3))
        .and_then(|start| start.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a stat file"))
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
///
/// A waiter that also reads the run's output from the container's log (a
/// foreground `run --rm`) *holds* the file: a shared flock(2) on it, taken
/// before the supervisor starts, which the engine waits out
/// ([`wait_for_readers`]) before it removes an auto-removed container, log
/// and all. The waiter lets go once it has read the output, before it waits
/// for the end ([`ExitWatch::let_go`]).
#[derive(Debug)]
pub struct ExitWatch {
    file: File,
    hold: std::cell::RefCell<Option<StoreLock>>,
}

impl ExitWatch {
    /// Opens the exit file of the supervisor in `dir`; `None` if there is
    /// none (no supervisor, or one already gone).
    pub fn open(dir: &Path) -> Option<ExitWatch> {
        let file = File::open(dir.join(EXIT)).ok()?;
        Some(ExitWatch {
            file,
            hold: None.into(),
        })
    }

    /// Makes the exit file in `dir` for a supervisor yet to start (which
    /// writes into this same file) and holds it; see the type's docs.
    pub fn hold(dir: &Path) -> Result<ExitWatch, Error> {
        let path = dir.join(EXIT);
        let hold = StoreLock::shared(&path)?;
        let file = File::open(&path).map_err(io_at("open", &path))?;
        Ok(ExitWatch {
            file,
            hold: Some(hold).into(),
        })
    }

    /// Lets go of the hold, if any: the output is read.
    pub fn let_go(&self) {
        drop(self.hold.borrow_mut().take());
    }

    /// The status the supervisor wrote, once it has: `None` before, or if it
    /// ended without one (it was killed).
    pub fn code(&self) -> Option<i32> {
        self.read()?.split_whitespace().next()?.parse().ok()
    }

    /// Whether the kernel's OOM killer ended the last run (docker's
    /// `OOMKilled`), as the supervisor wrote it beside the status.
    pub fn oom_killed(&self) -> bool {
        self.read()
            .is_some_and(|line| line.split_whitespace().nth(1) == Some(OOM_KILLED))
    }

    /// The file's line: `STATUS` or `STATUS oom-killed`.
    fn read(&self) -> Option<String> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 32];
        let n = self.file.read_at(&mut buf, 0).ok()?;
        String::from_utf8(buf[..n].to_vec()).ok()
    }
}

/// Waits until no waiter holds the exit file in `dir` (see [`ExitWatch`])
/// and returns the lock, the file open (`None` if there is none), for the
/// caller to keep until it is done: the last to close an unlinked file
/// frees its blocks, which some filesystems discard at once and wait for
/// (ext4 mounted `-o discard`), and that should not be a waiter's wait.
pub fn wait_for_readers(dir: &Path) -> Result<Option<StoreLock>, Error> {
    let path = dir.join(EXIT);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(StoreLock::exclusive(&path)?))
}

/// The word after the status in the exit file when the OOM killer struck.
const OOM_KILLED: &str = "oom-killed";
// ANCHOR_END: exit_watch

// ANCHOR: supervise
/// The supervisor's first entry (`dockyard shim ID`, started by [`launch`]):
/// becomes a daemon, says who it is, then starts the container and hands
/// the run to the small program ([`hand_over`]), so on success it never
/// returns. It returns the exit record when the container could not start
/// and no restart is due; the caller then exits.
pub fn supervise(
    mut config: Config,
    runner: &mut dyn Runner,
    store: &mut dyn Record,
) -> Result<ExitRecord, Error> {
    become_daemon()?;
    write_info(&config.dir)?;
    let exit_path = config.dir.join(EXIT);
    File::create(&exit_path).map_err(io_at("create", &exit_path))?;
    let restarts = Restarts::new(config.restart, config.restart_count);
    let ready = config.ready.take();
    cycle(&config, runner, store, restarts, Next::Start(ready))
}

/// Writes `supervisor.json` in `dir`: our pid and start time.
fn write_info(dir: &Path) -> Result<(), Error> {
    let start_time =
        start_time_in("/proc/self/stat").map_err(io_at("read", Path::new("/proc/self/stat")))?;
    // Atomic, with no fsync(2): after a reboot no supervisor runs, and the
    // pid and start time it names belong to nobody (see is_alive). /run is
    // usually a tmpfs, but not everywhere (it is on the root ext4 on the
    // book's VM, where that fsync cost up to 60 ms, a journal commit, on the
    // way to each container's start). The pid and start time stay ours
    // through every execve(2) that follows.
    ch04_overlayfs::io::write_unsynced(
        &dir.join(INFO),
        &serde_json::to_vec(&SupervisorInfo {
            pid: Pid::this().as_raw(),
            start_time,
        })
        .unwrap_or_default(),
    )?;
    Ok(())
}

// ANCHOR_END: supervise

// ANCHOR: start_here
/// The supervisor's first entry for a caller that starts the container
/// itself and does not stay (the CLI, single-threaded, which has the engine
/// and the container in memory already): chapter 02's helper, which clones
/// the container's init, keeps it as its own child and becomes its
/// supervisor ([`Adoption`]), where [`launch`] would start a supervisor
/// that starts the container. One process fewer on the way to every start,
/// as runc's shape has it: what sets the container up is not what watches
/// it. Returns the init's pid once its command runs; or, if it could not
/// start, the exit record, recorded and torn down (as [`supervise`] would).
/// `kept`: descriptors of ours the supervisor keeps through its execve(2)s
/// (the engine's run lock), as it keeps nothing else it inherits.
pub fn start_here(
    config: &Config,
    kept: &[RawFd],
    runner: &mut dyn Runner,
    store: &mut dyn Record,
) -> Result<Result<Pid, ExitRecord>, Error> {
    let exit_path = config.dir.join(EXIT);
    File::create(&exit_path).map_err(io_at("create", &exit_path))?;
    let restarts = Restarts::new(config.restart, config.restart_count);
    let listener = listen(&config.dir)?;
    let stdio = ContainerStdio::make(config)?;
    let (word, heard) = seqpacket_pair("socketpair(2) for the helper's word")?;
    let adoption = Adoption {
        config,
        restarts: &restarts,
        listener: &listener,
        stdio: &stdio,
        heard,
        ours: word.as_raw_fd(),
        kept,
    };
    let result = runner.start_adopted(&mut record_start(config, store, &restarts), &adoption);
    match result {
        Ok(started) => {
            send_word(&word, started.terminal.as_ref())?;
            Ok(Ok(started.pid))
        }
        Err(err) => {
            // Its helper, if there is one, hears end-of-file and lets its
            // init go; the rest is what the supervisor does after a start
            // that failed.
            drop(word);
            let ended = RunEnd {
                outcome: Err(err),
                ran: Duration::ZERO,
            };
            cycle(config, runner, store, restarts, Next::Ended(ended)).map(Err)
        }
    }
}

/// What chapter 02's helper needs to become the supervisor of the init it
/// clones ([`start_here`]); a copy of the caller's memory, as the helper is.
struct Adoption<'a> {
    config: &'a Config,
    restarts: &'a Restarts,
    listener: &'a UnixListener,
    stdio: &'a ContainerStdio,
    /// The helper's end of the starter's word: "go" once the command runs
    /// (with the pty master for `-t`), end-of-file if it could not start.
    heard: OwnedFd,
    /// The starter's end, whose copy the helper closes.
    ours: RawFd,
    /// What the supervisor keeps through its execve(2)s (see [`start_here`]).
    kept: &'a [RawFd],
}

impl ch02_namespaces::Adopter for Adoption<'_> {
    fn prepare(&self) {
        // Our narration, if any, would interleave with the starter's.
        explain::enable(false);
        // SAFETY: close(2) of the helper's copy of the starter's end.
        unsafe { libc::close(self.ours) };
        not_inherited(3);
        for &fd in self.kept {
            // SAFETY: fcntl(2) on a descriptor number only changes its flags.
            unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        }
        let prepared = become_daemon().and_then(|()| self.stdio.to_standard());
        if prepared.is_err() {
            // SAFETY: _exit(2) in the helper; the starter hears of it as a
            // helper that never reported the init.
            unsafe { libc::_exit(ch01_chroot::exit::ENGINE_ERROR) }
        }
    }

    fn adopt(&self, init: Pid) -> ! {
        // Once the init is cloned, not before: the starter is waiting for
        // its pid meanwhile. Only the end of a restart delay reads it (to
        // send us SIGTERM), long after; without it that end is not heard
        // early, so a failure here does not stop the container.
        let _ = write_info(&self.config.dir);
        if !self.config.tty {
            // No terminal to wait for: the small program starts now, while
            // the init sets up, and hears the word itself (`--go`), so that
            // it is up when the command runs, and ends. Returns only if the
            // execve(2) failed.
            let _ = self.take_over(init, None, Some(&self.heard));
        } else if let Ok(Some(terminal)) = hear_word(&self.heard) {
            // Returns only if the execve(2) failed.
            let _ = self.take_over(init, terminal, None);
        } else {
            // The start failed: the init was killed, or is on its way out.
            let _ = nix::sys::wait::waitpid(init, None);
        }
        // SAFETY: _exit(2) runs none of the starter's destructors.
        unsafe { libc::_exit(ch01_chroot::exit::ENGINE_ERROR) }
    }
}

impl Adoption<'_> {
    /// The supervisor's run from here: what [`start_run`] and [`hand_over`]
    /// do once the command runs, or, given `go`, before it does.
    fn take_over(
        &self,
        init: Pid,
        terminal: Option<OwnedFd>,
        go: Option<&OwnedFd>,
    ) -> Result<(), Error> {
        null_stdio()?;
        let dup = |fd: &OwnedFd| fd.try_clone().map_err(io_at("dup", &self.config.dir));
        let outputs = self
            .stdio
            .outputs
            .iter()
            .map(dup)
            .collect::<Result<_, _>>()?;
        let stdin = self.stdio.stdin.as_ref().map(dup).transpose()?;
        let listener = self
            .listener
            .try_clone()
            .map_err(io_at("dup", &self.config.dir))?;
        let started = Started {
            pid: init,
            terminal,
        };
        let mut run = run_of(self.config, started, listener, outputs, stdin)?;
        run.go = go.map(dup).transpose()?;
        Err(hand_over(self.config, run, self.restarts))
    }
}

/// The attach socket in the supervisor's `dir`, listening; one that a
/// supervisor before us left is removed first (bind(2) fails on a path that
/// exists).
fn listen(dir: &Path) -> Result<UnixListener, Error> {
    let socket = dir.join(SOCKET);
    let _ = std::fs::remove_file(&socket);
    UnixListener::bind(&socket).map_err(io_at("listen on", &socket))
}

/// A connected `SOCK_SEQPACKET` pair (unix(7): one write, one message).
fn seqpacket_pair(step: &'static str) -> Result<(OwnedFd, OwnedFd), Error> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(sys(step))
}

/// The starter's "go", with the pty master if there is one (SCM_RIGHTS).
fn send_word(word: &OwnedFd, terminal: Option<&OwnedFd>) -> Result<(), Error> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let fds = terminal.map(|fd| [fd.as_raw_fd()]);
    let cmsgs: Vec<ControlMessage<'_>> = fds
        .iter()
        .map(|fds| ControlMessage::ScmRights(fds))
        .collect();
    let iov = [io::IoSlice::new(GO)];
    sendmsg::<()>(word.as_raw_fd(), &iov, &cmsgs, MsgFlags::empty(), None)
        .map(drop)
        .map_err(sys("tell the helper the command runs"))
}

/// The helper's side of [`send_word`]: `Some` with the pty master, if any,
/// once the command runs; `None` at end-of-file (the start failed).
fn hear_word(heard: &OwnedFd) -> Result<Option<Option<OwnedFd>>, Error> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut buf = [0u8; 8];
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let message = recvmsg::<()>(
        heard.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(sys("hear the starter's word"))?;
    if message.bytes == 0 {
        return Ok(None);
    }
    let mut terminal = None;
    for cmsg in message.cmsgs().map_err(sys("read the starter's word"))? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            // SAFETY: the kernel made these descriptors for us.
            terminal = fds.first().map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
    Ok(Some(terminal))
}

/// The starter's word: the command runs.
const GO: &[u8] = b"go";
// ANCHOR_END: start_here

// ANCHOR: resume
/// The supervisor's later entries: the small program ran the container's
/// command to its end and executed [`Config::after`], which read `resume`
/// back from its command line ([`Resume::parse`]). Tears down, records,
/// and starts the container again if its restart policy says so (then it
/// does not return), else returns the exit record.
pub fn resume(
    config: &Config,
    runner: &mut dyn Runner,
    store: &mut dyn Record,
    resume: Resume,
) -> Result<ExitRecord, Error> {
    let restarts = Restarts::resume(config.restart, resume.restart_count, resume.delay);
    let exit = runner.finish(resume.status);
    let ended = RunEnd {
        outcome: Ok(exit),
        ran: resume.ran(),
    };
    cycle(config, runner, store, restarts, Next::Ended(ended))
}

/// Where the supervisor's life goes on from.
enum Next {
    /// Start the container (with the ready pipe of the first start).
    Start(Option<OwnedFd>),
    /// A run ended: tear down, record, decide.
    Ended(RunEnd),
}

fn cycle(
    config: &Config,
    runner: &mut dyn Runner,
    store: &mut dyn Record,
    mut restarts: Restarts,
    mut next: Next,
) -> Result<ExitRecord, Error> {
    let record: ExitRecord = loop {
        let exit = match next {
            Next::Start(ready) => match start_run(config, runner, store, &restarts, ready) {
                Ok(run) => return Err(hand_over(config, run, &restarts)),
                Err(failed) => failed,
            },
            Next::Ended(exit) => exit,
        };
        // ANCHOR: loop
        // LAB: tear down what the run set up (runner.teardown; a failure is only narrated with explain!), then record Event::Exited with exit.record(restarts.count()) (a store error becomes Error::Record, what "exit"); a run that could not start (exit.outcome is Err) is never restarted; otherwise ask restarts.after_exit(code, exit.ran, store.stopped_by_user()): None ends the loop with the record; Some(delay) is recorded as Event::Restarting with restarts.count() and the delay (Error::Record, what "restart"), then wait_unless_stopped(delay), and the loop ends with the record if that says false or the user stopped the container meanwhile; else the loop goes on with Next::Start(None)
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
            Ok(_) => restarts.after_exit(record.code, exit.ran, store.stopped_by_user()),
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
        next = Next::Start(None);
        // LAB: END
        // ANCHOR_END: loop
    };
    let _ = std::fs::remove_file(config.dir.join(SOCKET));
    // One write(2) into the file waiters hold open (see ExitWatch).
    let exit_path = config.dir.join(EXIT);
    File::options()
        .write(true)
        .open(&exit_path)
        .and_then(|mut file| {
            let line = match record.oom_killed {
                true => format!("{} {OOM_KILLED}\n", record.code),
                false => format!("{}\n", record.code),
            };
            file.write_all(line.as_bytes())
        })
        .map_err(io_at("write", &exit_path))?;
    Ok(record)
}
// ANCHOR_END: resume

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
    // A caller that ignores SIGCHLD passes that on (signal(7): an ignored
    // disposition survives fork(2) and execve(2)), and then the kernel reaps
    // our children itself (wait(2)): the container's exit status would be lost.
    // SAFETY: SIG_DFL is not a function, so no handler can run unsafely.
    unsafe { nix::sys::signal::signal(Signal::SIGCHLD, nix::sys::signal::SigHandler::SigDfl) }
        .map_err(sys("reset SIGCHLD"))?;
    explain!("prctl(PR_SET_CHILD_SUBREAPER): orphans below us are re-parented to us");
    nix::sys::prctl::set_child_subreaper(true).map_err(sys("prctl(PR_SET_CHILD_SUBREAPER)"))?;
    let _ = std::env::set_current_dir("/");
    null_stdio()?;
    // A forwarded signal must neither kill the supervisor nor be lost:
    // blocked, it stays pending (signal(7)), across execve(2) too, until the
    // small program reads it from its signalfd(2) and passes it on to the
    // container; during a restart delay, SIGTERM or SIGINT ends the wait
    // (`stop`, see wait_unless_stopped). The subreaper bit and the mask both
    // survive execve(2) (prctl(2), signal(7)).
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
/// ends of its pipes that they held).
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

/// A run handed to the small program: the container's init and our ends of
/// its stdio.
struct Run {
    pid: Pid,
    /// Readable when the init ends (pidfd_open(2)).
    pidfd: OwnedFd,
    listener: UnixListener,
    /// stdout and stderr pipes, or the pty master with `-t`.
    outputs: Vec<OwnedFd>,
    /// Where attach clients' input goes, if stdin is open.
    stdin: Option<OwnedFd>,
    /// When the command started (CLOCK_MONOTONIC), for the restart policy.
    started: Duration,
    /// Where the starter's word comes, if the small program is run before
    /// the command runs (see [`Adoption::adopt`]).
    go: Option<OwnedFd>,
}

/// One start: the container's stdio made, the attach socket listening, the
/// engine's start called; once the command runs, the launcher (first start)
/// is told. A start that fails comes back as the run's end.
fn start_run(
    config: &Config,
    runner: &mut dyn Runner,
    store: &mut dyn Record,
    restarts: &Restarts,
    ready: Option<OwnedFd>,
) -> Result<Run, RunEnd> {
    let failed = |err: Error| RunEnd {
        outcome: Err(RunError::Runtime(ch02_namespaces::Error::Setup(err.into()))),
        ran: Duration::ZERO,
    };
    let report = |ready: Option<OwnedFd>, message: &Ready| {
        if let Some(fd) = ready {
            let mut line = serde_json::to_vec(message).unwrap_or_default();
            line.push(b'\n');
            let _ = File::from(fd).write_all(&line);
        }
    };
    let listener = listen(&config.dir).map_err(failed)?;
    let stdio = ContainerStdio::make(config).map_err(failed)?;
    stdio.to_standard().map_err(failed)?;
    let ContainerStdio {
        theirs,
        outputs,
        stdin,
    } = stdio;
    drop(theirs);
    let mut started = record_start(config, store, restarts);
    let result = runner.start(&mut started);
    // Let go of the container's ends: the small program must see
    // end-of-file once the container's processes are gone.
    let closed = null_stdio();
    let started = match result {
        Ok(started) => started,
        Err(err) => {
            report(
                ready,
                &Ready::Failed {
                    code: err.exit_code(),
                    message: err.to_string(),
                },
            );
            return Err(RunEnd {
                outcome: Err(err),
                ran: Duration::ZERO,
            });
        }
    };
    closed.map_err(failed)?;
    report(
        ready,
        &Ready::Started {
            pid: started.pid.as_raw(),
        },
    );
    run_of(config, started, listener, outputs, stdin).map_err(failed)
}

/// The engine's set-up hook for a start: the log made and the start
/// recorded, once the container's init exists. The log is there before
/// anyone hears the container started (`run` follows it), made here rather
/// than first thing: the engine runs this hook while the kernel moves the
/// container's init into its cgroup (see [`Runner::start`]), so the file
/// costs no wait of its own.
fn record_start<'a>(
    config: &'a Config,
    store: &'a mut dyn Record,
    restarts: &'a Restarts,
) -> impl FnMut(Pid) -> Result<(), BoxError> + 'a {
    move |pid| {
        logs::create(&config.log_path)?;
        store.record(&Event::Started {
            pid: pid.as_raw(),
            at: SystemTime::now(),
            restart_count: restarts.count(),
        })
    }
}

/// The run the small program takes over: the init `started`, its pidfd,
/// and our ends of its stdio (with `-t`, the pty master it sent back).
fn run_of(
    config: &Config,
    started: Started,
    listener: UnixListener,
    mut outputs: Vec<OwnedFd>,
    mut stdin: Option<OwnedFd>,
) -> Result<Run, Error> {
    if let Some(master) = started.terminal {
        if config.open_stdin {
            let dup = master.try_clone();
            stdin = Some(dup.map_err(io_at("dup the pty master for", &config.dir))?);
        }
        outputs.push(master);
    }
    let pidfd = ch02_namespaces::pidfd_open(started.pid).map_err(sys("pidfd_open(2)"))?;
    Ok(Run {
        pid: started.pid,
        pidfd,
        listener,
        outputs,
        stdin,
        started: monotonic_now(),
        go: None,
    })
}

/// The container's stdio as the supervisor makes it: pipes for stdout and
/// stderr, and for stdin with `-i` (else /dev/null); with `-t`, none (the
/// container makes its own pty, chapter 02, and sends the master back).
struct ContainerStdio {
    /// The container's ends (stdin, stdout, stderr); `None` with `-t`.
    theirs: Option<[OwnedFd; 3]>,
    /// Our ends of stdout and stderr.
    outputs: Vec<OwnedFd>,
    /// Our end of stdin, where attach clients' input goes, if it is open.
    stdin: Option<OwnedFd>,
}

impl ContainerStdio {
    fn make(config: &Config) -> Result<ContainerStdio, Error> {
        if config.tty {
            return Ok(ContainerStdio {
                theirs: None,
                outputs: Vec::new(),
                stdin: None,
            });
        }
        let pipe = |what| nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys(what));
        let (out_r, out_w) = pipe("pipe2(2) for stdout")?;
        let (err_r, err_w) = pipe("pipe2(2) for stderr")?;
        let (stdin_r, stdin) = match config.open_stdin {
            true => {
                let (r, w) = pipe("pipe2(2) for stdin")?;
                (r, Some(w))
            }
            false => {
                let null =
                    File::open("/dev/null").map_err(io_at("open", Path::new("/dev/null")))?;
                (OwnedFd::from(null), None)
            }
        };
        Ok(ContainerStdio {
            theirs: Some([stdin_r, out_w, err_w]),
            outputs: vec![out_r, err_r],
            stdin,
        })
    }

    /// Points our descriptors 0, 1 and 2 at the container's ends, for its
    /// init to inherit (at /dev/null with `-t`).
    fn to_standard(&self) -> Result<(), Error> {
        match &self.theirs {
            Some([stdin, stdout, stderr]) => {
                stdio_to(stdin.as_fd(), stdout.as_fd(), stderr.as_fd())
            }
            None => null_stdio(),
        }
    }
}

/// CLOCK_MONOTONIC: a run's length, measured across execve(2)s.
fn monotonic_now() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map_or(Duration::ZERO, Duration::from)
}

// ANCHOR: hand_over
/// Becomes the small program ([`steady`](crate::steady)) for the rest of the run:
/// execve(2) keeps our pid, our children (the container's init), our
/// session, the subreaper bit, the blocked signals and every descriptor
/// not marked close-on-exec, and drops the engine's memory image: the
/// container's whole run costs what that program costs. Returns only if
/// the execve(2) failed.
fn hand_over(config: &Config, run: Run, restarts: &Restarts) -> Error {
    let (_program, path) = match crate::steady::program() {
        Ok(program) => program,
        Err(err) => return err,
    };
    let mut cmd = Command::new(&path);
    // What `ps` shows, rather than /proc/self/fd/N.
    cmd.arg0("dockyard-supervisor");
    let fd = |fd: &dyn AsRawFd| fd.as_raw_fd().to_string();
    cmd.args(["--pid", &run.pid.to_string()])
        .args(["--pidfd", &fd(&run.pidfd)])
        .args(["--listen", &fd(&run.listener)])
        .args(["--out", &fd(&run.outputs[0])]);
    if let Some(err) = run.outputs.get(1) {
        cmd.args(["--err", &fd(err)]);
    }
    if let Some(stdin) = &run.stdin {
        cmd.args(["--stdin", &fd(stdin)]);
    }
    if config.stdin_once {
        cmd.arg("--stdin-once");
    }
    if config.tty {
        cmd.arg("--tty");
    }
    cmd.arg("--log").arg(&config.log_path);
    if let Some(max) = config.log.max_size {
        cmd.args(["--max-size", &max.to_string()]);
    }
    cmd.args(["--max-file", &config.log.max_file.to_string()]);
    if let Some(attrs) = logs::attrs_text(&config.log.attrs) {
        cmd.arg("--attrs").arg(attrs);
    }
    if let Some(finisher) = &config.finisher {
        cmd.args(["--finisher", &fd(finisher)]);
    }
    if let Some(go) = &run.go {
        cmd.args(["--go", &fd(go)]);
    }
    let resume = Resume {
        status: 0,
        started: run.started,
        restart_count: restarts.count(),
        delay: restarts.delay(),
    };
    cmd.arg("--")
        .arg(&config.after.0)
        .args(&config.after.1)
        .args(resume.args());
    let kept = [&run.pidfd as &dyn AsFd, &run.listener]
        .into_iter()
        .chain(run.outputs.iter().map(|fd| fd as &dyn AsFd))
        .chain(run.stdin.iter().map(|fd| fd as &dyn AsFd))
        .chain(config.finisher.iter().map(|fd| fd as &dyn AsFd))
        .chain(run.go.iter().map(|fd| fd as &dyn AsFd));
    for fd in kept {
        if let Err(err) = fcntl(fd.as_fd(), FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty())) {
            return sys("fcntl(2) to pass a descriptor on")(err);
        }
    }
    explain!("execve(2) dockyard-supervisor: it holds the container's stdio until the run ends");
    let err = cmd.exec();
    io_at("execute the supervisor program", &path)(err)
}
// ANCHOR_END: hand_over

/// What a supervisor's later entry needs to know about the run that ended:
/// its exit status and the restart policy's state. [`hand_over`] writes it
/// on the command line of [`Config::after`] (the small program appends the
/// status), and the engine reads it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// The command's status, 128+N after signal N.
    pub status: i32,
    /// When the command started (CLOCK_MONOTONIC).
    pub started: Duration,
    /// docker's `RestartCount` so far.
    pub restart_count: u32,
    /// The restart delay used last, if any (docker's delay doubles).
    pub delay: Option<Duration>,
}

impl Resume {
    /// `--started-ms T --restart-count C --delay-ms D` (0: none); the
    /// status comes after.
    fn args(&self) -> [String; 6] {
        [
            "--started-ms".into(),
            self.started.as_millis().to_string(),
            "--restart-count".into(),
            self.restart_count.to_string(),
            "--delay-ms".into(),
            self.delay.map_or(0, |d| d.as_millis()).to_string(),
        ]
    }

    /// Reads `--started-ms T --restart-count C --delay-ms D --status N`, the
    /// end of a later entry's command line.
    pub fn parse(words: &[OsString]) -> Option<Resume> {
        let number = |word: &OsString| word.to_str()?.parse::<u64>().ok();
        match words {
            [s, started, c, count, d, delay, st, status]
                if s == "--started-ms"
                    && c == "--restart-count"
                    && d == "--delay-ms"
                    && st == "--status" =>
            {
                Some(Resume {
                    status: status.to_str()?.parse().ok()?,
                    started: Duration::from_millis(number(started)?),
                    restart_count: count.to_str()?.parse().ok()?,
                    delay: Some(Duration::from_millis(number(delay)?)).filter(|d| !d.is_zero()),
                })
            }
            _ => None,
        }
    }

    /// How long the command ran.
    fn ran(&self) -> Duration {
        monotonic_now().saturating_sub(self.started)
    }
}

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

/// The launcher's end of the finish hand-over (the small program's
/// `finish` module): a foreground `run`, which waits for the container's end
/// anyway with the engine in memory and its store open, does the exit
/// program's work itself ([`resume`]) instead of the supervisor starting
/// the engine binary again for it.
#[derive(Debug)]
pub struct Finisher(OwnedFd);

impl Finisher {
    /// A connected pair (socketpair(2), `SOCK_SEQPACKET`): ours, and the end
    /// for [`Config::finisher`]. Both are close-on-exec; [`hand_over`]
    /// passes the supervisor's on to the small program.
    pub fn pair() -> Result<(Finisher, OwnedFd), Error> {
        let (ours, theirs) = seqpacket_pair("socketpair(2) for the finisher")?;
        Ok((Finisher(ours), theirs))
    }

    /// Waits until the run is over: the arguments the exit program would
    /// have been given (those after the program, `--status N` last), which
    /// the caller reads back and does the work of ([`resume`]). `None` if
    /// the supervisor will not hand over (it never got our pair's other
    /// end, or is gone): it runs the exit program itself then.
    pub fn wait(&self) -> Result<Option<Vec<OsString>>, Error> {
        use std::os::unix::ffi::OsStrExt;
        let mut message = vec![0u8; 4096];
        let n = loop {
            match nix::unistd::read(&self.0, &mut message) {
                Err(Errno::EINTR) => continue,
                result => break result.map_err(sys("read(2) from the supervisor"))?,
            }
        };
        // Each word is NUL-terminated; nothing at all is end-of-file.
        let Some(words) = message[..n].strip_suffix(&[0]) else {
            return Ok(None);
        };
        let words = words.split(|&b| b == 0);
        Ok(Some(
            words
                .map(|word| std::ffi::OsStr::from_bytes(word).to_os_string())
                .collect(),
        ))
    }

    /// Says the exit program's work is done: the supervisor exits (and lets
    /// go of the container's run lock) without running it.
    pub fn done(self) -> Result<(), Error> {
        nix::unistd::write(&self.0, &[DONE])
            .map(drop)
            .map_err(sys("tell the supervisor the finish is done"))
    }
}

/// The finisher's answer (the small program's `finish::DONE`).
const DONE: u8 = b'd';

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
    stream.write_all(hello).map_err(|err| {
        // Taken on and let go at once, or never taken on: the run ended
        // just as we came, and the supervisor has closed its socket.
        if matches!(
            err.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ) {
            Error::Gone(dir.to_path_buf())
        } else {
            io_at("write to", &path)(err)
        }
    })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    const EXEC_VAR: &str = "DOCKYARD_SHIM_TEST_EXEC_FROM_A_THREAD";

    /// Returns at once when the suite runs; re-executed by the test below,
    /// it execve(2)s `sleep` from the thread libtest runs each test on, not
    /// the main thread: as the shims of `tests/supervisor.rs` do.
    #[test]
    fn exec_from_a_thread() {
        if std::env::var_os(EXEC_VAR).is_some() {
            panic!("{}", Command::new("sleep").arg("30").exec());
        }
    }

    /// A supervisor looked at while a thread other than its main one
    /// execve(2)s is alive all the same. Each round looks as often as it can
    /// until the exec is done. (Judged by /proc alone, the main thread a
    /// zombie and its threads' entries, this failed about once in a
    /// thousand rounds on a loaded machine.)
    #[test]
    fn a_process_that_execs_from_a_thread_is_alive_throughout() {
        for _ in 0..50 {
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "supervise::tests::exec_from_a_thread",
                    "--test-threads=1",
                ])
                .env(EXEC_VAR, "1")
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            let pid = child.id() as i32;
            let stat = format!("/proc/{pid}/stat");
            let comm = format!("/proc/{pid}/comm");
            // Our child, not reaped: these reads fail only for a moment.
            let start = loop {
                if let Ok(start) = start_time_in(&stat) {
                    break start;
                }
            };
            let mut looks = 0;
            while std::fs::read_to_string(&comm).ok().as_deref() != Some("sleep\n") {
                looks += 1;
                if !is_alive(pid, start) {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("seen as gone during its execve(2), after {looks} looks");
                }
            }
            assert!(is_alive(pid, start));
            assert!(!is_alive(pid, start + 1), "another process's start time");
            child.kill().unwrap();
            child.wait().unwrap();
            assert!(!is_alive(pid, start), "a reaped process is gone");
        }
    }

    /// A holder keeps the engine from removing an auto-removed container
    /// until it has read the output; the supervisor's status (and the OOM
    /// killer's verdict) reach it through the same file.
    #[test]
    fn the_exit_file_is_held_until_the_reader_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let watch = ExitWatch::hold(dir.path()).unwrap();
        assert_eq!(watch.code(), None);
        let (done, waited) = std::sync::mpsc::channel();
        let path = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || {
            drop(wait_for_readers(&path).unwrap());
            done.send(()).unwrap();
        });
        assert!(
            waited.recv_timeout(Duration::from_millis(200)).is_err(),
            "the supervisor went on while the output was held"
        );
        // The supervisor's write, into the same file.
        std::fs::write(dir.path().join(EXIT), format!("137 {OOM_KILLED}\n")).unwrap();
        watch.let_go();
        waited.recv_timeout(Duration::from_secs(10)).unwrap();
        waiter.join().unwrap();
        assert_eq!((watch.code(), watch.oom_killed()), (Some(137), true));
        std::fs::write(dir.path().join(EXIT), "0\n").unwrap();
        assert_eq!((watch.code(), watch.oom_killed()), (Some(0), false));
        // No exit file (no supervisor): nothing to wait for.
        assert!(
            wait_for_readers(&dir.path().join("gone"))
                .unwrap()
                .is_none()
        );
    }

    /// A process whose every thread has exited is gone even before its
    /// parent reaps it.
    #[test]
    fn a_zombie_is_gone() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        let start = start_time_in(&format!("/proc/{pid}/stat")).unwrap();
        let zombie = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap()
            .contains(") Z ")
        {
            assert!(Instant::now() < zombie, "`true` did not end");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!is_alive(pid, start));
        child.wait().unwrap();
    }
}
