//! `-t`: a pseudo-terminal for the command, from the container's own devpts.
//!
//! The container's init opens /dev/ptmx *inside* the container (its devpts
//! instance, so the command sees /dev/pts/0), makes the slave its controlling
//! terminal and its stdin, stdout and stderr, and hands the master to the runner
//! over the channel. The runner then copies bytes between the caller and the
//! master, with the caller's terminal in raw mode (so keys such as Ctrl-C go to
//! the container's terminal, which turns them into signals there), restores it
//! afterwards, and passes size changes on (SIGWINCH -> TIOCSWINSZ).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use ch01_chroot::explain;
use nix::fcntl::OFlag;
use nix::pty::{Winsize, grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};

use crate::channel::{End, Failure};

nix::ioctl_read_bad!(get_winsize, libc::TIOCGWINSZ, Winsize);
nix::ioctl_write_ptr_bad!(set_winsize, libc::TIOCSWINSZ, Winsize);

// ANCHOR: attach_in_container
/// In the container, after pivot_root: makes a pty, sends the master to the runner
/// and makes the slave the controlling terminal and stdio of this process.
pub(crate) fn attach_in_container(channel: &End) -> Result<(), Failure> {
    explain!("open a pty from the container's /dev/pts; its master goes to the runner"; "script /dev/null");
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(Failure::at("open", "/dev/ptmx"))?;
    grantpt(&master).map_err(Failure::at("grantpt(3)", "/dev/ptmx"))?;
    unlockpt(&master).map_err(Failure::at("unlockpt(3)", "/dev/ptmx"))?;
    let name = ptsname_r(&master).map_err(Failure::at("ptsname(3)", "/dev/ptmx"))?;
    channel
        .send_pty_master(master.as_fd())
        .map_err(Failure::step("send the pty master to the runner"))?;
    drop(master);
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(Failure::at("open", &name))?;
    // SAFETY: TIOCSCTTY takes an int argument; we are a session leader without a terminal.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(Failure::at("ioctl(TIOCSCTTY)", &name)(
            nix::errno::Errno::last(),
        ));
    }
    for target in 0..=2 {
        // SAFETY: dup2 onto the standard descriptors; `slave` stays valid throughout.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(Failure::at("dup2(2)", &name)(nix::errno::Errno::last()));
        }
    }
    crate::devices::console(std::path::Path::new(&name))
}
// ANCHOR_END: attach_in_container

/// The caller's terminal in raw mode while it lives; restored on drop.
#[derive(Debug)]
pub(crate) struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts stdin in raw mode if it is a terminal.
    pub(crate) fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        explain!("put the caller's terminal in raw mode"; "stty raw -echo");
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        explain!("restore the caller's terminal"; "stty sane");
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// Copies the caller's terminal size (if stdin is one) to the container's:
/// at the start, and on each SIGWINCH. The kernel then signals the
/// container's foreground process group, so a shell or an editor redraws
/// (tty_ioctl(4), TIOCSWINSZ). The engine's `exec -t` uses it too.
pub fn copy_size(master: BorrowedFd<'_>) {
    let mut size = Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a Winsize into `size`; TIOCSWINSZ reads one.
    unsafe {
        if get_winsize(std::io::stdin().as_raw_fd(), &mut size).is_ok() {
            let _ = set_winsize(master.as_raw_fd(), &size);
        }
    }
}

/// Moves whatever is ready from `from` to `to`; `false` at end-of-file or error
/// (a pty master reads EIO once every slave is closed).
pub(crate) fn pump(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 8192];
    let n = match nix::unistd::read(from, &mut buf) {
        Ok(0) | Err(_) => return false,
        Ok(n) => n,
    };
    let mut rest = &buf[..n];
    while !rest.is_empty() {
        match nix::unistd::write(to, rest) {
            Ok(k) => rest = &rest[k..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
    true
}
