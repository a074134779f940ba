//! Fork, chroot, exec, wait: a command inside a root filesystem.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{self, ForkResult, Pid};

use crate::{exit, explain};

/// `PATH` inside the container when the image sets none: the same default as docker's.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to run, and where.
#[derive(Debug, Clone)]
pub struct Run {
    /// The directory that becomes `/` for the command.
    pub rootfs: PathBuf,
    /// The command and its arguments; `argv[0]` is looked up in `PATH` inside the rootfs.
    pub argv: Vec<String>,
    /// The command's whole environment, as `KEY=VALUE`.
    pub env: Vec<String>,
}

/// Why a command could not be run. [`Error::exit_code`] says how to exit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("rootfs {0}: no such directory")]
    RootfsMissing(PathBuf),
    #[error("rootfs {0} is not a directory")]
    RootfsNotDirectory(PathBuf),
    #[error("must be run as root: chroot(2) needs CAP_SYS_CHROOT (try again with sudo)")]
    NotRoot,
    #[error("no command given")]
    NoCommand,
    #[error("exec {cmd:?} in rootfs {rootfs}: executable file not found in $PATH")]
    NotFound { cmd: String, rootfs: PathBuf },
    #[error("exec {cmd:?} in rootfs {rootfs}: no such file or directory{hint}")]
    NoSuchFile {
        cmd: String,
        rootfs: PathBuf,
        hint: &'static str,
    },
    #[error("exec {cmd:?} in rootfs {rootfs}: {errno}")]
    CannotInvoke {
        cmd: String,
        rootfs: PathBuf,
        errno: Errno,
    },
    #[error("{call} in rootfs {rootfs}: {errno}")]
    Syscall {
        call: &'static str,
        rootfs: PathBuf,
        errno: Errno,
    },
}

impl Error {
    /// The exit status docker would give for this error (125, 126 or 127).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NotFound { .. } | Error::NoSuchFile { .. } => exit::NOT_FOUND,
            Error::CannotInvoke { .. } => exit::CANNOT_INVOKE,
            _ => exit::ENGINE_ERROR,
        }
    }
}

/// The environment a command gets when the caller sets none: `PATH`, `HOME`,
/// and `TERM` passed on from the host so a terminal keeps working.
pub fn default_env() -> Vec<String> {
    let mut env = vec![format!("PATH={DEFAULT_PATH}"), "HOME=/root".to_string()];
    if let Ok(term) = std::env::var("TERM") {
        env.push(format!("TERM={term}"));
    }
    env
}

/// Runs `run.argv` inside `run.rootfs` and returns its exit status
/// (128+N if signal N killed it).
pub fn run(run: &Run) -> Result<i32, Error> {
    check_rootfs(&run.rootfs)?;
    if !unistd::geteuid().is_root() {
        return Err(Error::NotRoot);
    }
    let cmd = run.argv.first().ok_or(Error::NoCommand)?;

    // The child tells the parent why it failed over this pipe. Both ends are
    // close-on-exec: when execve(2) succeeds the kernel closes the write end,
    // so the parent reads end-of-file and knows the command is running.
    let (report_rx, report_tx) =
        unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|errno| Error::Syscall {
            call: "pipe2(2)",
            rootfs: run.rootfs.clone(),
            errno,
        })?;

    // Like system(3): while the command runs, Ctrl-C and Ctrl-\ are for it, not
    // for us, so we live to report its status (130 for SIGINT).
    ignore_terminal_signals(true);
    explain!("fork(2) a child to become {cmd:?}");
    // SAFETY: this program is single-threaded, so the child may allocate and
    // print freely before it execs.
    let fork = unsafe { unistd::fork() };
    match fork {
        Ok(ForkResult::Child) => {
            drop(report_rx);
            let failure = enter_and_exec(run);
            let _ = unistd::write(&report_tx, &failure.encode());
            // SAFETY: _exit(2) is always safe; it skips the parent's atexit handlers.
            unsafe { nix::libc::_exit(exit::ENGINE_ERROR) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(report_tx);
            let mut buf = [0u8; 8];
            let n = read_full(&report_rx, &mut buf);
            let status = wait_for(child);
            ignore_terminal_signals(false);
            match n {
                0 => Ok(status),
                _ => Err(Failure::decode(buf).into_error(cmd, &run.rootfs)),
            }
        }
        Err(errno) => {
            ignore_terminal_signals(false);
            Err(Error::Syscall {
                call: "fork(2)",
                rootfs: run.rootfs.clone(),
                errno,
            })
        }
    }
}

