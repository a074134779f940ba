//! The runtime: a [`Spec`] and a rootfs in, a running container out.
//!
//! Chapter 01's shape (fork, enter the rootfs, exec, wait) with three changes:
//! clone(2) replaces fork(2) so the child is born in new namespaces (and is PID 1
//! of the new PID namespace); parent and child talk over a [`channel`](crate::channel)
//! so the runner can finish its part (id maps, chapter 03's cgroups) before the
//! child goes on; and the child builds its root filesystem and hardens itself
//! before execve(2).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use ch01_chroot::{DEFAULT_PATH, exit, explain};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use seccompiler::BpfProgram;

use crate::channel::{self, End, Failure, ToParent};
use crate::hardening::{self, seccomp};
use crate::rootfs::EtcFiles;
use crate::signals::{Event, Signals};
use crate::{Error, namespaces, rootfs, tty};

/// What the runner may do to the child after it exists and before it execs:
/// chapter 03 moves it into its cgroup here. Runs in the runner.
pub type Setup<'a> = dyn FnMut(Pid) -> Result<(), Box<dyn std::error::Error + Send + Sync>> + 'a;

/// A helper that keeps the container's init as its own child, instead of
/// handing it to the runner (see [`spawn_adopted`]): an engine whose
/// supervisor must be the init's parent, but whose set-up is done by a
/// process that will not stay (the CLI), makes the helper that supervisor.
/// runc's shape: what sets a container up is not what watches it.
pub trait Adopter {
    /// Runs in the helper before it clones the init, which inherits what
    /// this sets: its session, stdio, signal mask.
    fn prepare(&self);
    /// Runs in the helper once the runner knows the init's pid: becomes the
    /// init's supervisor (an execve(2), typically) and never returns.
    fn adopt(&self, init: Pid) -> !;
}

