//! The one error type of this chapter's library.

use std::path::PathBuf;

/// Why a cgroup could not be found, created, limited, frozen, read or removed, or why
/// a limit flag was refused. Every I/O error names the file or directory it was about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory of the cgroup filesystem could not be read, written,
    /// created or removed.
    // Not named `source`: the message already includes it, and a chained source
    // would make `anyhow`'s "{:#}" print it twice.
    #[error("{op} {path}: {cause}")]
    Io {
        /// What we tried: `read`, `write 67108864 to`, `mkdir`, `rmdir`...
        op: String,
        /// The file or directory.
        path: PathBuf,
        /// What the kernel said.
        cause: std::io::Error,
    },
    /// `statfs(2)` on the cgroup root failed.
    #[error("statfs {path}: {errno} (is the cgroup filesystem mounted there?)")]
    Statfs {
        path: PathBuf,
        errno: nix::errno::Errno,
    },
    /// The root is neither a cgroup2 mount nor the tmpfs that holds v1 controllers.
    #[error(
        "{path} is a {fs_type} filesystem, neither cgroup2 (v2) nor a tmpfs of cgroup v1 controllers: cannot tell which cgroup version is in use"
    )]
    UnknownSetup { path: PathBuf, fs_type: String },
    /// A limit needs a controller this hierarchy does not offer.
    #[error("the {controller} controller is not available at {path}: cannot apply the {what}")]
    ControllerMissing {
        controller: &'static str,
        path: PathBuf,
        what: &'static str,
    },
    /// A cgroup or parent name that would escape its directory or is empty.
    #[error("invalid cgroup name {0:?}: use a non-empty name without '/', such as a container id")]
    InvalidName(String),
    /// `create` found a cgroup of that name already there.
    #[error("cgroup {0} already exists: another container uses this name")]
    AlreadyExists(PathBuf),
    /// `open` found no cgroup of that name.
    #[error("no such cgroup {cgroup} in {root}: is the container running?")]
    NotFound {
        /// `parent/name`.
        cgroup: String,
        /// The hierarchy's root.
        root: PathBuf,
    },
    /// A cgroup file held something we could not parse.
    #[error("{path}: unexpected content {content:?}")]
    Parse { path: PathBuf, content: String },
    /// The freezer did not reach the state asked for in time.
    #[error("{path}: still not {wanted} after {waited_ms}ms")]
    FreezeTimeout {
        path: PathBuf,
        wanted: &'static str,
        waited_ms: u64,
    },
    /// Processes were still in the cgroup after they were killed.
    #[error("rmdir {path}: processes are still in it after {waited_ms}ms")]
    Busy { path: PathBuf, waited_ms: u64 },
    /// Resources that contradict each other, or the kernel's limits.
    #[error("{0}")]
    InvalidResources(String),
    /// A flag value that does not parse, in docker's wording.
    #[error("invalid size {0:?}: use a number and an optional unit b, k, m or g, such as 64m")]
    InvalidSize(String),
    /// A `--cpus` value that does not parse or is out of range.
    #[error("invalid number of CPUs {value:?}: {reason}")]
    InvalidCpus { value: String, reason: &'static str },
    /// A `--cpuset-cpus` list that does not parse.
    #[error("invalid CPU list {0:?}: use CPU numbers and ranges, such as 0-2,4")]
    InvalidCpuList(String),
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
