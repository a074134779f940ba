//! Signals: the command is PID 1 of its namespace; the runner stands in for it.
//!
//! A user's Ctrl-C or a `kill` reaches the runner, not the container (its init is
//! in its own session and PID namespace). So the runner blocks the signals it
//! cares about before it clones (none can slip past in between), reads them from
//! a signalfd(2) and forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2
//! to the command, as `docker run`'s signal proxy does; SIGWINCH says the terminal
//! was resized. (The command's exit is watched with a pidfd, not SIGCHLD, which in
//! a threaded caller could be taken by another thread.)
//!
//! pid_namespaces(7): PID 1 only receives signals it has installed a handler for,
//! so `sh` as PID 1 ignores a forwarded SIGTERM, exactly as under docker (which
//! is why `docker run --init` exists). SIGKILL always works.

use ch01_chroot::explain;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, pthread_sigmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use crate::Error;

/// The signals passed on to the container's init.
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// What the runner learns from a signal.
#[derive(Debug, PartialEq)]
pub(crate) enum Event {
    /// The caller's terminal changed size.
    Resize,
    /// Pass this one on.
    Forward(Signal),
}

/// Blocked signals, readable from a file descriptor; unblocks them on drop.
#[derive(Debug)]
pub(crate) struct Signals {
    fd: SignalFd,
    old_mask: SigSet,
    /// The command's mask: the caller's, less the signals read here (a
    /// caller that keeps them blocked itself, as the engine's supervisor
    /// does between runs, must not hand that on to the command).
    child_mask: SigSet,
}

impl Signals {
    /// Blocks the signals the runner handles and opens a signalfd for them.
    pub(crate) fn block() -> Result<Signals, Error> {
        let mut set = SigSet::empty();
        for sig in FORWARDED.into_iter().chain([Signal::SIGWINCH]) {
            set.add(sig);
        }
        let mut old_mask = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old_mask))
            .map_err(Error::sys("block signals"))?;
        // Pending already (sent while the caller held them blocked)? The
        // signalfd reads them first: nothing sent before the run is lost.
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(Error::sys("signalfd(2)"))?;
        let mut child_mask = old_mask;
        for sig in set.iter() {
            child_mask.remove(sig);
        }
        Ok(Signals {
            fd,
            old_mask,
            child_mask,
        })
    }

    /// The descriptor to poll.
    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.fd)
    }

    /// The next pending signal, if any.
    pub(crate) fn next(&self) -> Option<Event> {
        let info = self.fd.read_signal().ok().flatten()?;
        let sig = Signal::try_from(info.ssi_signo as i32).ok()?;
        Some(match sig {
            Signal::SIGWINCH => Event::Resize,
            other => Event::Forward(other),
        })
    }

    /// In the child, before execve(2): the command starts with the caller's mask
    /// (less the signals the runner handles, which it must be able to get)
    /// and default dispositions (see [`default_dispositions`]); the mask
    /// survives execve(2) too (signal(7)).
    pub(crate) fn restore_in_child(&self) -> Result<(), nix::errno::Errno> {
        default_dispositions()?;
        pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.child_mask), None)
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
    }
}

/// In a child about to execve(2) a container's command: every signal back
/// to SIG_DFL. execve(2) resets handled signals but keeps ignored ones
/// (signal(7)), and a container must not inherit what its caller happens
/// to ignore: Rust's runtime ignores SIGPIPE (`yes | head -1` would end in
/// "Broken pipe" errors instead of a quiet SIGPIPE), a shell's background
/// job starts with SIGINT and SIGQUIT ignored, nohup ignores SIGHUP, and a
/// process cargo starts has real-time signals 32 and 33 ignored. A
/// non-interactive shell cannot even trap a signal that was ignored when it
/// started (POSIX, "trap"), so its `trap ... INT` would do nothing. Under
/// docker the daemon starts containers, so the CLI's dispositions never
/// reach them; crun resets them all the same way.
// ANCHOR: default_dispositions
pub fn default_dispositions() -> Result<(), nix::errno::Errno> {
    /// The kernel's struct sigaction (x86_64, arm64): glibc's sigaction(2)
    /// refuses signals 32 and 33, which it keeps for itself, so this calls
    /// rt_sigaction(2) directly; SIG_DFL needs no restorer nor mask.
    #[repr(C)]
    struct KernelSigaction {
        handler: libc::sighandler_t,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // signal(7): Linux has signals 1 to 64; SIGKILL's and SIGSTOP's cannot change.
    for sig in (1..=64).filter(|&sig| sig != libc::SIGKILL && sig != libc::SIGSTOP) {
        // SAFETY: the kernel reads one struct sigaction and writes none
        // back; SIG_DFL is not a function, so no handler can run unsafely.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &default,
                std::ptr::null_mut::<KernelSigaction>(),
                std::mem::size_of::<u64>(),
            )
        };
        nix::errno::Errno::result(rc)?;
    }
    Ok(())
}
// ANCHOR_END: default_dispositions

// ANCHOR: forward
/// Sends `sig` on to the container's init.
pub(crate) fn forward(child: Pid, sig: Signal) {
    explain!("forward {sig} to the container's PID 1 (host pid {child})"; "kill -{} {child}", sig.as_str().trim_start_matches("SIG"));
    let _ = kill(child, sig);
}
// ANCHOR_END: forward