// ANCHOR: cgroup_entry
/// How the container's init gets into the cgroup chapter 03 made for it,
/// without being moved there by the runner: a move of *another* process
/// takes the cgroups' threadgroup lock for writing, which waits for an RCU
/// grace period (`cgroup_attach_lock` in kernel/cgroup/cgroup.c; several
/// milliseconds on an idle machine, longer than the rest of a start).
#[derive(Debug, Clone, Copy)]
pub enum CgroupEntry<'a> {
    /// Born in this cgroup v2 directory: clone3(2) with CLONE_INTO_CGROUP
    /// (Linux 5.7). Where the birth fails, the init is born where the
    /// runner is, and the runner's `setup` has to move it after all.
    BornIn(BorrowedFd<'a>),
    /// Moves itself, first thing after the go-ahead, by writing `0` ("the
    /// writer") into each of these open cgroup v1 `tasks` files. A thread
    /// that moves only itself needs no threadgroup lock
    /// (`cgroup_procs_write_start`), so nothing waits; and clone3 cannot
    /// help on v1, whose cgroup is one directory per hierarchy.
    MovesItself(&'a [OwnedFd]),
}
// ANCHOR_END: cgroup_entry

/// The clone(2) child's stack. It only runs the set-up code before execve(2).
const STACK_SIZE: usize = 8 * 1024 * 1024;

/// Runs the container the spec describes on `rootfs` and returns the command's
/// exit status (128+N if signal N killed it).
pub fn run(spec: &Spec, rootfs: &Path) -> Result<i32, Error> {
    run_with(spec, rootfs, &mut |_| Ok(()))
}

/// Like [`run`], calling `setup` with the child's host pid once the child exists
/// in its namespaces but before it unshares its cgroup namespace and execs.
///
/// While it runs, the calling thread blocks SIGINT, SIGTERM, SIGHUP, SIGQUIT,
/// SIGUSR1, SIGUSR2 and SIGWINCH and forwards them to the container; in a
/// program with other threads, those threads should block them too, or the
/// kernel may hand such a signal to one of them instead.
pub fn run_with(spec: &Spec, rootfs: &Path, setup: &mut Setup<'_>) -> Result<i32, Error> {
    spawn(spec, rootfs, setup)?.wait()
}

/// A container whose command runs: [`spawn`] returns it once the command's
/// execve(2) succeeded. [`Running::wait`] is [`run`]'s second half; the
/// engine's supervisor instead hands the pid and the terminal to a small
/// program of its own that waits (chapter 09).
#[derive(Debug)]
pub struct Running {
    child: Pid,
    master: Option<OwnedFd>,
    signals: Signals,
}

impl Running {
    /// The command's host pid (PID 1 in its own PID namespace); our child.
    pub fn pid(&self) -> Pid {
        self.child
    }

    /// With `process.terminal`, the master side of the container's pty, which
    /// the container sent back (see `tty`): whoever holds it reads what the
    /// command prints and writes what it reads.
    pub fn take_terminal(&mut self) -> Option<OwnedFd> {
        self.master.take()
    }

    /// Waits for the command to end (forwarding signals and, with a terminal,
    /// copying between ours and the container's) and returns its exit status.
    pub fn wait(self) -> Result<i32, Error> {
        supervise(self.child, &self.signals, self.master)
    }
}

/// [`run_with`]'s first half: makes the container and returns once its
/// command runs, or with the reason it could not start (nothing is left
/// behind then). The signals [`run_with`] forwards stay blocked until the
/// [`Running`] is dropped or waited for.
pub fn spawn(spec: &Spec, rootfs: &Path, setup: &mut Setup<'_>) -> Result<Running, Error> {
    spawn_into(spec, rootfs, None, setup)
}

/// [`spawn`], with the container's init getting into its `cgroup` itself
/// (see [`CgroupEntry`]), rather than being moved there by `setup`.
pub fn spawn_into(
    spec: &Spec,
    rootfs: &Path,
    cgroup: Option<CgroupEntry<'_>>,
    setup: &mut Setup<'_>,
) -> Result<Running, Error> {
    spawn_with(spec, rootfs, cgroup, None, setup)
}

/// [`spawn_into`], with the init kept by the helper that clones it, which
/// `adopter` then makes its supervisor (see [`Adopter`]): the init is not
/// our child, so the [`Running`] this returns is only for its pid and
/// terminal, not to be waited for.
pub fn spawn_adopted(
    spec: &Spec,
    rootfs: &Path,
    cgroup: Option<CgroupEntry<'_>>,
    adopter: &dyn Adopter,
    setup: &mut Setup<'_>,
) -> Result<Running, Error> {
    spawn_with(spec, rootfs, cgroup, Some(adopter), setup)
}

fn spawn_with(
    spec: &Spec,
    rootfs: &Path,
    cgroup: Option<CgroupEntry<'_>>,
    adopter: Option<&dyn Adopter>,
    setup: &mut Setup<'_>,
) -> Result<Running, Error> {
    let rootfs = std::fs::canonicalize(rootfs)
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| Error::RootfsMissing(rootfs.to_path_buf()))?;
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::NotRoot);
    }
    let joined = namespaces::Joined::open(spec)?;
    let process = spec.process().as_ref().ok_or(Error::NoCommand)?;
    let cmd = process
        .args()
        .as_ref()
        .and_then(|a| a.first())
        .ok_or(Error::NoCommand)?
        .clone();
    let filters = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(policy) => seccomp::compile(policy).map_err(|e| Error::Io {
            step: "compile the seccomp policy".into(),
            source: std::io::Error::other(e),
        })?,
        None => Vec::new(),
    };
    let etc = EtcFiles::for_spec(spec)?;
    let (parent_end, child_end) = channel::pair().map_err(Error::sys("socketpair(2)"))?;
    let signals = Signals::block()?;

    let flags = namespaces::clone_flags(spec);
    let (born_in, cgroup_tasks) = match cgroup {
        Some(CgroupEntry::BornIn(dir)) => (Some(dir.as_raw_fd()), &[][..]),
        Some(CgroupEntry::MovesItself(tasks)) => (None, tasks),
        None => (None, &[][..]),
    };
    let init = Init {
        spec,
        process,
        runner_mount_ns: rootfs::mount_namespace_of("self")
            .map_err(Error::io("stat /proc/self/ns/mnt"))?,
        rootfs: &rootfs,
        etc: etc.as_ref().map(EtcFiles::dir),
        cgroup_tasks,
        filters: &filters,
        signals: &signals,
    };
    let call = if born_in.is_some() {
        "clone3(2)"
    } else {
        "clone(2)"
    };
    explain!("{call} a child in new namespaces: it will be PID 1 of its own";
        "{} {}", namespaces::unshare_words(flags), explain::shell_words(process.args().as_deref().unwrap_or_default()));
    let child = spawn_init(
        &init,
        flags,
        born_in,
        adopter,
        &joined,
        &parent_end,
        child_end,
    )?;
    explain!("the child is pid {child} on the host and PID 1 in its namespace");

    // The channel reads end-of-file once the child's execve(2) closed its
    // end (close-on-exec): when start returns, the command runs.
    match start(spec, &parent_end, child, setup, &cmd, &rootfs) {
        Ok(master) => Ok(Running {
            child,
            master,
            signals,
        }),
        Err(err) => {
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
            Err(err)
        }
    }
}

