//! `attach`: our terminal to a running container's stdio, through its
//! supervisor's attach socket; the detach keys leave it running.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::Path;

use ch04_overlayfs::store::{Container, Status};
use dockyard_shim::supervise::{self, AttachOptions};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::cli::AttachArgs;
use crate::commands::lifecycle::exit_status;
use crate::details::HostConfig;
use crate::engine::Engine;
use crate::signals;
use crate::supervisor::supervisor_dir;
use crate::terminal::{DetachWatch, RawMode, detach_watch, detached};

/// `attach`: returns the container's exit status when it ends, docker's 1
/// (after `read escape sequence`) when the user detached.
pub fn attach(root: &Path, args: AttachArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let container = engine.container(&args.container)?;
    if container.state.status != Status::Running {
        anyhow::bail!("You cannot attach to a stopped container, start it first");
    }
    // As docker's CLI: without a terminal (which carries Ctrl-C itself).
    if args.sig_proxy && !is_tty(&container) {
        signals::proxy(&container)?;
    }
    let code = session(
        &engine,
        &container,
        args.detach_keys.as_deref(),
        !args.no_stdin,
        false,
        None,
        None,
    )?;
    Ok(code.unwrap_or_else(detached))
}

/// Attaches our stdio to the container's (stdin only if `stdin` and the
/// container keeps it open) until its run ends (its exit status) or the
/// detach keys are typed (`None`, the container goes on). `just_started`:
/// the caller started the container a moment ago (`run`, `start -a`), so
/// with `-t` we are shown first what it printed before we attached
/// ([`AttachOptions::replay`]). `exit`: the caller's watch on the exit
/// status, if it took one before the start (`run --rm` holds the output
/// with it); else one is opened here. `finisher`: the caller's, if it
/// will record the run's end itself (see [`exit_status`]).
pub fn session(
    engine: &Engine,
    container: &Container,
    keys: Option<&str>,
    stdin: bool,
    just_started: bool,
    exit: Option<&supervise::ExitWatch>,
    finisher: Option<supervise::Finisher>,
) -> anyhow::Result<Option<i32>> {
    let watch = detach_watch(keys)?;
    let tty = is_tty(container);
    let send_stdin = stdin && HostConfig::load(container)?.open_stdin;
    let dir = supervisor_dir(container);
    let opened;
    let exit = match exit {
        Some(exit) => Some(exit),
        None => {
            opened = supervise::ExitWatch::open(&dir);
            opened.as_ref()
        }
    };
    let options = AttachOptions {
        stdin: send_stdin,
        stdout: true,
        stderr: true,
        replay: just_started,
    };
    let mut socket = match supervise::attach(&dir, options) {
        Ok(socket) => socket,
        // The run ended as we came (a command that quick).
        Err(supervise::Error::Gone(_)) => return from_the_log(engine, container, exit, finisher),
        Err(err) => return Err(err.into()),
    };
    let raw = tty.then(RawMode::enter).flatten();
    if let Some(size) = raw.as_ref().and_then(|_| window_size()) {
        let _ = supervise::resize(&dir, size);
    }
    let end = copy(&mut socket, send_stdin, tty, watch)?;
    drop(raw);
    match end {
        End::Detached => Ok(None),
        End::Over => Ok(Some(exit_status(engine, container, exit, finisher)?)),
        End::HungUp => from_the_log(engine, container, exit, finisher),
    }
}

