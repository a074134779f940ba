//! A typed channel between the runner and the container's first process.
//!
//! Chapter 01's child reported a failure as 8 bytes on a close-on-exec pipe. Here
//! the conversation has more turns, so it becomes a socketpair (`SOCK_SEQPACKET`:
//! one message per send, never merged or split) carrying small JSON messages and,
//! once, a file descriptor (the terminal's master side, passed with `SCM_RIGHTS`):
//!
//! 0. helper -> runner: [`ToParent::Init`], the host pid of the container's init
//!    (see [`run_with`](crate::run_with) for why a short-lived helper makes it);
//! 1. runner -> child: [`ToChild::Go`] once id maps and the `setup` hook are done;
//! 2. child -> runner: [`ToParent::PtyMaster`] (with the fd) when there is a terminal;
//! 3. child -> runner: [`ToParent::Failed`] if a step fails, or nothing: both ends are
//!    close-on-exec, so a successful execve(2) closes the child's end and the runner
//!    reads end-of-file, exactly chapter 01's trick.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use serde::{Deserialize, Serialize};

// ANCHOR: to_child
/// Messages from the runner to the container's init.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(crate) enum ToChild {
    /// The runner has finished its side (id maps, cgroups): go on.
    Go,
}
// ANCHOR_END: to_child

// ANCHOR: to_parent
/// Messages from the container's init to the runner.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(crate) enum ToParent {
    /// The container's init exists, with this host pid.
    Init { pid: i32 },
    /// The master side of the container's terminal travels with this message.
    PtyMaster,
    /// A step failed; the child exits after sending this.
    Failed(Failure),
}
// ANCHOR_END: to_parent

/// What went wrong inside the container before the command started.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, thiserror::Error)]
pub(crate) enum Failure {
    /// A set-up step failed: what it was, on what, and the kernel's answer.
    #[error("{step}{}: {}", on.as_ref().map(|p| format!(" {p}")).unwrap_or_default(), Errno::from_raw(*errno))]
    Step {
        step: String,
        on: Option<String>,
        errno: i32,
    },
    /// The capability library refused (it reports text, not an errno).
    #[error("{step}: {message}")]
    Caps { step: String, message: String },
    /// The command is not in `PATH` inside the rootfs.
    #[error("executable file not found in $PATH")]
    NotFound,
    /// execve(2) itself failed.
    #[error("execve(2): {}", Errno::from_raw(*errno))]
    Exec { errno: i32 },
}

impl Failure {
    /// A closure for `map_err` that records which step failed on what.
    pub(crate) fn at(step: &str, on: impl std::fmt::Display) -> impl FnOnce(Errno) -> Failure {
        let (step, on) = (step.to_string(), on.to_string());
        move |errno| Failure::Step {
            step,
            on: Some(on),
            errno: errno as i32,
        }
    }

    /// Like [`Failure::at`] for a step that is not about a path.
    pub(crate) fn step(step: &str) -> impl FnOnce(Errno) -> Failure {
        let step = step.to_string();
        move |errno| Failure::Step {
            step,
            on: None,
            errno: errno as i32,
        }
    }
}

/// Largest message; ours are a few hundred bytes.
const MAX_MESSAGE: usize = 4096;

/// One end of the channel.
#[derive(Debug)]
pub(crate) struct End(OwnedFd);

/// Makes the two connected ends, both close-on-exec.
pub(crate) fn pair() -> Result<(End, End), Errno> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((End(a), End(b)))
}