// ANCHOR: spawn_init
/// Makes the container's init: a child of the runner, born in new namespaces.
///
/// clone(2) with namespace flags does what fork(2) does, but the libc wrapper
/// skips fork's preparations (such as making the allocator usable in the
/// child), which matter when the caller has other threads: a test harness, or
/// an engine. So, as runc does, a helper is forked first (with libc's fork, so
/// it is a sound single-threaded copy), and the helper clones the init with
/// CLONE_PARENT, which makes the init the runner's child rather than its own.
/// The helper reports the init's pid and exits. Given a `cgroup`, it clones
/// with clone3(2) instead, to have the init born in it. The helper enters
/// the namespaces the spec joins (`joined`) first, so the init is born in
/// those and in new ones of the other kinds, and leaves them after. Given an
/// `adopter`, the helper keeps the init as its own child (no CLONE_PARENT)
/// and becomes what the adopter makes it, instead of exiting.
fn spawn_init(
    init: &Init<'_>,
    flags: CloneFlags,
    cgroup: Option<RawFd>,
    adopter: Option<&dyn Adopter>,
    joined: &namespaces::Joined,
    parent_end: &End,
    child_end: End,
) -> Result<Pid, Error> {
    let mut stack = vec![0u8; STACK_SIZE];
    // SAFETY: the helper only calls clone(2), sends one message and _exit(2)s.
    let helper = match unsafe { nix::unistd::fork() }.map_err(Error::sys("fork(2)"))? {
        ForkResult::Child => {
            // The helper and the init hold copies of the runner's end: close them,
            // so that if the runner dies, the init's wait for its word ends.
            parent_end.close_copy_in_child();
            let flags = match adopter {
                Some(adopter) => {
                    adopter.prepare();
                    flags
                }
                None => flags | CloneFlags::CLONE_PARENT,
            };
            if let Err(failure) = joined.enter() {
                child_end.report(failure);
                // SAFETY: _exit(2) is always safe; it skips destructors the runner owns.
                unsafe { libc::_exit(0) }
            }
            // SAFETY: the helper is single-threaded, so its clones may run Rust code.
            let born_in =
                cgroup.map(|dir| unsafe { clone_into(dir, flags, || init.run(&child_end)) });
            let clone = match born_in {
                Some(Ok(pid)) => Ok(pid),
                // Whatever refused the birth (an old kernel, a seccomp filter),
                // clone(2) and the move after it, as crun falls back; if they
                // fail too, theirs is the error to report.
                Some(Err(_)) | None => unsafe {
                    nix::sched::clone(
                        Box::new(|| init.run(&child_end)),
                        &mut stack,
                        flags,
                        Some(libc::SIGCHLD),
                    )
                },
            };
            let clone = clone.map_err(Failure::step("clone(2)")).and_then(|pid| {
                joined.leave().inspect_err(|_| {
                    let _ = kill(pid, Signal::SIGKILL);
                })?;
                Ok(pid)
            });
            match clone {
                Ok(pid) => {
                    let _ = child_end.send_init_pid(pid.as_raw());
                    if let Some(adopter) = adopter {
                        // Our copy of the init's end would keep from the
                        // runner the end-of-file that says the init execs.
                        drop(child_end);
                        adopter.adopt(pid);
                    }
                }
                Err(failure) => child_end.report(failure),
            }
            // SAFETY: _exit(2) is always safe; it skips destructors the runner owns.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => child,
    };
    drop(child_end);
    let report = parent_end.wait_for_init();
    // An adopting helper lives on as the init's parent: not ours to wait for
    // (it is reaped when we exit, or by whoever adopts it then).
    if adopter.is_none() {
        let _ = waitpid(helper, None);
    }
    match report.map_err(Error::sys("read the init's pid from the helper"))? {
        Ok(pid) => Ok(Pid::from_raw(pid)),
        Err(failure) => Err(failure.into_error("", Path::new(""))),
    }
}
// ANCHOR_END: spawn_init

// ANCHOR: clone_into
/// clone3(2)'s arguments (`struct clone_args`, linux/sched.h), up to `cgroup`.
#[repr(C, align(8))]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3(2)'s flag to place the child in the cgroup v2 directory that
/// `clone_args.cgroup` refers to, from its first instant (Linux 5.7).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Clones a child, with `flags`, into the cgroup v2 directory open as
/// `cgroup`; the child runs `child` and exits with what it returns. As after
/// fork(2), the child goes on from here on a copy of our stack. Fails with
/// ENOSYS or E2BIG where clone3(2) or its `cgroup` field is unknown, EPERM
/// where a seccomp filter refuses clone3, and with what the cgroup refuses.
///
/// # Safety
/// The caller must be single-threaded: the child is a copy of it.
unsafe fn clone_into(
    cgroup: RawFd,
    flags: CloneFlags,
    child: impl FnOnce() -> isize,
) -> Result<Pid, Errno> {
    let args = CloneArgs {
        // Through u32: clone(2)'s flags are an int, and CLONE_IO is its sign bit.
        flags: u64::from(flags.bits() as u32) | CLONE_INTO_CGROUP,
        // None of its own, as clone3(2) requires with CLONE_PARENT: the
        // child's parent is told of its end the way it is told of ours (the
        // helper's, SIGCHLD). A child of our own tells us with SIGCHLD.
        exit_signal: match flags.contains(CloneFlags::CLONE_PARENT) {
            true => 0,
            false => libc::SIGCHLD as u64,
        },
        cgroup: cgroup as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid clone_args of the size given; with no stack
    // and no CLONE_VM, the child gets a copy of our memory, as with fork(2).
    match unsafe { libc::syscall(libc::SYS_clone3, &args, std::mem::size_of::<CloneArgs>()) } {
        -1 => Err(Errno::last()),
        0 => {
            let code = child();
            // SAFETY: _exit(2) is always safe; the copy runs none of the helper's destructors.
            unsafe { libc::_exit(code as i32) }
        }
        pid => Ok(Pid::from_raw(pid as i32)),
    }
}
// ANCHOR_END: clone_into

// ANCHOR: start
/// The runner's half of the start-up: id maps, `setup`, then the go-ahead;
/// returns the terminal's master if the child sent one.
fn start(
    spec: &Spec,
    channel: &End,
    child: Pid,
    setup: &mut Setup<'_>,
    cmd: &str,
    rootfs: &Path,
) -> Result<Option<OwnedFd>, Error> {
    if namespaces::wanted(spec).contains(&LinuxNamespaceType::User) {
        namespaces::write_id_maps(child, spec)?;
    }
    setup(child).map_err(Error::Setup)?;
    channel
        .release_child()
        .map_err(Error::sys("tell the container to go on"))?;
    let mut master = None;
    loop {
        match channel
            .next_report()
            .map_err(Error::sys("read the container's report"))?
        {
            None => return Ok(master),
            Some((ToParent::PtyMaster, fd)) => master = fd,
            Some((ToParent::Failed(failure), _)) => return Err(failure.into_error(cmd, rootfs)),
            Some((ToParent::Init { .. }, _)) => {
                return Err(Error::sys("read the container's report")(Errno::EPROTO));
            }
        }
    }
}
// ANCHOR_END: start

/// A descriptor that becomes readable when `pid` ends (pidfd_open(2)), for
/// poll(2) beside other descriptors: a wait that never wakes on a timer. The
/// caller is the process's parent and the only one to reap it, so the pid
/// cannot be reused meanwhile. The engine's `exec` waits this way too.
pub fn pidfd_open(pid: Pid) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor (close-on-exec).
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if raw < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the descriptor was just created for us and nothing else owns it.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw as i32) })
}

