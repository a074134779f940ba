//! `exec`: runs a command in a running container. The new process joins the
//! container's namespaces and cgroup ([`enter`]), then takes the same
//! hardening as the container's PID 1 (chapter 02's [`hardening::apply`]:
//! limits, user, capabilities, `no_new_privs`; then the container's seccomp
//! filter) and execs; its exit status is `exec`'s. With `-it`, the detach
//! keys (Ctrl-P Ctrl-Q, or `--detach-keys`) leave it running, as docker's
//! `exec` does: the CLI prints `read escape sequence` and exits with 1.

pub mod enter;

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::Context;
use ch02_namespaces::hardening::{self, caps, seccomp};
use ch02_namespaces::spec::{self, RunFlags};
use ch04_overlayfs::store::Status;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::Process;
use seccompiler::BpfProgram;

use crate::cli::ExecArgs;
use crate::commands::lifecycle::not_running;
use crate::details::Runtime;
use crate::engine::{Engine, cgroup_of, init_pid};
use crate::terminal::{DetachWatch, RawMode, detach_watch, detached};

/// `exec`: returns the command's exit status (1 when the user detached).
pub fn exec(root: &Path, args: ExecArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let container = engine.container(&args.container)?;
    if container.state.status != Status::Running {
        return Err(not_running(&container));
    }
    if Runtime::load(&container)?.paused {
        anyhow::bail!(
            "Container {} is paused, unpause the container before exec",
            container.config.id
        );
    }
    // As dockerd's exec create: bad keys are refused before anything runs,
    // in its words for exec (attach's say "detach keys").
    let watch = detach_watch(args.detach_keys.as_deref()).map_err(|_| {
        let keys = args.detach_keys.as_deref().unwrap_or_default();
        anyhow::anyhow!("Invalid escape keys ({keys}) provided")
    })?;
    let pid = init_pid(&container).ok_or_else(|| not_running(&container))?;
    let spec = &container.config.spec;
    let process = process(spec, &args, pid)?;
    let filters = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(policy) => seccomp::compile(policy).context("compile the seccomp policy")?,
        None => Vec::new(),
    };
    let namespaces = enter::Namespaces::open(pid, spec)?;
    let cgroup = cgroup_of(&container)?;
    if args.detach {
        redirect_stdio_to_null()?;
    } else {
        ch02_namespaces::stdin_unless_interactive(args.interactive)?;
    }
    // Keys are watched only where docker's are: typed into a terminal.
    let (reported, detach) = match args.tty && args.interactive && !args.detach {
        true => {
            let (read, notify) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe2(2)")?;
            (Some(read), Some(Detach { watch, notify }))
        }
        false => (None, None),
    };
    // SAFETY: the child only makes system calls before it execs or exits;
    // the CLI is single-threaded here.
    match unsafe { nix::unistd::fork() }.context("fork(2)")? {
        ForkResult::Child => {
            drop(reported);
            let code = match child(&namespaces, &cgroup, &process, &filters, args.tty, detach) {
                Ok(code) => code,
                Err(err) => {
                    eprintln!("dockyard: {err:#}");
                    ch01_chroot::exit::ENGINE_ERROR
                }
            };
            // SAFETY: _exit(2) skips the destructors the parent owns.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            if args.detach {
                return Ok(0);
            }
            drop(detach);
            let raw = args.tty.then(RawMode::enter);
            if let Some(pipe) = reported
                && was_detached(&pipe)?
            {
                drop(raw);
                return Ok(detached());
            }
            wait(child)
        }
    }
}

/// The exec's process, as dockerd makes it from the container's own: the
/// command; the container's environment, then `--env-file`, then `-e` (a
/// later one wins); `-w` (else the container's); `-u` resolved in the
/// container's /etc/passwd (else the container's user); the container's
/// resource limits, capabilities and `no_new_privs`, except that
/// `--privileged` gives every capability (moby's `execSetPlatformOpt`; the
/// container's seccomp filter still applies, as runc's `exec` keeps it).
fn process(spec: &oci_spec::runtime::Spec, args: &ExecArgs, pid: Pid) -> anyhow::Result<Process> {
    let base = spec.process().clone().unwrap_or_default();
    let mut env = base.env().clone().unwrap_or_default();
    for file in &args.env_file {
        env.extend(spec::read_env_file(file)?);
    }
    env.extend(args.env.iter().cloned());
    let flags = RunFlags {
        args: args.command.clone(),
        env,
        hostname: spec.hostname().clone(),
        workdir: Some(
            args.workdir
                .clone()
                .unwrap_or_else(|| base.cwd().display().to_string()),
        ),
        user: args.user.clone(),
        tty: args.tty,
        ..RunFlags::default()
    };
    let built = spec::build(&flags, Path::new(&format!("/proc/{pid}/root")))?;
    let mut process = built.process().clone().unwrap_or_default();
    if args.user.is_none() {
        process.set_user(base.user().clone());
    }
    process.set_rlimits(base.rlimits().clone());
    process.set_capabilities(match args.privileged {
        true => Some(caps::for_flags(&[], &[], true)?),
        false => base.capabilities().clone(),
    });
    process.set_no_new_privileges(base.no_new_privileges());
    Ok(process)
}