impl End {
    fn send<T: Serialize>(&self, msg: &T, fd: Option<BorrowedFd<'_>>) -> Result<(), Errno> {
        let bytes = serde_json::to_vec(msg).expect("channel messages serialize");
        let fds: Vec<RawFd> = fd.iter().map(|fd| fd.as_raw_fd()).collect();
        let cmsgs: Vec<ControlMessage<'_>> = if fds.is_empty() {
            vec![]
        } else {
            vec![ControlMessage::ScmRights(&fds)]
        };
        loop {
            match sendmsg::<()>(
                self.0.as_raw_fd(),
                &[IoSlice::new(&bytes)],
                &cmsgs,
                MsgFlags::empty(),
                None,
            ) {
                Err(Errno::EINTR) => continue,
                other => return other.map(drop),
            }
        }
    }

    /// Receives one message, with the fd that came with it; `None` at end-of-file.
    fn recv<T: for<'de> Deserialize<'de>>(&self) -> Result<Option<(T, Option<OwnedFd>)>, Errno> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let (len, fd) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.0.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(errno),
                Ok(msg) => {
                    let fd = msg
                        .cmsgs()
                        .map_err(|_| Errno::EBADMSG)?
                        .find_map(|c| match c {
                            // SAFETY: the kernel just installed this descriptor for us; nothing else owns it.
                            ControlMessageOwned::ScmRights(fds) => {
                                fds.first().map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) })
                            }
                            _ => None,
                        });
                    break (msg.bytes, fd);
                }
            }
        };
        if len == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..len])
            .map(|msg| Some((msg, fd)))
            .map_err(|_| Errno::EBADMSG)
    }

    // --- the runner's side ---

    /// Tells the child that the runner's set-up is done.
    pub(crate) fn release_child(&self) -> Result<(), Errno> {
        self.send(&ToChild::Go, None)
    }

    /// Waits for the child's next word: the terminal's master, a failure, or
    /// `None` when execve(2) succeeded (or the child died without a word).
    pub(crate) fn next_report(&self) -> Result<Option<(ToParent, Option<OwnedFd>)>, Errno> {
        self.recv()
    }

    /// Waits for the helper to report the init's pid (or why it could not make it).
    pub(crate) fn wait_for_init(&self) -> Result<Result<i32, Failure>, Errno> {
        match self.recv()? {
            Some((ToParent::Init { pid }, _)) => Ok(Ok(pid)),
            Some((ToParent::Failed(failure), _)) => Ok(Err(failure)),
            _ => Err(Errno::EPROTO),
        }
    }

    // --- the child's side ---

    /// In the helper: tells the runner the pid of the init it made.
    pub(crate) fn send_init_pid(&self, pid: i32) -> Result<(), Errno> {
        self.send(&ToParent::Init { pid }, None)
    }

    /// In the child: closes its inherited copy of the runner's end, so that if the
    /// runner dies, the child's wait for its word ends at end-of-file.
    pub(crate) fn close_copy_in_child(&self) {
        // SAFETY: the child never uses this end and never drops it (it execs or exits).
        unsafe { libc::close(self.0.as_raw_fd()) };
    }

    /// Blocks until the runner says go; `false` if the runner went away instead.
    pub(crate) fn wait_for_release(&self) -> bool {
        matches!(self.recv::<ToChild>(), Ok(Some((ToChild::Go, _))))
    }

    /// Hands the terminal's master side to the runner.
    pub(crate) fn send_pty_master(&self, master: BorrowedFd<'_>) -> Result<(), Errno> {
        self.send(&ToParent::PtyMaster, Some(master))
    }

    /// Reports why the child is giving up. Best effort: the exit status says it too.
    pub(crate) fn report(&self, failure: Failure) {
        let _ = self.send(&ToParent::Failed(failure), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_fds_cross_and_eof_ends() {
        let (parent, child) = pair().unwrap();
        parent.release_child().unwrap();
        assert!(child.wait_for_release());
        let file = std::fs::File::open("/dev/null").unwrap();
        child
            .send_pty_master(std::os::fd::AsFd::as_fd(&file))
            .unwrap();
        let failure = Failure::Step {
            step: "mount".into(),
            on: Some("/proc".into()),
            errno: 1,
        };
        child.report(failure.clone());
        drop(child);
        let (msg, fd) = parent.next_report().unwrap().unwrap();
        assert_eq!(msg, ToParent::PtyMaster);
        assert!(fd.is_some());
        assert_eq!(
            parent.next_report().unwrap().unwrap().0,
            ToParent::Failed(failure)
        );
        assert!(parent.next_report().unwrap().is_none());
    }
}
