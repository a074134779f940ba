//! Handing the run's end to a finisher instead of the exit program.
//!
//! When a run is over, somebody must record the exit, tear down and, for
//! `--rm`, remove the container: the engine's exit program, which the
//! supervisor execve(2)s. But a foreground `docker run` waits for exactly
//! that moment with the engine already in memory and its store open, and
//! starting the engine binary again would be most of what is left of the
//! run's time. So the launching `run` can ask to be the *finisher*: it
//! gives the supervisor `--finisher FD`, its end of a `SOCK_SEQPACKET`
//! socketpair(2) (unix(7): one write, one message, read whole).
//!
//! The supervisor then sends it the exit program's arguments (those after
//! `PROGRAM`, `--status N` last, each NUL-terminated) as one message, and
//! waits for the answer, a single byte, holding the container's run lock
//! (inherited: it is the engine's, see the engine's `supervisor`) so that
//! nobody else takes the run for over meanwhile:
//! - `d`: done, the finisher did what the exit program would have done; the
//!   supervisor exits with the status;
//! - anything else, end-of-file included (the finisher died, or never
//!   read): the supervisor runs the exit program as if there had been no
//!   finisher, which takes over from wherever the finisher stopped.
//!
//! containerd's shim does the same split: it reports the exit to whoever
//! waits (`Wait`) and leaves the cleanup to that client's `Delete`.

use crate::args::{Argv, Decimal, STATUS};
use crate::sys::{self, Fd};

/// The finisher's answer when its work is done.
pub const DONE: u8 = b'd';

/// The largest message: a state root's path, a container ID and a few
/// numbers fit many times over. A line that would not fit is not sent (the
/// exit program runs instead).
const MAX_MESSAGE: usize = 4096;

// ANCHOR: hand_over
/// Sends `exit`'s arguments (after the program) and `--status STATUS` to
/// the `finisher`, and waits for its answer: whether it is done (then the
/// exit program must not run).
pub fn hand_over(finisher: Fd, exit: &Argv<'_>, status: i32) -> bool {
    let mut message = [0u8; MAX_MESSAGE];
    let mut len = 0;
    let status = Decimal::of(status);
    let words = exit
        .from(1)
        .map(|arg| arg.to_bytes())
        .chain([STATUS.to_bytes(), status.as_bytes()]);
    for word in words {
        let end = len + word.len();
        if end >= message.len() {
            return false;
        }
        message[len..end].copy_from_slice(word);
        // message[end] is the word's NUL.
        len = end + 1;
    }
    if sys::write(finisher.raw(), &message[..len]) != Ok(len) {
        return false;
    }
    let mut answer = [0u8; 1];
    sys::read(&finisher, &mut answer) == Ok(1) && answer[0] == DONE
}
// ANCHOR_END: hand_over

#[cfg(test)]
mod tests {
    use std::ffi::CString;
    use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
    use std::os::unix::net::UnixDatagram;

    use super::*;

    /// A SOCK_SEQPACKET pair: the supervisor's end as an [`Fd`], ours.
    fn pair() -> (Fd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: socketpair(2) writes two descriptors into `fds`.
        let made = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        assert_eq!(made, 0);
        // SAFETY: both are new and ours.
        unsafe { (Fd::from_raw(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    /// Runs hand_over on a thread against a finisher that answers with
    /// `answer` (`None`: hangs up without one); what it was sent and what
    /// hand_over returned.
    fn hand_over_to(answer: Option<u8>) -> (Vec<u8>, bool) {
        let (theirs, ours) = pair();
        let args: Vec<CString> = ["/bin/dockyard", "--root", "/r", "shim", "abc"]
            .iter()
            .map(|a| CString::new(*a).unwrap())
            .collect();
        let handed = std::thread::spawn(move || {
            let ptrs: Vec<*const u8> = args.iter().map(|c| c.as_ptr().cast()).collect();
            // SAFETY: the CStrings outlive the call.
            let argv = unsafe { Argv::new(&ptrs) };
            hand_over(theirs, &argv, 137)
        });
        // A SOCK_SEQPACKET socket reads one message at a time, like a
        // datagram socket (which std can wrap it as).
        let ours = unsafe { UnixDatagram::from_raw_fd(ours.into_raw_fd()) };
        let mut buf = [0u8; 512];
        let n = ours.recv(&mut buf).unwrap();
        match answer {
            Some(byte) => drop(ours.send(&[byte]).unwrap()),
            None => drop(ours),
        }
        (buf[..n].to_vec(), handed.join().unwrap())
    }

    #[test]
    fn the_finisher_gets_the_exit_programs_arguments_and_the_status() {
        let (message, done) = hand_over_to(Some(DONE));
        let words: Vec<&[u8]> = message.split_inclusive(|&b| b == 0).collect();
        let expected: [&[u8]; 6] = [
            b"--root\0",
            b"/r\0",
            b"shim\0",
            b"abc\0",
            b"--status\0",
            b"137\0",
        ];
        assert_eq!(words, expected);
        assert!(done);
    }

    #[test]
    fn without_the_finishers_done_the_exit_program_runs() {
        assert!(!hand_over_to(None).1, "hung up");
        assert!(!hand_over_to(Some(b'x')).1, "another answer");
    }

    #[test]
    fn a_finisher_that_is_gone_already_is_not_waited_for() {
        let (theirs, ours) = pair();
        drop(ours);
        let args = [c"/bin/dockyard".as_ptr().cast::<u8>()];
        // SAFETY: a static string.
        let argv = unsafe { Argv::new(&args) };
        assert!(!hand_over(theirs, &argv, 0));
    }
}
