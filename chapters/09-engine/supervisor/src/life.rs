//! The supervisor's life, from the container's start to its end: copy its
//! stdio, pass signals on, reap it, then hand over to the engine's exit
//! program.

use crate::copier::{self, Copier, Io, Mapped};
use crate::log::{LogOptions, LogWriter};
use crate::sys::{self, Errno, Fd, POLLIN, PollFd, SigSet, sig};

/// The signals passed on to the container's init (chapter 02's `FORWARDED`).
pub const FORWARDED: SigSet = SigSet::of(&[
    sig::SIGINT,
    sig::SIGTERM,
    sig::SIGHUP,
    sig::SIGQUIT,
    sig::SIGUSR1,
    sig::SIGUSR2,
]);

/// What the supervisor is given: the container's init and the descriptors
/// the engine made for it, each owned (closed when the life is over).
#[derive(Debug)]
pub struct Config<'a> {
    /// The container's init, our child (the engine cloned it, then exec'd us).
    pub pid: i32,
    /// A pidfd (pidfd_open(2)) of `pid`: readable once it has exited.
    pub pidfd: Fd,
    /// The attach socket, listening (unix(7)).
    pub listener: Fd,
    /// The container's stdio, our ends.
    pub io: Io,
    /// Where and how to log its output.
    pub log: LogOptions<'a>,
}

/// docker's status for an error of its own (`docker run`'s 125).
pub const FAILED: i32 = 125;

// ANCHOR: heard_go
/// With `--go`: waits for the engine's word that the container's command
/// runs, which comes once its execve(2) is done. The engine runs us as soon
/// as it has cloned the init, so that we are up by the time the command
/// runs (and, for a command as short as `true`, ends). `false`: the word
/// never came (end-of-file, an error): the start failed, and the engine
/// kills the init and records the failure itself; ours is only to reap it.
pub fn heard_go(go: &Fd) -> bool {
    let mut word = [0u8; 8];
    matches!(sys::read(go, &mut word), Ok(n) if n > 0)
}
// ANCHOR_END: heard_go

/// Why [`supervise`] gave up before the end, and the status to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// What failed.
    pub errno: Errno,
    /// The init's status: it was killed (SIGKILL: 137) and reaped, or it had
    /// been reaped already; [`FAILED`] if it could not be reaped (someone
    /// else did, so its status is unknown).
    pub status: i32,
}

/// The supervisor's life up to (not including) the exec of the exit
/// program; returns the init's status (its exit code, or 128 + N after
/// signal N).
///
/// It copies (see [`copier`]) until the init is reaped *and* every output
/// has reached end-of-file (a process the init left behind may still hold
/// them), passing on the [`FORWARDED`] signals to the init until it is
/// reaped. Then clients and watchers are closed (they read end-of-file),
/// other children are reaped (we are a child subreaper, prctl(2)
/// `PR_SET_CHILD_SUBREAPER`: the container's orphans come to us), and every
/// descriptor the config holds is closed.
///
/// If a system call fails on the way (poll, waitid, opening the log...),
/// the init is not left running with nobody to read its output or reap it:
/// it is killed (SIGKILL) and reaped, what its outputs still hold is logged
/// if the log is open, and the [`Failure`] says with what status.
pub fn supervise(config: Config<'_>) -> Result<i32, Failure> {
    let Config {
        pid,
        pidfd,
        listener,
        io,
        log,
    } = config;
    let (signals, mut mapped) = match prepare() {
        Ok(ready) => ready,
        Err(errno) => return Err(give_up(errno, &pidfd, None, None)),
    };
    let copier = Copier::new(mapped.buffers(), io, listener, |buffers| {
        LogWriter::open(log, buffers)
    });
    let mut copier = match copier {
        Ok(copier) => copier,
        Err(errno) => return Err(give_up(errno, &pidfd, None, None)),
    };
    let mut reaped = None;
    let result = match copy(&mut copier, &signals, pid, &pidfd, &mut reaped) {
        Ok(status) => Ok(status),
        Err(errno) => Err(give_up(errno, &pidfd, reaped, Some(&mut copier))),
    };
    drop(copier);
    while sys::reap_any() {}
    drop((pidfd, signals, mapped));
    result
}

