//! A minimal /dev: a fresh tmpfs (the spec mounts it) holding only the devices a
//! container needs, each bind-mounted from the host's node. Binding rather than
//! mknod(2) works the same with and without a user namespace (where mknod is
//! refused), and the host's /dev, with its disks, stays out of reach.

use std::path::Path;

use crate::channel::Failure;
use crate::rootfs::{bind, ensure_mount_point};

// ANCHOR: devices
/// The device nodes docker gives every container.
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The usual /dev symlinks: file descriptors, and ptmx pointing into this
/// container's own devpts instance (so ptys opened inside are its own).
const SYMLINKS: [(&str, &str); 6] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
    ("core", "/proc/kcore"),
];
// ANCHOR_END: devices

/// Fills `rootfs`/dev (already a tmpfs) before pivot_root, while the host's /dev is reachable.
pub(crate) fn populate(rootfs: &Path) -> Result<(), Failure> {
    let dev = rootfs.join("dev");
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        if !host.exists() {
            continue;
        }
        let dest = dev.join(name);
        ensure_mount_point(&dest, false, &Path::new("/dev").join(name))?;
        bind(&host, &dest, &format!("/dev/{name}"))?;
    }
    for (name, target) in SYMLINKS {
        ch01_chroot::explain!("symlink /dev/{name} -> {target}"; "ln -s {target} /dev/{name}");
        let link = dev.join(name);
        if link.symlink_metadata().is_ok() {
            continue;
        }
        std::os::unix::fs::symlink(target, &link).map_err(|err| {
            Failure::at("symlink", format!("/dev/{name}"))(nix::errno::Errno::from_raw(
                err.raw_os_error().unwrap_or(0),
            ))
        })?;
    }
    Ok(())
}

/// With a terminal, /dev/console is the container's pty, as in docker.
pub(crate) fn console(pty_slave: &Path) -> Result<(), Failure> {
    let console = Path::new("/dev/console");
    ensure_mount_point(console, false, console)?;
    bind(pty_slave, console, "/dev/console")
}
