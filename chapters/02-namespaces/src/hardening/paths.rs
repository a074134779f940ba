//! Masked and read-only paths: the parts of /proc and /sys docker hides or
//! write-protects, because through them root inside could read kernel memory
//! and keys or change the host kernel's settings (they are not namespaced).

use std::path::Path;

use ch01_chroot::explain;
use nix::mount::{MsFlags, mount};

use crate::channel::Failure;

// ANCHOR: masked
/// Hidden: a file gets /dev/null mounted over it, a directory an empty read-only tmpfs.
pub const MASKED: [&str; 10] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];
// ANCHOR_END: masked

// ANCHOR: readonly
/// Visible but read-only: bind-mounted onto themselves, then remounted read-only.
pub const READONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];
// ANCHOR_END: readonly

// ANCHOR: mask
/// Masks `path` (inside the container, after pivot_root). A path this kernel
/// does not have is skipped, as runc does.
pub(crate) fn mask(path: &str) -> Result<(), Failure> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let result = if meta.is_dir() {
        explain!("hide {path} under an empty read-only tmpfs"; "mount -t tmpfs -o ro tmpfs {path}");
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        )
    } else {
        explain!("hide {path} by mounting /dev/null over it"; "mount --bind /dev/null {path}");
        mount(
            Some("/dev/null"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    };
    result.map_err(Failure::at("mask", path))
}
// ANCHOR_END: mask

/// Makes `path` read-only (inside the container, after pivot_root).
pub(crate) fn readonly(path: &str) -> Result<(), Failure> {
    if !Path::new(path).exists() {
        return Ok(());
    }
    explain!("make {path} read-only"; "mount --bind {path} {path} && mount -o remount,bind,ro {path}");
    let rec = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount(Some(path), path, None::<&str>, rec, None::<&str>).map_err(Failure::at("bind", path))?;
    remount_readonly(path)
}

/// Remounts the bind mount at `path` read-only, keeping the flags it has:
/// mount_namespaces(7)/mount(2) refuse (EPERM) to clear nosuid, nodev or noexec
/// on a remount in a user namespace, so we read them back and keep them.
pub(crate) fn remount_readonly(path: &str) -> Result<(), Failure> {
    let kept = nix::sys::statvfs::statvfs(path)
        .map(|st| {
            use nix::sys::statvfs::FsFlags;
            let mut flags = MsFlags::empty();
            for (fs, ms) in [
                (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
                (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
                (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            ] {
                if st.flags().contains(fs) {
                    flags |= ms;
                }
            }
            flags
        })
        .map_err(Failure::at("statvfs", path))?;
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept;
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
        .map_err(Failure::at("remount read-only", path))
}