// ANCHOR: child
/// In the forked child: join the container, fork into its PID namespace,
/// and wait for the command there; returns its status. With `-t`, the pty
/// is made here, inside the container's mount namespace (from its own
/// /dev/ptmx, so the command sees its terminal in /dev/pts), and this
/// process copies between it and our stdio; with `-i` too, it watches for
/// the detach keys ([`Detach`]).
fn child(
    namespaces: &enter::Namespaces,
    cgroup: &ch03_cgroups::Cgroup,
    process: &Process,
    filters: &[BpfProgram],
    tty: bool,
    detach: Option<Detach>,
) -> anyhow::Result<i32> {
    enter::join_cgroup(cgroup)?;
    namespaces.join()?;
    let pty = match tty {
        true => {
            let pty = nix::pty::openpty(None, None).context("openpty(3)")?;
            // The command gets the slave only: with the master too, its
            // terminal would never hang up, whoever held the other end.
            nix::fcntl::fcntl(
                &pty.master,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .context("fcntl(FD_CLOEXEC) on the pty master")?;
            // Our stdin is the caller's terminal: the command starts with its size.
            ch02_namespaces::tty::copy_size(pty.master.as_fd());
            Some(pty)
        }
        false => None,
    };
    match enter::fork_into_pid_namespace()? {
        ForkResult::Child => {
            let err = run_command(process, filters, pty.as_ref());
            let code = match err.downcast_ref::<ch01_chroot::Error>() {
                Some(err) => err.exit_code(),
                None => ch01_chroot::exit::ENGINE_ERROR,
            };
            eprintln!("dockyard: {err:#}");
            // SAFETY: as above.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => match pty {
            Some(pty) => {
                drop(pty.slave);
                copy_terminal(child, &pty.master, detach)
            }
            None => wait(child),
        },
    }
}
// ANCHOR_END: child

/// The grandchild, inside the container: its terminal, the container's
/// hardening (chapter 02's, in chapter 02's order: working directory after
/// the user switch, seccomp last), then execve(2). Returns only on failure.
fn run_command(
    process: &Process,
    filters: &[BpfProgram],
    pty: Option<&nix::pty::OpenptyResult>,
) -> anyhow::Error {
    let setup = || -> anyhow::Result<std::convert::Infallible> {
        if let Some(pty) = pty {
            nix::unistd::setsid().context("setsid(2)")?;
            // SAFETY: TIOCSCTTY takes an int argument.
            if unsafe { libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
                return Err(std::io::Error::last_os_error()).context("ioctl(TIOCSCTTY)");
            }
            for target in 0..=2 {
                // SAFETY: dup2(2) onto a standard descriptor.
                unsafe { libc::dup2(pty.slave.as_raw_fd(), target) };
            }
        }
        let args = process.args().clone().unwrap_or_default();
        let env = process.env().clone().unwrap_or_default();
        let path = env
            .iter()
            .find_map(|kv| kv.strip_prefix("PATH="))
            .unwrap_or(ch01_chroot::DEFAULT_PATH);
        let program = ch01_chroot::find_command(&args[0], path).ok_or_else(|| {
            ch01_chroot::Error::NotFound {
                cmd: args[0].clone(),
                rootfs: "/".into(),
            }
        })?;
        hardening::apply(process)?;
        let cwd = process.cwd();
        ch01_chroot::explain!("chdir(2) to the working directory"; "cd {}", cwd.display());
        nix::unistd::chdir(cwd).with_context(|| format!("chdir to {}", cwd.display()))?;
        // Forked from this CLI, which ignores SIGPIPE (Rust's runtime) and
        // whatever its own caller ignored: none of that is the command's.
        ch02_namespaces::signals::default_dispositions().context("reset signal dispositions")?;
        hardening::seccomp::apply(filters)?;
        let cstrings = |list: &[String]| -> Vec<CString> {
            list.iter()
                .filter_map(|s| CString::new(s.as_str()).ok())
                .collect()
        };
        let program = CString::new(program.as_os_str().as_encoded_bytes())?;
        let errno = nix::unistd::execve(&program, &cstrings(&args), &cstrings(&env)).unwrap_err();
        Err(ch01_chroot::Error::CannotInvoke {
            cmd: args[0].clone(),
            rootfs: "/".into(),
            errno,
        }
        .into())
    };
    match setup() {
        Err(err) => err,
    }
}

/// Waits for `child` and returns docker's status for how it ended.
fn wait(child: Pid) -> anyhow::Result<i32> {
    loop {
        match waitpid(child, None) {
            Ok(status) => {
                if let Some(code) = ch01_chroot::exit::code_of(status) {
                    return Ok(code);
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(err) => return Err(err).context("waitpid(2)"),
        }
    }
}

/// `-it`'s detach keys, watched by the process that copies the terminal.
/// When they are typed, it stops copying (its stdio goes to /dev/null, and
/// what the command writes is read and dropped, so it never blocks), tells
/// the CLI on `notify`, and stays, holding the pty, until the command ends,
/// as containerd's shim holds a detached exec's: the CLI exits, the command
/// goes on.
#[derive(Debug)]
struct Detach {
    watch: DetachWatch,
    notify: OwnedFd,
}

/// Whether the copying process reports a detach (a byte on the pipe)
/// rather than its end (end-of-file).
fn was_detached(pipe: &OwnedFd) -> anyhow::Result<bool> {
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(pipe, &mut byte) {
            Ok(n) => return Ok(n == 1),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(err) => return Err(err).context("read(2) of the detach pipe"),
        }
    }
}

/// `-t`: bytes copied both ways between our stdio and the pty until the
/// command ends, or until the user detaches (see [`Detach`]); the caller's
/// terminal size follows it on SIGWINCH, as chapter 02's runner passes it on.
fn copy_terminal(child: Pid, master: &OwnedFd, mut detach: Option<Detach>) -> anyhow::Result<i32> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut buf = [0u8; 4096];
    let mut stdin_open = true;
    // Blocked here, after the command was forked (it must not inherit the
    // mask), and read from a signalfd(2) in the same poll(2).
    let mut winch = SigSet::empty();
    winch.add(Signal::SIGWINCH);
    winch.thread_block().context("block SIGWINCH")?;
    let resized = SignalFd::with_flags(&winch, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("signalfd(2) for SIGWINCH")?;
    // No timer: a detached exec's copier may wait as long as its command
    // lives, and wakes only when there is something to do.
    let ended = ch02_namespaces::pidfd_open(child).context("pidfd_open(2)")?;
    let mut master_open = true;
    let code = loop {
        let mut fds = vec![
            PollFd::new(ended.as_fd(), PollFlags::POLLIN),
            PollFd::new(resized.as_fd(), PollFlags::POLLIN),
        ];
        // Where the master and stdin sit in `fds`, while they are watched.
        let master_at = master_open.then(|| {
            fds.push(PollFd::new(master.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let stdin_at = stdin_open.then(|| {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(err) => return Err(err).context("poll(2) in exec's copier"),
        }
        let ready = |at: Option<usize>| {
            at.and_then(|i| fds[i].revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (exited, resize) = (ready(Some(0)), ready(Some(1)));
        let (from_master, from_stdin) = (ready(master_at), ready(stdin_at));
        drop(fds);
        if exited
            && let Ok(status) = waitpid(child, None)
            && let Some(code) = ch01_chroot::exit::code_of(status)
        {
            break code;
        }
        if resize {
            while let Ok(Some(_)) = resized.read_signal() {}
            // A no-op once detached: our stdin is /dev/null then.
            ch02_namespaces::tty::copy_size(master.as_fd());
        }
        if from_master {
            match nix::unistd::read(master, &mut buf) {
                Ok(n @ 1..) => {
                    let _ = nix::unistd::write(&stdout, &buf[..n]);
                }
                // No slave open any more (EIO, pty(7)): the end is the pidfd's to say.
                _ => master_open = false,
            }
        }
        if from_stdin {
            match nix::unistd::read(&stdin, &mut buf) {
                Ok(n @ 1..) => {
                    let (pass, detached) = match detach.as_mut() {
                        Some(detach) => detach.watch.feed(&buf[..n]),
                        None => (buf[..n].to_vec(), false),
                    };
                    let _ = nix::unistd::write(master, &pass);
                    if detached && let Some(detach) = detach.take() {
                        redirect_stdio_to_null()?;
                        // Out of the user's session: closing that terminal
                        // (SIGHUP to its foreground group) must not end us,
                        // or the command's pty would lose its reader.
                        nix::unistd::setsid().context("setsid(2) after a detach")?;
                        stdin_open = false;
                        nix::unistd::write(&detach.notify, &[1]).context("write(2) a detach")?;
                    }
                }
                _ => stdin_open = false,
            }
        }
    };
    // What the command wrote before it ended (the slave is closed: a read
    // ends with EIO once all is read).
    while let Ok(n @ 1..) = nix::unistd::read(master, &mut buf) {
        let _ = nix::unistd::write(&stdout, &buf[..n]);
    }
    Ok(code)
}

/// `exec -d`: the command's stdio goes nowhere, as docker's does.
fn redirect_stdio_to_null() -> anyhow::Result<()> {
    let null = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context("open /dev/null")?;
    nix::unistd::dup2_stdin(&null).context("dup2(2)")?;
    nix::unistd::dup2_stdout(&null).context("dup2(2)")?;
    nix::unistd::dup2_stderr(&null).context("dup2(2)")?;
    Ok(())
}
