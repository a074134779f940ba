//! One process at a time: a store's lock, with flock(2).
//!
//! The CLI and the daemon may act on the same root at once. A store's changes
//! are made under an exclusive lock on a file in it; the kernel drops the lock
//! when the holder exits, even by `kill -9`, so a crash never leaves it stuck.
//!
//! A flock(2) lock belongs to the open file description, which fork(2)
//! shares and execve(2) keeps: it is released when the last descriptor of
//! it is closed, or by an explicit `LOCK_UN` from any of them. A
//! [`StoreLock`] is released by closing its descriptor only (a plain
//! [`File`], locked with std's [`File::lock`]), so a process that forks to
//! finish some work under a lock can drop its own copy and go on: the child
//! still holds it. (nix's `Flock` unlocks when dropped, which would take the
//! lock away from the child too.)

use std::fs::{File, TryLockError};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, FdFlag, fcntl};

use crate::io::{IoContext, IoError};

/// A held flock(2) lock; released when dropped, unless a child of a fork
/// (or a later program, see [`StoreLock::keep_across_exec`]) still holds
/// the same open file.
#[derive(Debug)]
pub struct StoreLock {
    file: File,
}

impl StoreLock {
    /// Waits for the exclusive lock on `path` (created if missing).
    pub fn exclusive(path: &Path) -> Result<StoreLock, IoError> {
        Self::take(path, How::Exclusive).map(|lock| lock.expect("blocking lock"))
    }

    /// Waits for a shared lock on `path`: many may hold it, none while someone
    /// holds it exclusively.
    pub fn shared(path: &Path) -> Result<StoreLock, IoError> {
        Self::take(path, How::Shared).map(|lock| lock.expect("blocking lock"))
    }

    /// Takes the exclusive lock if nobody holds the lock at all, else `None`.
    pub fn try_exclusive(path: &Path) -> Result<Option<StoreLock>, IoError> {
        Self::take(path, How::TryExclusive)
    }

    /// Keeps the lock held across execve(2) (the descriptor loses its
    /// close-on-exec flag) and returns the descriptor's number, for the next
    /// program this process runs to take back with [`StoreLock::inherit`].
    pub fn keep_across_exec(&self) -> Result<RawFd, IoError> {
        let fd = self.file.as_fd();
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))
            .at("keep across execve", &descriptor(fd.as_raw_fd()))?;
        Ok(fd.as_raw_fd())
    }

    /// Takes back the lock an earlier program of this process held on `fd`
    /// ([`StoreLock::keep_across_exec`]). A flock(2) lock belongs to the open
    /// file description, which execve(2) keeps: flock on it again only
    /// confirms what we hold (and fails, rather than waits, on anything else).
    pub fn inherit(fd: RawFd) -> Result<StoreLock, IoError> {
        // SAFETY: fcntl(2) on a plain number touches no memory; it fails with
        // EBADF if no such descriptor is open.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            return Err(Errno::last()).at("take the inherited lock", &descriptor(fd));
        }
        // SAFETY: the descriptor is open (above) and was passed to us to own.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        match file.try_lock() {
            Ok(()) => Ok(StoreLock { file }),
            Err(err) => {
                Err(std::io::Error::from(err)).at("flock the inherited lock", &descriptor(fd))
            }
        }
    }

    fn take(path: &Path, how: How) -> Result<Option<StoreLock>, IoError> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .at("open lock", path)?;
        let locked = match how {
            How::Exclusive => file.lock(),
            How::Shared => file.lock_shared(),
            How::TryExclusive => match file.try_lock() {
                Err(TryLockError::WouldBlock) => return Ok(None),
                result => result.map_err(std::io::Error::from),
            },
        };
        locked.at("flock", path)?;
        Ok(Some(StoreLock { file }))
    }
}

/// How [`StoreLock::take`] locks.
enum How {
    Exclusive,
    Shared,
    TryExclusive,
}

/// How a descriptor is named in an error: its /proc path.
fn descriptor(fd: RawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{fd}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_locks_keep_out_an_exclusive_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let a = StoreLock::shared(&path).unwrap();
        let _b = StoreLock::shared(&path).unwrap();
        assert!(StoreLock::try_exclusive(&path).unwrap().is_none());
        drop(a);
        drop(_b);
        assert!(StoreLock::try_exclusive(&path).unwrap().is_some());
    }

    #[test]
    fn a_lock_kept_across_exec_is_taken_back_and_still_keeps_others_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let lock = StoreLock::exclusive(&path).unwrap();
        let fd = lock.keep_across_exec().unwrap();
        // SAFETY: fcntl(2) on an open descriptor.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, 0, "close-on-exec is off");
        // What execve(2) does to the Rust value: nothing runs its drop.
        std::mem::forget(lock);
        let back = StoreLock::inherit(fd).unwrap();
        assert!(StoreLock::try_exclusive(&path).unwrap().is_none());
        drop(back);
        assert!(StoreLock::try_exclusive(&path).unwrap().is_some());
    }

    /// What a `run --rm` does with its retired container: it forks a child
    /// to delete the files under the lock, and returns. The parent's drop
    /// must leave the child's lock alone.
    #[test]
    fn a_lock_shared_with_a_forked_child_outlives_the_parents_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let lock = StoreLock::shared(&path).unwrap();
        let (go_r, go_w) = nix::unistd::pipe().unwrap();
        // SAFETY: the child makes only async-signal-safe calls (read(2),
        // _exit(2)), as a fork of the threaded test harness must.
        let child = match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let mut byte = [0u8];
                // SAFETY: close(2) of our copy of the write end, so that the
                // parent's close is our end-of-file; read(2) into a local
                // buffer; _exit(2) runs no destructor.
                unsafe {
                    libc::close(go_w.as_raw_fd());
                    libc::read(go_r.as_raw_fd(), byte.as_mut_ptr().cast(), 1);
                    libc::_exit(0)
                }
            }
            nix::unistd::ForkResult::Parent { child } => child,
        };
        drop(go_r);
        drop(lock);
        let while_child_holds = StoreLock::try_exclusive(&path).unwrap().is_none();
        drop(go_w);
        nix::sys::wait::waitpid(child, None).unwrap();
        assert!(
            while_child_holds,
            "the parent's drop released the child's lock"
        );
        assert!(StoreLock::try_exclusive(&path).unwrap().is_some());
    }

    #[test]
    fn a_descriptor_that_holds_no_lock_is_not_taken_for_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let _other = StoreLock::exclusive(&path).unwrap();
        let file = File::options().write(true).open(&path).unwrap();
        let fd = std::os::fd::IntoRawFd::into_raw_fd(file);
        let err = StoreLock::inherit(fd).unwrap_err();
        assert!(
            err.to_string().contains("flock the inherited lock"),
            "{err}"
        );
    }
}
