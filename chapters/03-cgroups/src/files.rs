//! Reading and writing cgroup files, each error naming its path, each change narrated.
//!
//! A cgroup is a directory and its settings are files: every change this crate makes
//! to the kernel is a `mkdir`, an `echo VALUE > FILE` or an `rmdir`, and goes through
//! here so that `--explain` shows it with the shell command that does the same.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use ch01_chroot::explain;

use crate::error::{Error, Result};

/// Reads a whole cgroup file.
pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| io_error("read", path, source))
}

/// Reads a file that holds one number, such as `memory.usage_in_bytes`.
pub(crate) fn read_u64(path: &Path) -> Result<u64> {
    let content = read(path)?;
    content.trim().parse().map_err(|_| Error::Parse {
        path: path.to_path_buf(),
        content,
    })
}

/// Reads one entry of a "flat keyed" file (`key value` per line, as `memory.stat`,
/// `memory.events` or `cpu.stat`). `None` when the key is absent.
pub(crate) fn read_keyed(path: &Path, key: &str) -> Result<Option<u64>> {
    let content = read(path)?;
    for line in content.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some(key) {
            return match words.next().and_then(|v| v.parse().ok()) {
                Some(value) => Ok(Some(value)),
                None => Err(Error::Parse {
                    path: path.to_path_buf(),
                    content,
                }),
            };
        }
    }
    Ok(None)
}

/// Writes `value` to an existing cgroup file in one write(2), as `echo` would.
///
/// The file is never created: in a real cgroupfs only the kernel makes files, and a
/// missing one means the controller is not there (the caller says which).
pub(crate) fn write(path: &Path, value: &str, why: fmt::Arguments<'_>) -> Result<()> {
    explain!("{why}"; "echo {value} > {}", path.display());
    let result = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut file| file.write_all(value.as_bytes()));
    result.map_err(|source| io_error(&format!("write {value} to"), path, source))
}

/// Writes a controller's setting, turning "no such file" into a clear
/// "controller not available" error.
pub(crate) fn write_setting(
    path: &Path,
    value: &str,
    controller: &'static str,
    what: &'static str,
    why: fmt::Arguments<'_>,
) -> Result<()> {
    write(path, value, why).map_err(|err| match err {
        Error::Io { cause, .. } if cause.kind() == ErrorKind::NotFound => {
            let dir = path.parent().unwrap_or(path).to_path_buf();
            Error::ControllerMissing {
                controller,
                path: dir,
                what,
            }
        }
        other => other,
    })
}

/// Writes `cpuset.cpus` or `cpuset.mems`. The kernel refuses CPUs or memory nodes
/// the parent does not have with a bare ERANGE or EINVAL; say which ones it has,
/// read from `available` (the parent's effective set), as docker does.
pub(crate) fn write_cpuset(path: &Path, value: &str, available: &Path) -> Result<()> {
    let file = path
        .file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
    let why = format_args!("run only on {file} {value}");
    write_setting(path, value, "cpuset", "cpuset", why).map_err(|err| match err {
        Error::Io { .. } => match read(available) {
            Ok(have) => Error::InvalidResources(format!(
                "{file} {value}: not available here (available: {})",
                have.trim()
            )),
            Err(_) => err,
        },
        other => other,
    })
}

/// Creates a container's cgroup directory. Returns `false` when it was already there.
pub(crate) fn mkdir(path: &Path) -> Result<bool> {
    explain!("create cgroup {}", path.display(); "mkdir {}", path.display());
    match std::fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(source) => Err(io_error("mkdir", path, source)),
    }
}

/// Makes sure a parent cgroup exists (`mkdir -p`): containers share it, so it may
/// be there already, or be made by another runner at the same moment.
pub(crate) fn ensure_dir(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    explain!("create the parent cgroup {}", path.display(); "mkdir -p {}", path.display());
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(io_error("mkdir", path, source)),
    }
}

/// How long [`rmdir`] keeps retrying while killed processes finish exiting.
const RMDIR_PATIENCE: Duration = Duration::from_secs(2);

/// Removes a cgroup directory (only `rmdir(2)` can: its files are not real files).
///
/// The kernel refuses with EBUSY while tasks are in it; processes we just killed may
/// take a moment to exit, so it retries for a short while. A directory already gone
/// is fine: removing is idempotent, so a failed run can always clean up.
pub(crate) fn rmdir(path: &Path) -> Result<()> {
    explain!("remove cgroup {}", path.display(); "rmdir {}", path.display());
    let start = Instant::now();
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(()),
            Err(err) if err.raw_os_error() == Some(nix::libc::EBUSY) => {
                if start.elapsed() >= RMDIR_PATIENCE {
                    let waited_ms = start.elapsed().as_millis() as u64;
                    return Err(Error::Busy {
                        path: path.to_path_buf(),
                        waited_ms,
                    });
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(source) => return Err(io_error("rmdir", path, source)),
        }
    }
}

/// Re-reads `path` until `done` says its content is what we wait for, or `timeout`
/// passes. Returns whether it got there. `retry` runs between reads (the v1 freezer
/// wants `FROZEN` written again while it is still `FREEZING`).
pub(crate) fn wait_for(
    path: &Path,
    timeout: Duration,
    done: impl Fn(&str) -> bool,
    mut retry: impl FnMut() -> Result<()>,
) -> Result<bool> {
    let start = Instant::now();
    loop {
        if done(&read(path)?) {
            return Ok(true);
        }
        if start.elapsed() >= timeout {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(1));
        retry()?;
    }
}

/// The PIDs listed in a `cgroup.procs` file.
pub(crate) fn read_pids(path: &Path) -> Result<Vec<nix::unistd::Pid>> {
    let content = read(path)?;
    content
        .lines()
        .map(|line| line.trim().parse().map(nix::unistd::Pid::from_raw))
        .collect::<Result<_, _>>()
        .map_err(|_| Error::Parse {
            path: path.to_path_buf(),
            content,
        })
}

pub(crate) fn io_error(op: &str, path: &Path, cause: std::io::Error) -> Error {
    Error::Io {
        op: op.to_string(),
        path: path.to_path_buf(),
        cause,
    }
}
