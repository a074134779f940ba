//! One process at a time: a store's lock, with flock(2).
//!
//! The CLI and the daemon may act on the same root at once. A store's changes
//! are made under an exclusive lock on a file in it; the kernel drops the lock
//! when the holder exits, even by `kill -9`, so a crash never leaves it stuck.

use std::fs::File;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

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
}
