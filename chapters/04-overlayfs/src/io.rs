//! I/O errors that say which file they were about, and atomic writes.
//!
//! A bare "No such file or directory" tells a reader nothing; every I/O error in
//! this crate carries the path and what we were doing to it. State files are
//! written the one way that survives a crash at any instant: a temp file in the
//! same directory, fsync, rename over the old one (rename(2) is atomic).

use std::io::Write;
use std::path::{Path, PathBuf};

/// An I/O error with the operation and the path it failed on. Its message is
/// whole (it includes the cause), so it has no separate `source()`.
#[derive(Debug, thiserror::Error)]
#[error("{op} {path}: {cause}")]
pub struct IoError {
    /// What we were doing: "read", "create", "rename"...
    pub op: &'static str,
    /// The file it was done to.
    pub path: PathBuf,
    /// What the kernel said.
    pub cause: std::io::Error,
}

/// Adds `.at(op, path)` to I/O results, so the error names its file.
pub trait IoContext<T> {
    /// Wraps an error with what was being done (`op`) and to which `path`.
    fn at(self, op: &'static str, path: &Path) -> Result<T, IoError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, op: &'static str, path: &Path) -> Result<T, IoError> {
        self.map_err(|cause| IoError {
            op,
            path: path.to_path_buf(),
            cause,
        })
    }
}

impl<T> IoContext<T> for nix::Result<T> {
    fn at(self, op: &'static str, path: &Path) -> Result<T, IoError> {
        self.map_err(|errno| IoError {
            op,
            path: path.to_path_buf(),
            cause: errno.into(),
        })
    }
}

/// Prefix of every temp file or directory a store writes before renaming it into
/// place; anything with it found on open was left by a crash and is removed.
pub const TEMP_PREFIX: &str = ".tmp-";

/// The directory `path` is in: `.` for a bare file name (whose `parent()` is
/// the empty path, which no syscall accepts).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically and durably: readers see the old
/// content or the new, never a mix, whatever moment the process dies, and
/// once this returns the new content survives a power cut.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    replace_atomic(path, bytes)?;
    sync_dir(parent_dir(path))
}

/// Writes `bytes` to `path` atomically, as [`write_atomic`], but leaves the
/// rename's durability to the kernel: for state that a reboot makes stale
/// anyway (whether a container runs, which the engine checks against its
/// supervisor's liveness), where losing the last update to a power cut is
/// harmless but an unreadable file is not. The temp file is fsynced before
/// the rename, so whichever name survives holds whole content: rename(2) is
/// atomic, but without fsync(2) a filesystem may persist the rename before
/// the data it names. Only the directory's fsync, which makes the rename
/// itself durable (fsync(2): "fsync() on a file descriptor for the
/// directory is also needed"), is skipped: one journal commit fewer.
pub fn replace_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    replace(path, bytes, true)
}

/// A temp file with `bytes` (fsynced if `sync`) renamed over `path`.
fn replace(path: &Path, bytes: &[u8], sync: bool) -> Result<(), IoError> {
    let dir = parent_dir(path);
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .at("create a temp file in", dir)?;
    temp.write_all(bytes).at("write", temp.path())?;
    if sync {
        temp.as_file().sync_all().at("fsync", temp.path())?;
    }
    temp.persist(path)
        .map_err(|err| err.error)
        .at("rename into", path)?;
    Ok(())
}

/// What a write must survive. Either way it is atomic while the machine
/// runs: whatever moment a process dies (`kill -9` included), readers see
/// the old content or the new, never a mix, because rename(2) is atomic and
/// the page cache is what every reader reads. fsync(2) buys only one thing:
/// that the write survives a power cut (or a kernel crash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Once written, it survives a power cut: [`write_atomic`].
    Durable,
    /// No fsync at all: [`write_unsynced`]. After a power cut the file may
    /// be missing, empty or cut short, so this is only for what its store
    /// throws away after a reboot, unread: a container that `run --rm`
    /// removes once it has run (see the container store).
    Volatile,
}

/// Writes `bytes` to `path` atomically, as durably as `durability` asks.
pub fn write_with(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), IoError> {
    match durability {
        Durability::Durable => write_atomic(path, bytes),
        Durability::Volatile => write_unsynced(path, bytes),
    }
}

