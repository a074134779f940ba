//! The small program the supervisor becomes while its container runs
//! (`dockyard-supervisor`, see chapters/09-engine/supervisor), carried inside
//! this library so that the engine is still one file to install.
//!
//! It is executed from a memfd (memfd_create(2)), an anonymous file of the
//! supervisor's own, as runc executes its own copy: no file system has to
//! allow execution (/run is mounted `noexec` on many distributions), and
//! there is no file to install, keep whole across a power cut, or clean up
//! after an upgrade. Each supervisor has its own copy of its 20 kB.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use crate::supervise::{Error, io_at};

/// The program, as `build.rs` built it.
const PROGRAM: &[u8] = include_bytes!(env!("DOCKYARD_SUPERVISOR"));

/// The program in a new memfd (close-on-exec: execve(2) opens the file it
/// runs before it closes those), and the path execve(2) takes it by,
/// `/proc/self/fd/N`.
pub fn program() -> Result<(OwnedFd, PathBuf), Error> {
    let name = c"dockyard-supervisor";
    let sys = |step| {
        move |errno| Error::Sys {
            step,
            source: errno,
        }
    };
    // MFD_EXEC says so explicitly (Linux 6.3 warns without it, and may be
    // set to refuse executable memfds otherwise); older kernels refuse the
    // flag itself with EINVAL, and there every memfd is executable.
    let create = |flags| {
        // SAFETY: memfd_create(2) takes a C string and flags and returns a
        // new descriptor or -1.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        match fd {
            -1 => Err(nix::errno::Errno::last()),
            // SAFETY: the descriptor was just made for us alone.
            fd => Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
        }
    };
    let fd = match create(libc::MFD_CLOEXEC | libc::MFD_EXEC) {
        Err(nix::errno::Errno::EINVAL) => create(libc::MFD_CLOEXEC),
        other => other,
    }
    .map_err(sys("memfd_create(2) for the supervisor program"))?;
    let path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    let file = fd.try_clone().map_err(io_at("dup", &path))?;
    std::fs::File::from(file)
        .write_all(PROGRAM)
        .map_err(io_at("write", &path))?;
    Ok((fd, path))
}