/// Waits for the command to end, forwarding signals and (with a terminal)
/// copying bytes between the caller and the container's pty.
fn supervise(child: Pid, signals: &Signals, master: Option<OwnedFd>) -> Result<i32, Error> {
    let pidfd = match pidfd_open(child) {
        Ok(pidfd) => pidfd,
        Err(errno) => {
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
            return Err(Error::Sys {
                step: "pidfd_open(2)".into(),
                errno,
            });
        }
    };
    let _raw = master.as_ref().and_then(|_| tty::RawMode::enter());
    if let Some(master) = &master {
        tty::copy_size(master.as_fd());
    }
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut stdin_open = master.is_some();
    let mut status = None;
    while status.is_none() {
        let mut fds = vec![
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.fd(), PollFlags::POLLIN),
        ];
        if let Some(master) = &master {
            fds.push(PollFd::new(master.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (exited, master_ready, stdin_ready) = (ready(0), ready(2), ready(3));
        // Signals first: a resize must reach the container before the keys typed after it.
        while let Some(event) = signals.next() {
            match event {
                Event::Forward(sig) => crate::signals::forward(child, sig),
                Event::Resize => {
                    if let Some(master) = &master {
                        tty::copy_size(master.as_fd());
                    }
                }
            }
        }
        if let Some(master) = &master {
            if master_ready {
                tty::pump(master.as_fd(), stdout.as_fd());
            }
            if stdin_ready && !tty::pump(stdin.as_fd(), master.as_fd()) {
                stdin_open = false;
            }
        }
        if exited {
            status = reap(child);
        }
    }
    // The command is gone; print what it wrote before it went.
    if let Some(master) = &master {
        while tty::pump(master.as_fd(), stdout.as_fd()) {}
    }
    let code = status.unwrap_or_else(|| {
        // We can no longer watch it (poll(2) failed): do not leave it behind.
        let _ = kill(child, Signal::SIGKILL);
        waitpid(child, None)
            .ok()
            .and_then(exit::code_of)
            .unwrap_or(exit::ENGINE_ERROR)
    });
    explain!("waitpid(2): {child} ended, exit status {code}");
    Ok(code)
}

// ANCHOR: reap
/// The exit status of `child` if it has ended.
fn reap(child: Pid) -> Option<i32> {
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return None,
            Ok(status) => {
                if let Some(code) = exit::code_of(status) {
                    return Some(code);
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => return Some(exit::ENGINE_ERROR),
        }
    }
}
// ANCHOR_END: reap

/// What the child needs; borrowed from the runner's memory, which clone(2) copied.
struct Init<'a> {
    spec: &'a Spec,
    process: &'a Process,
    /// The runner's mount namespace, which the container must never pivot in.
    runner_mount_ns: u64,
    rootfs: &'a Path,
    /// The runner's /etc files, for those the spec does not mount.
    etc: Option<&'a Path>,
    /// Open cgroup v1 `tasks` files to move itself in through
    /// ([`CgroupEntry::MovesItself`]).
    cgroup_tasks: &'a [OwnedFd],
    filters: &'a [BpfProgram],
    signals: &'a Signals,
}

impl Init<'_> {
    /// The child's whole life: wait for the go-ahead, set up, exec. Returns
    /// only on failure (after reporting it), with the status to exit with.
    fn run(&self, channel: &End) -> isize {
        // If the runner dies, so does the container, rather than live on unsupervised.
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
        if !channel.wait_for_release() {
            return exit::ENGINE_ERROR as isize;
        }
        let Err(failure) = self.set_up_and_exec(channel);
        channel.report(failure);
        exit::ENGINE_ERROR as isize
    }

    // ANCHOR: set_up_and_exec
    fn set_up_and_exec(&self, channel: &End) -> Result<std::convert::Infallible, Failure> {
        // First, so that all it does from here on is counted and limited.
        join_cgroup(self.cgroup_tasks)?;
        let wanted = namespaces::wanted(self.spec);
        if wanted.contains(&LinuxNamespaceType::User) {
            namespaces::become_root_in_userns()?;
        }
        if wanted.contains(&LinuxNamespaceType::Cgroup) {
            namespaces::unshare_cgroup()?;
        }
        if let (true, Some(name)) = (
            wanted.contains(&LinuxNamespaceType::Uts),
            self.spec.hostname(),
        ) {
            namespaces::set_hostname(name)?;
        }
        if wanted.contains(&LinuxNamespaceType::Network) {
            namespaces::loopback_up().map_err(Failure::step("bring up lo (ioctl SIOCSIFFLAGS)"))?;
        }
        // A session of its own: the caller's terminal signals reach the runner
        // only, which forwards them.
        nix::unistd::setsid().map_err(Failure::step("setsid(2)"))?;
        if wanted.contains(&LinuxNamespaceType::Mount) {
            rootfs::enter(self.spec, self.rootfs, self.etc, self.runner_mount_ns)?;
        } else {
            explain!("no mount namespace in the spec: chroot(2) only"; "chroot {}", self.rootfs.display());
            nix::unistd::chroot(self.rootfs)
                .map_err(Failure::at("chroot(2)", self.rootfs.display()))?;
        }
        if self.process.terminal().unwrap_or(false) {
            tty::attach_in_container(channel)?;
        }

        hardening::restrict(self.process)?;
        let cwd = self.process.cwd();
        explain!("chdir(2) to the working directory"; "cd {}", cwd.display());
        nix::unistd::chdir(cwd)
            .map_err(Failure::at("chdir to the working directory", cwd.display()))?;

        let args = self.process.args().as_deref().unwrap_or_default();
        let env = self.process.env().as_deref().unwrap_or_default();
        let path = env
            .iter()
            .find_map(|kv| kv.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        let program = ch01_chroot::find_command(&args[0], path).ok_or(Failure::NotFound)?;
        let program = CString::new(program.as_os_str().as_bytes()).map_err(|_| Failure::Exec {
            errno: libc::EINVAL,
        })?;
        let argv: Vec<CString> = args
            .iter()
            .filter_map(|a| CString::new(a.as_str()).ok())
            .collect();
        let envp: Vec<CString> = env
            .iter()
            .filter_map(|e| CString::new(e.as_str()).ok())
            .collect();

        close_inherited_fds()?;
        self.signals
            .restore_in_child()
            .map_err(Failure::step("restore the signal mask and dispositions"))?;
        if !self.filters.is_empty() {
            seccomp::install(self.filters)?;
        }
        explain!("execve(2) {} as PID 1", program.to_string_lossy();
            "exec env -i {} {}", explain::shell_words(env), explain::shell_words(args));
        let Err(errno) = nix::unistd::execve(&program, &argv, &envp);
        Err(Failure::Exec {
            errno: errno as i32,
        })
    }
    // ANCHOR_END: set_up_and_exec
}

// ANCHOR: join_cgroup
/// Moves the init into its cgroup v1 hierarchies: `0` written into a
/// `tasks` file means "the thread writing", and the init has one thread
/// (Documentation/admin-guide/cgroup-v1/cgroups.rst, "Attaching processes").
/// The runner opened the files, and the kernel checks the credentials saved
/// at open(2), not ours (since Linux 5.16: "cgroup: Use open-time
/// credentials for process migraton perm checks").
fn join_cgroup(tasks: &[OwnedFd]) -> Result<(), Failure> {
    if tasks.is_empty() {
        return Ok(());
    }
    explain!("the child moves itself into its cgroup: no RCU grace period to wait for, as a move by the runner would";
        "echo 0 > /sys/fs/cgroup/CONTROLLER/PARENT/NAME/tasks (for each controller)");
    for file in tasks {
        nix::unistd::write(file, b"0")
            .map_err(Failure::step("join its cgroup (write 0 into tasks)"))?;
    }
    Ok(())
}
// ANCHOR_END: join_cgroup

// ANCHOR: close_inherited_fds
/// No descriptor of the runner may reach the command (runc's CVE-2024-21626 was
/// a leaked directory fd of the host): mark every fd from 3 up close-on-exec,
/// in case whoever started the runner left one open without the flag.
fn close_inherited_fds() -> Result<(), Failure> {
    // LAB: mark every descriptor from 3 up close-on-exec, so that none the runner inherited reaches the command: close_range(2) with CLOSE_RANGE_CLOEXEC (nix has no wrapper: libc::syscall(libc::SYS_close_range, ...)); report a failure with Failure::step
    explain!("close_range(2): mark every descriptor above 2 close-on-exec");
    // SAFETY: close_range(2) only changes descriptor flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r < 0 {
        return Err(Failure::step("close_range(2)")(Errno::last()));
    }
    Ok(())
    // LAB: END
}
// ANCHOR_END: close_inherited_fds

