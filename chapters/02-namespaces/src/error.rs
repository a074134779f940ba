//! The one error type of this chapter: what failed, on what, and how to exit.

use std::path::PathBuf;

use ch01_chroot::exit;
use nix::errno::Errno;

/// Why a container could not be made or run. [`Error::exit_code`] says how to exit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The rootfs is missing or not a directory.
    #[error("rootfs {0}: no such directory")]
    RootfsMissing(PathBuf),
    /// Namespaces, mounts and pivot_root need root (or a user namespace we own).
    #[error(
        "must be run as root: creating namespaces and mounts needs CAP_SYS_ADMIN (try again with sudo)"
    )]
    NotRoot,
    /// The spec has no process or no command in it.
    #[error("the spec has no command to run (process.args is empty)")]
    NoCommand,
    /// `-w` is not absolute: the OCI spec's `process.cwd` "MUST be an
    /// absolute path" (config.md, Process). Worded as docker's daemon words it.
    #[error("the working directory '{0}' is invalid, it needs to be an absolute path")]
    RelativeWorkdir(String),
    /// A bundle's config.json is missing or not a valid OCI runtime spec.
    #[error("bundle config {path}: {reason}")]
    BadConfig { path: PathBuf, reason: String },
    /// `-u` names a user or group the rootfs does not know.
    #[error("unable to find {kind} {name}: no matching entries in {file} file")]
    UnknownUser {
        kind: &'static str,
        name: String,
        file: &'static str,
    },
    /// A flag's value is not one docker would accept; worded as docker words it.
    #[error("invalid argument {value:?} for \"{flag}\" flag: {reason}")]
    BadFlag {
        flag: &'static str,
        value: String,
        reason: String,
    },
    /// The flags could not be expressed as an OCI spec.
    #[error("building the OCI spec: {0}")]
    Spec(String),
    /// A step in the runner (parent side) failed.
    #[error("{step}: {source}")]
    Io {
        step: String,
        source: std::io::Error,
    },
    /// A system call in the runner (parent side) failed.
    #[error("{step}: {errno}")]
    Sys { step: String, errno: Errno },
    /// The chapter 03 hook (`setup`) failed; the container was killed before it ran.
    #[error("container setup: {0}")]
    Setup(Box<dyn std::error::Error + Send + Sync>),
    /// A step inside the container, before the command started, failed.
    #[error("container init: {step}{}: {reason}", on.as_ref().map(|p| format!(" {p}")).unwrap_or_default())]
    Child {
        step: String,
        on: Option<String>,
        reason: String,
    },
    /// Taking on the spec's limits, user, capabilities or seccomp filter failed
    /// in a process that joins a running container (`exec`: see [`crate::hardening::apply`]).
    #[error("{0}")]
    Hardening(String),
    /// The command could not be found or executed: chapter 01's errors, same messages and codes.
    #[error(transparent)]
    Exec(#[from] ch01_chroot::Error),
}

impl Error {
    /// The exit status docker would give for this error (125, 126 or 127).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Exec(err) => err.exit_code(),
            _ => exit::ENGINE_ERROR,
        }
    }

    /// A failed system call in the runner, with the step it belongs to.
    pub(crate) fn sys(step: impl Into<String>) -> impl FnOnce(Errno) -> Error {
        move |errno| Error::Sys {
            step: step.into(),
            errno,
        }
    }

    /// A failed I/O operation in the runner, with the step it belongs to.
    pub(crate) fn io(step: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        move |source| Error::Io {
            step: step.into(),
            source,
        }
    }
}