/// For a run the supervisor ended before it took us on: what it printed,
/// all in its log, and its exit status.
fn from_the_log(
    engine: &Engine,
    container: &Container,
    exit: Option<&supervise::ExitWatch>,
    finisher: Option<supervise::Finisher>,
) -> anyhow::Result<Option<i32>> {
    let since = container
        .state
        .started_at
        .map(|secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
    // With -t the log holds the pty's bytes (`\r\n` already): shown as
    // an attached session shows them, through a terminal in raw mode.
    let raw = is_tty(container).then(RawMode::enter).flatten();
    crate::commands::logs::follow_run(container, since, (true, true))?;
    drop(raw);
    Ok(Some(exit_status(engine, container, exit, finisher)?))
}

/// `run -i` without a terminal: our stdin goes to the container (its
/// output is read from its log), from a thread; our end-of-file closes its
/// stdin (docker's `StdinOnce`).
pub fn forward_stdin(container: &Container) -> anyhow::Result<()> {
    let options = AttachOptions {
        stdin: true,
        stdout: false,
        stderr: false,
        replay: false,
    };
    let mut socket = match supervise::attach(&supervisor_dir(container), options) {
        Ok(socket) => socket,
        // The run is over already: there is no stdin left to feed.
        Err(supervise::Error::Gone(_)) => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut socket);
            let _ = socket.shutdown(std::net::Shutdown::Write);
        })?;
    Ok(())
}

/// Whether the container runs with a terminal (`-t`).
pub fn is_tty(container: &Container) -> bool {
    container
        .config
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false)
}

/// Our terminal's size (TIOCGWINSZ on stdin).
fn window_size() -> Option<supervise::WindowSize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize into the struct we pass.
    let ok = unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_row > 0).then_some(supervise::WindowSize {
        rows: size.ws_row,
        cols: size.ws_col,
    })
}

/// How an attached session ended.
enum End {
    /// The user typed the detach keys: the container goes on.
    Detached,
    /// The run ended (the supervisor closed the socket).
    Over,
    /// The supervisor let go of us before it sent anything: the run ended
    /// as we came, with our hello still unread (unix(7) reports that as a
    /// reset, once everything sent to us is read).
    HungUp,
}

/// Copies stdin to the socket (watching for the detach keys) and the
/// socket's output to stdout/stderr (raw with a tty, docker's frames
/// otherwise) until the run ends or the user detaches.
fn copy(
    socket: &mut std::os::unix::net::UnixStream,
    mut stdin_open: bool,
    tty: bool,
    mut watch: DetachWatch,
) -> anyhow::Result<End> {
    let mut received = false;
    let stdin = std::io::stdin();
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let mut pending = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = vec![PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        poll(&mut fds, PollTimeout::NONE)?;
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (from_socket, from_stdin) = (ready(0), ready(1));
        if from_stdin {
            match nix::unistd::read(&stdin, &mut buf) {
                Ok(n @ 1..) => {
                    let (pass, detach) = watch.feed(&buf[..n]);
                    if detach {
                        let _ = socket.write_all(&pass);
                        return Ok(End::Detached);
                    }
                    // A supervisor that has let go takes no more input;
                    // what it sent is still to be read.
                    if socket.write_all(&pass).is_err() {
                        stdin_open = false;
                    }
                }
                _ => {
                    stdin_open = false;
                    let _ = socket.shutdown(std::net::Shutdown::Write);
                }
            }
        }
        if from_socket {
            let n = match socket.read(&mut buf) {
                Ok(0) => return Ok(End::Over),
                Ok(n) => n,
                Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Ok(if received { End::Over } else { End::HungUp });
                }
                Err(err) => return Err(err.into()),
            };
            received = true;
            if tty {
                stdout.write_all(&buf[..n])?;
                stdout.flush()?;
                continue;
            }
            pending.extend_from_slice(&buf[..n]);
            // Whole frames: [stream, 0, 0, 0, size u32 BE] + payload.
            while pending.len() >= 8 {
                let len = u32::from_be_bytes([pending[4], pending[5], pending[6], pending[7]]);
                let end = 8 + len as usize;
                if pending.len() < end {
                    break;
                }
                let out: &mut dyn Write = match pending[0] {
                    2 => &mut stderr,
                    _ => &mut stdout,
                };
                out.write_all(&pending[8..end])?;
                out.flush()?;
                pending.drain(..end);
            }
        }
    }
}