impl Failure {
    /// The runner's error for a failure the child reported.
    fn into_error(self, cmd: &str, rootfs: &Path) -> Error {
        let (cmd, rootfs) = (cmd.to_string(), rootfs.to_path_buf());
        match self {
            Failure::Step { step, on, errno } => Error::Child {
                step,
                on,
                reason: Errno::from_raw(errno).to_string(),
            },
            Failure::Caps { step, message } => Error::Child {
                step,
                on: None,
                reason: message,
            },
            Failure::NotFound => ch01_chroot::Error::NotFound { cmd, rootfs }.into(),
            Failure::Exec { errno } if errno == libc::ENOENT => ch01_chroot::Error::NoSuchFile {
                cmd,
                rootfs,
                hint: " (if the file exists, the interpreter it names is missing from the rootfs)",
            }
            .into(),
            Failure::Exec { errno } => ch01_chroot::Error::CannotInvoke {
                cmd,
                rootfs,
                errno: Errno::from_raw(errno),
            }
            .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_failures_become_docker_exit_codes() {
        let rootfs = Path::new("/r");
        let code = |f: Failure| f.into_error("x", rootfs).exit_code();
        assert_eq!(code(Failure::NotFound), 127);
        assert_eq!(
            code(Failure::Exec {
                errno: libc::EACCES
            }),
            126
        );
        assert_eq!(
            code(Failure::Exec {
                errno: libc::ENOENT
            }),
            127
        );
        assert_eq!(
            code(Failure::Step {
                step: "mount".into(),
                on: None,
                errno: 1
            }),
            125
        );
    }

    #[test]
    fn clone_flags_follow_the_spec() {
        let flags = crate::spec::RunFlags {
            args: vec!["sh".into()],
            ..Default::default()
        };
        let spec = crate::spec::build(&flags, Path::new("/nonexistent")).unwrap();
        let got = namespaces::clone_flags(&spec);
        assert!(got.contains(
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET
        ));
        assert!(
            !got.contains(CloneFlags::CLONE_NEWUSER) && !got.contains(CloneFlags::CLONE_NEWCGROUP)
        );
    }
}
