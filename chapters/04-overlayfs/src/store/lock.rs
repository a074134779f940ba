//! One process at a time: a store's lock, with flock(2).
//!
//! The CLI and the daemon may act on the same root at once. A store's changes
//! are made under an exclusive lock on a file in it; the kernel drops the lock
//! when the holder exits, even by `kill -9`, so a crash never leaves it stuck.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, FdFlag, Flock, FlockArg, fcntl};

use crate::io::{IoContext, IoError};

/// A held flock(2) lock; released when dropped.
#[derive(Debug)]
pub struct StoreLock {
    _flock: Flock<File>,
}

impl StoreLock {
    /// Waits for the exclusive lock on `path` (created if missing).
    pub fn exclusive(path: &Path) -> Result<StoreLock, IoError> {
        Self::take(path, FlockArg::LockExclusive).map(|lock| lock.expect("blocking lock"))
    }

    /// Waits for a shared lock on `path`: many may hold it, none while someone
    /// holds it exclusively.
    pub fn shared(path: &Path) -> Result<StoreLock, IoError> {
        Self::take(path, FlockArg::LockShared).map(|lock| lock.expect("blocking lock"))
    }

    /// Takes the exclusive lock if nobody holds the lock at all, else `None`.
    pub fn try_exclusive(path: &Path) -> Result<Option<StoreLock>, IoError> {
        Self::take(path, FlockArg::LockExclusiveNonblock)
    }

    /// Keeps the lock held across execve(2) (the descriptor loses its
    /// close-on-exec flag) and returns the descriptor's number, for the next
    /// program this process runs to take back with [`StoreLock::inherit`].
    pub fn keep_across_exec(&self) -> Result<RawFd, IoError> {
        let fd = self._flock.as_fd();
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
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(flock) => Ok(StoreLock { _flock: flock }),
            Err((_, errno)) => Err(errno).at("flock the inherited lock", &descriptor(fd)),
        }
    }

    fn take(path: &Path, arg: FlockArg) -> Result<Option<StoreLock>, IoError> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .at("open lock", path)?;
        match Flock::lock(file, arg) {
            Ok(flock) => Ok(Some(StoreLock { _flock: flock })),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, errno)) => Err(errno).at("flock", path),
        }
    }
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