/// Sets up the signals and maps the buffers.
fn prepare() -> Result<(Fd, Mapped), Errno> {
    // The engine runs us from a memfd, as /proc/self/fd/N: named "N".
    sys::set_name(c"dockyard-supervisor")?;
    // An ignored SIGCHLD survives execve(2) (a caller such as Python may
    // have set it), and with it the kernel reaps our children itself
    // (POSIX: SIG_IGN for SIGCHLD means children are not turned into
    // zombies; signal(7), wait(2) NOTES): waitid would find no init to
    // reap (ECHILD). The default action is to ignore it too, but keeps
    // the zombies.
    sys::default_action(sig::SIGCHLD)?;
    // A write to a client that hung up then fails with EPIPE, rather than
    // killing us.
    sys::ignore(sig::SIGPIPE)?;
    // They arrive blocked (the engine blocked them; execve(2) keeps the
    // mask and what is pending): the signalfd reads those that came
    // before we were there too. Blocked here again for a caller that did not.
    sys::block(FORWARDED)?;
    let signals = sys::signalfd(FORWARDED)?;
    Ok((signals, Mapped::map()?))
}

// ANCHOR: loop
/// Copies, passes signals on and reaps the init (into `reaped`) until it
/// is reaped and the outputs are at their end: the init's status.
fn copy(
    copier: &mut Copier<'_>,
    signals: &Fd,
    pid: i32,
    pidfd: &Fd,
    reaped: &mut Option<i32>,
) -> Result<i32, Errno> {
    let mut fds = [PollFd::UNUSED; 2 + copier::SLOTS];
    loop {
        if let Some(status) = *reaped
            && !copier.copying()
        {
            return Ok(status);
        }
        fds[0] = PollFd {
            fd: signals.raw(),
            events: POLLIN,
            revents: 0,
        };
        fds[1] = match reaped {
            None => PollFd {
                fd: pidfd.raw(),
                events: POLLIN,
                revents: 0,
            },
            Some(_) => PollFd::UNUSED,
        };
        copier.fill(&mut fds[2..]);
        // No timeout unless a new connection has a deadline.
        sys::poll(&mut fds, copier.timeout())?;
        if fds[0].revents != 0 {
            while let Some(signal) = sys::read_signal(signals) {
                // Once the init is reaped its pid may be another process's.
                if reaped.is_none() {
                    let _ = sys::kill(pid, signal);
                }
            }
        }
        if fds[1].revents != 0 {
            *reaped = Some(sys::reap(pidfd)?);
        }
        copier.step(&fds[2..]);
    }
}
// ANCHOR_END: loop

/// After `errno`: kills the init (through its pidfd: its pid may be
/// another process's by now) unless it was `reaped` already, reaps it, and
/// logs what the outputs still hold (with a `copier`, that is once the log
/// is open). The status is the init's as waitid(2) gives it: 137 (128 +
/// SIGKILL) when our kill ended it, its own if it had ended before, or was
/// reaped before the failure; [`FAILED`] (125) when it cannot be reaped
/// (ECHILD: somebody else reaped it) and its status is unknown.
fn give_up(
    errno: Errno,
    pidfd: &Fd,
    reaped: Option<i32>,
    copier: Option<&mut Copier<'_>>,
) -> Failure {
    let status = reaped.unwrap_or_else(|| {
        let _ = sys::pidfd_kill(pidfd, sig::SIGKILL);
        sys::reap(pidfd).unwrap_or(FAILED)
    });
    if let Some(copier) = copier {
        copier.drain();
    }
    Failure { errno, status }
}