/// Refuses a rootfs that is missing or not a directory, before anything is forked.
fn check_rootfs(rootfs: &Path) -> Result<(), Error> {
    match std::fs::metadata(rootfs) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(Error::RootfsNotDirectory(rootfs.to_path_buf())),
        Err(_) => Err(Error::RootfsMissing(rootfs.to_path_buf())),
    }
}

/// In the child: enter the rootfs, find the command, exec it. Returns only on failure.
fn enter_and_exec(run: &Run) -> Failure {
    if let Err(failure) = enter_rootfs(&run.rootfs) {
        return failure;
    }
    let path_var = run.env.iter().find_map(|kv| kv.strip_prefix("PATH="));
    let Some(program) = find_command(&run.argv[0], path_var.unwrap_or(DEFAULT_PATH)) else {
        return Failure::NotFound;
    };
    explain!("execve(2) {} with a fresh environment", program.display();
        "exec env -i {} {}", explain::shell_words(&run.env), explain::shell_words(&run.argv));
    let Ok(program) = CString::new(program.as_os_str().as_bytes()) else {
        return Failure::Exec(Errno::EINVAL);
    };
    let argv: Vec<CString> = run
        .argv
        .iter()
        .filter_map(|a| CString::new(a.as_str()).ok())
        .collect();
    let env: Vec<CString> = run
        .env
        .iter()
        .filter_map(|e| CString::new(e.as_str()).ok())
        .collect();
    // Ignored signals stay ignored across execve(2) (signal(7)): give the command the
    // defaults. Besides our SIGINT and SIGQUIT, that includes SIGPIPE, which the Rust
    // runtime ignores at start-up; left ignored, `yes | head -1` would print
    // "Broken pipe" errors instead of `yes` quietly dying of SIGPIPE.
    ignore_terminal_signals(false);
    // SAFETY: SIG_DFL is not a function, so no handler can run unsafely.
    let _ = unsafe { signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    let Err(errno) = unistd::execve(&program, &argv, &env);
    Failure::Exec(errno)
}

// ANCHOR: enter_rootfs
/// Makes `rootfs` the process's `/` and moves into it.
fn enter_rootfs(rootfs: &Path) -> Result<(), Failure> {
    // LAB: chroot(2) into the rootfs, then chdir(2) to "/": chroot changes what "/" means but not the current directory, which would stay outside
    explain!("chroot(2) into {}", rootfs.display(); "chroot {}", rootfs.display());
    unistd::chroot(rootfs).map_err(Failure::Chroot)?;
    explain!("chdir(2) to / inside it"; "cd /");
    unistd::chdir("/").map_err(Failure::Chdir)?;
    Ok(())
    // LAB: END
}
// ANCHOR_END: enter_rootfs

// ANCHOR: find_command
/// Finds `cmd` the way a shell does, but inside the new root: a name with a `/`
/// is used as it is, a bare name is looked up in each directory of `path`.
/// Called after chroot(2), so every path here is inside the container. `None`
/// when no directory of `path` has it (exit 127).
pub fn find_command(cmd: &str, path: &str) -> Option<PathBuf> {
    // LAB: a name containing '/' is used as given; otherwise try each directory of `path` in order and return the first regular file with an execute bit, or None when there is none
    if cmd.contains('/') {
        return Some(PathBuf::from(cmd));
    }
    path.split(':')
        .map(|dir| Path::new(dir).join(cmd))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
    // LAB: END
}
// ANCHOR_END: find_command

/// Waits for the child and turns how it ended into an exit status.
fn wait_for(child: Pid) -> i32 {
    loop {
        match waitpid(child, None) {
            Ok(status) => {
                if let Some(code) = exit::code_of(status) {
                    explain!("waitpid(2): {child} ended, exit status {code}");
                    return code;
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => return exit::ENGINE_ERROR,
        }
    }
}

fn ignore_terminal_signals(ignore: bool) {
    let handler = if ignore {
        SigHandler::SigIgn
    } else {
        SigHandler::SigDfl
    };
    for sig in [Signal::SIGINT, Signal::SIGQUIT] {
        // SAFETY: SIG_IGN and SIG_DFL are not functions, so no handler can run unsafely.
        let _ = unsafe { signal::signal(sig, handler) };
    }
}

fn read_full(fd: &std::os::fd::OwnedFd, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match unistd::read(fd, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    n
}

/// What went wrong in the child, small enough to cross the pipe as 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Failure {
    Chroot(Errno),
    Chdir(Errno),
    NotFound,
    Exec(Errno),
}

impl Failure {
    fn encode(self) -> [u8; 8] {
        let (tag, errno) = match self {
            Failure::Chroot(e) => (1i32, e as i32),
            Failure::Chdir(e) => (2, e as i32),
            Failure::NotFound => (3, 0),
            Failure::Exec(e) => (4, e as i32),
        };
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&tag.to_ne_bytes());
        out[4..].copy_from_slice(&errno.to_ne_bytes());
        out
    }

    fn decode(buf: [u8; 8]) -> Failure {
        let tag = i32::from_ne_bytes(buf[..4].try_into().expect("4 bytes"));
        let errno = Errno::from_raw(i32::from_ne_bytes(buf[4..].try_into().expect("4 bytes")));
        match tag {
            1 => Failure::Chroot(errno),
            2 => Failure::Chdir(errno),
            3 => Failure::NotFound,
            _ => Failure::Exec(errno),
        }
    }

    fn into_error(self, cmd: &str, rootfs: &Path) -> Error {
        let (cmd, rootfs) = (cmd.to_string(), rootfs.to_path_buf());
        match self {
            Failure::Chroot(errno) => Error::Syscall {
                call: "chroot(2)",
                rootfs,
                errno,
            },
            Failure::Chdir(errno) => Error::Syscall {
                call: "chdir(2)",
                rootfs,
                errno,
            },
            Failure::NotFound => Error::NotFound { cmd, rootfs },
            // ENOENT from execve(2) for a file that exists means its interpreter
            // (#! line or ELF dynamic loader) is missing: a classic chroot puzzle.
            Failure::Exec(Errno::ENOENT) => Error::NoSuchFile {
                cmd,
                rootfs,
                hint: " (if the file exists, the interpreter it names, a #! line or the dynamic loader, is missing from the rootfs)",
            },
            Failure::Exec(errno) => Error::CannotInvoke { cmd, rootfs, errno },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_cross_the_pipe_intact() {
        for failure in [
            Failure::Chroot(Errno::EPERM),
            Failure::Chdir(Errno::ENOENT),
            Failure::NotFound,
            Failure::Exec(Errno::EACCES),
        ] {
            assert_eq!(Failure::decode(failure.encode()), failure);
        }
    }

    #[test]
    fn exit_codes_follow_docker() {
        let rootfs = PathBuf::from("/r");
        let code = |f: Failure| f.into_error("x", &rootfs).exit_code();
        assert_eq!(code(Failure::NotFound), 127);
        assert_eq!(code(Failure::Exec(Errno::ENOENT)), 127);
        assert_eq!(code(Failure::Exec(Errno::EACCES)), 126);
        assert_eq!(code(Failure::Chroot(Errno::EPERM)), 125);
        assert_eq!(Error::RootfsMissing(rootfs).exit_code(), 125);
    }

    #[test]
    fn find_command_searches_path_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("tool"), "").unwrap(); // not executable: skipped
        std::fs::write(b.join("tool"), "").unwrap();
        std::fs::set_permissions(b.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", a.display(), b.display());
        assert_eq!(find_command("tool", &path), Some(b.join("tool")));
        assert_eq!(find_command("missing", &path), None);
        assert_eq!(
            find_command("./rel/tool", &path),
            Some(PathBuf::from("./rel/tool"))
        );
    }
}