/// Writes `bytes` to `path` atomically against any process's death (a temp
/// file renamed over it) but with no fsync: see [`Durability::Volatile`].
pub fn write_unsynced(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    replace(path, bytes, false)
}

/// This boot's ID, which the kernel makes afresh at every boot
/// (`/proc/sys/kernel/random/boot_id`): what was recorded with another was
/// recorded before the machine last went down.
pub fn boot_id() -> Result<String, IoError> {
    let path = Path::new("/proc/sys/kernel/random/boot_id");
    Ok(std::fs::read_to_string(path)
        .at("read", path)?
        .trim()
        .to_string())
}

/// Runs `op`, which works in the store directory `dir`; if that finds `dir`
/// missing (`ENOENT`), creates it with its parents and runs `op` again. A
/// store is opened by every command, and so pays no mkdir(2) for a
/// directory that is there but the first time.
pub fn in_dir<T>(dir: &Path, op: impl Fn() -> Result<T, IoError>) -> Result<T, IoError> {
    match op() {
        Err(err) if err.cause.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).at("create", dir)?;
            op()
        }
        result => result,
    }
}

/// `lock`, taken in a store directory, once `subdir` (made with the store
/// directory, for [`in_dir`]) is there too: `create_dir_all` makes a path one
/// mkdir(2) at a time, and a crash between two leaves the store directory
/// without its subdirectory, which `op` alone would not see.
pub fn with_subdir<T>(lock: Result<T, IoError>, subdir: &Path) -> Result<T, IoError> {
    let lock = lock?;
    std::fs::metadata(subdir).at("stat", subdir)?;
    Ok(lock)
}

/// Writes a new file whose directory no one else sees yet (a temp directory
/// renamed into place later), with its data on disk; the caller fsyncs the
/// directory once for all it made there, before the rename.
pub fn write_new_synced(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let mut file = std::fs::File::create_new(path).at("create", path)?;
    file.write_all(bytes).at("write", path)?;
    file.sync_all().at("fsync", path)
}

/// fsyncs a directory, so a rename or create in it survives a power cut.
pub fn sync_dir(dir: &Path) -> Result<(), IoError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .at("fsync", dir)
}

/// Removes what a crash left behind in `dir`: entries named with [`TEMP_PREFIX`].
/// Returns whether there were any (a crash happened: a store may look for
/// what else it left).
pub fn remove_leftovers(dir: &Path) -> Result<bool, IoError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(err).at("read directory", dir),
    };
    let mut found = false;
    for entry in entries {
        let entry = entry.at("read directory", dir)?;
        if entry
            .file_name()
            .as_encoded_bytes()
            .starts_with(TEMP_PREFIX.as_bytes())
        {
            let path = entry.path();
            let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.at("remove leftover", &path)?;
            found = true;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state.json");
        write_atomic(&file, b"one").unwrap();
        write_atomic(&file, b"two").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn in_dir_creates_a_missing_dir_and_runs_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("a/b");
        let lock = store.join(".lock");
        let tries = std::cell::Cell::new(0);
        let open = || {
            tries.set(tries.get() + 1);
            std::fs::File::create(&lock).at("create", &lock)
        };
        in_dir(&store, open).unwrap();
        assert!(lock.is_file());
        assert_eq!(tries.get(), 2);
        // There now: no second try.
        tries.set(0);
        in_dir(&store, open).unwrap();
        assert_eq!(tries.get(), 1);
    }

    #[test]
    fn a_bare_file_name_is_in_the_current_dir() {
        assert_eq!(parent_dir(Path::new("layer")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/layer")), Path::new("a"));
        assert_eq!(parent_dir(Path::new("/")), Path::new("."));
    }

    #[test]
    fn leftovers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".tmp-abc"), "half").unwrap();
        std::fs::create_dir(dir.path().join(".tmp-dir")).unwrap();
        std::fs::write(dir.path().join("keep"), "").unwrap();
        remove_leftovers(dir.path()).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["keep"]);
    }

    #[test]
    fn errors_name_their_path() {
        let err = std::fs::read("/nonexistent/x")
            .at("read", Path::new("/nonexistent/x"))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("read /nonexistent/x: "),
            "{err}"
        );
    }
}
