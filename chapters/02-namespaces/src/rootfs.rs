//! The container's root filesystem: its own mount table, entered with pivot_root(2).
//!
//! Chapter 01's chroot(2) only changed what `/` means for path lookups; the host's
//! mounts stayed reachable (its /proc escape showed it). Here, in a new mount
//! namespace, every mount is made private first, so nothing we do propagates to
//! the host; the rootfs is bind-mounted onto itself (pivot_root needs a mount
//! point); the spec's mounts (/proc, /dev, /sys, ...) are made inside it; and
//! pivot_root(2) swaps the root mount itself, after which the old root is
//! unmounted, so no path leads back to the host. When the last process of the
//! namespace exits, the kernel drops all these mounts: nothing is left behind.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use ch01_chroot::explain;
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use oci_spec::runtime::{Mount, Spec};

use crate::Error;
use crate::channel::Failure;
use crate::hardening::paths;

/// The per-container files docker provides in /etc, by their names there.
pub const ETC_FILES: [&str; 3] = ["hostname", "hosts", "resolv.conf"];

/// What a container named `hostname` finds in each of [`ETC_FILES`], in
/// that order: its name; localhost and itself; the host's resolv.conf
/// without loopback name servers, as docker does (127.0.0.53 on the host is
/// not reachable from a new network namespace).
pub fn etc_files(hostname: &str) -> [String; 3] {
    let hosts = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
    );
    let resolv: String = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter(|line| {
            let mut words = line.split_whitespace();
            !(words.next() == Some("nameserver")
                && words
                    .next()
                    .is_some_and(|ip| ip.starts_with("127.") || ip == "::1"))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    [format!("{hostname}\n"), hosts, resolv]
}

/// Whether `spec` mounts a file of its own on /etc/`name` (chapter 05's
/// networks, the engine's containers, a user's `-v`), as docker hands runc
/// its own files: the runner then provides none there.
pub fn mounted_by_spec(spec: &Spec, name: &str) -> bool {
    mounts_on(spec, &Path::new("/etc").join(name))
}

/// Whether one of `spec`'s mounts is on `destination` (a path in the container).
pub fn mounts_on(spec: &Spec, destination: &Path) -> bool {
    spec.mounts()
        .iter()
        .flatten()
        .any(|m| m.destination() == destination)
}

/// The [`ETC_FILES`] a container's spec does not mount itself, written by
/// the runner in a temporary directory (never into the rootfs, which may be
/// shared) and bind-mounted over the rootfs's own when it has them. Removed
/// on drop.
#[derive(Debug)]
pub struct EtcFiles {
    dir: tempfile::TempDir,
}

impl EtcFiles {
    /// The files for a container started from `spec`, or `None` if its spec
    /// mounts all of them (no directory is made then).
    pub fn for_spec(spec: &Spec) -> Result<Option<EtcFiles>, Error> {
        if ETC_FILES.iter().all(|name| mounted_by_spec(spec, name)) {
            return Ok(None);
        }
        EtcFiles::write(spec.hostname().as_deref().unwrap_or_default()).map(Some)
    }

    /// Writes [`etc_files`] for a container named `hostname`.
    fn write(hostname: &str) -> Result<EtcFiles, Error> {
        let dir = tempfile::Builder::new()
            .prefix("dockyard-ch02-")
            .tempdir()
            .map_err(Error::io("create a directory for /etc files"))?;
        for (name, text) in ETC_FILES.iter().zip(etc_files(hostname)) {
            let path = dir.path().join(name);
            std::fs::write(&path, text).map_err(Error::io(format!("write {}", path.display())))?;
        }
        Ok(EtcFiles { dir })
    }

    /// Where the files are on the host.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

// ANCHOR: enter
/// Makes the mount namespace and the root filesystem, then enters it. Runs in
/// the child, in its new mount namespace; `rootfs` is absolute.
pub(crate) fn enter(
    spec: &Spec,
    rootfs: &Path,
    etc: Option<&Path>,
    runner_mount_ns: u64,
) -> Result<(), Failure> {
    // A safety net, not a step: everything below rearranges the mount table. In the
    // runner's own mount namespace (if clone(2) had been asked for no CLONE_NEWNS)
    // it would make the host's mounts private and pivot_root(2) the whole machine,
    // whose root, per pivot_root(2), every process shares.
    if mount_namespace_of("self").ok() == Some(runner_mount_ns) {
        return Err(Failure::Step {
            step: "refusing to change mounts in the runner's own mount namespace (no CLONE_NEWNS?)"
                .into(),
            on: None,
            errno: Errno::EINVAL as i32,
        });
    }
    crate::namespaces::make_mounts_private().map_err(Failure::at("make mounts private", "/"))?;
    explain!("bind-mount the rootfs onto itself: pivot_root needs a mount point";
        "mount --rbind {0} {0}", rootfs.display());
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(Failure::at("bind-mount rootfs", rootfs.display()))?;

    for m in spec.mounts().iter().flatten() {
        mount_one(rootfs, m)?;
    }
    if mounts_on(spec, Path::new("/dev")) {
        crate::devices::populate(rootfs)?;
    }
    for name in ETC_FILES {
        // A spec's own file was mounted above; `etc` has the others.
        let Some(etc) = etc.filter(|_| !mounted_by_spec(spec, name)) else {
            continue;
        };
        let dest = rootfs.join("etc").join(name);
        if !dest.is_file() {
            explain!(
                "the rootfs has no /etc/{name} to bind over: skipped (we never write into the rootfs)"
            );
            continue;
        }
        bind(&etc.join(name), &dest, &format!("/etc/{name}"))?;
        // A bind mount is a mount of its own: the root's remount below
        // leaves it writable. docker makes these read-only with the root.
        if read_only_root(spec) {
            explain!("make /etc/{name} read-only too, as the root will be";
                "mount -o remount,bind,ro {}", dest.display());
            paths::remount_readonly(&dest.to_string_lossy())?;
        }
    }

    pivot(rootfs)?;

    if let Some(linux) = spec.linux() {
        for path in linux.masked_paths().iter().flatten() {
            paths::mask(path)?;
        }
        for path in linux.readonly_paths().iter().flatten() {
            paths::readonly(path)?;
        }
    }
    if read_only_root(spec) {
        explain!("make the root filesystem read-only"; "mount -o remount,bind,ro /");
        paths::remount_readonly("/")?;
    }
    Ok(())
}
// ANCHOR_END: enter

/// Whether the spec asks for a read-only root (`docker run --read-only`).
pub fn read_only_root(spec: &Spec) -> bool {
    spec.root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
}

// ANCHOR: pivot
/// pivot_root(2) with `new_root` and `put_old` both ".", as its manual suggests:
/// the old root ends up mounted on top of the new one, where `umount2(".",
/// MNT_DETACH)` removes it, without needing a directory for it in the rootfs.
fn pivot(rootfs: &Path) -> Result<(), Failure> {
    // LAB: chdir(2) into the rootfs, pivot_root(".", ".") so it becomes / with the old root stacked on top, detach the old root with umount2(".", MNT_DETACH), then chdir("/"); narrate each step with explain! and map each error with Failure::at
    nix::unistd::chdir(rootfs).map_err(Failure::at("chdir(2)", rootfs.display()))?;
    explain!("pivot_root(2): the rootfs becomes /, the old root stacks on top"; "cd {} && pivot_root . .", rootfs.display());
    nix::unistd::pivot_root(".", ".").map_err(Failure::at("pivot_root(2)", rootfs.display()))?;
    explain!("detach the old root: no path leads back to the host any more"; "umount -l .");
    umount2(".", MntFlags::MNT_DETACH).map_err(Failure::at("umount2(2) the old root", "/"))?;
    nix::unistd::chdir("/").map_err(Failure::at("chdir(2)", "/"))
    // LAB: END
}
// ANCHOR_END: pivot

// ANCHOR: mount_one
/// Makes one mount of the spec under `rootfs`.
fn mount_one(rootfs: &Path, m: &Mount) -> Result<(), Failure> {
    // LAB: make one mount of the spec inside the rootfs: the destination is inside(rootfs, m.destination()); parse_options splits m.options() into mount(2) flags and filesystem data; a bind mount (MS_BIND in the flags) needs ensure_mount_point and bind, then paths::remount_readonly if MS_RDONLY is set; any other is ensure_mount_point (a directory) and mount(2) of type m.typ() from m.source() with the flags and the data
    let dest_in = m.destination();
    let dest = inside(rootfs, dest_in)?;
    let typ = m.typ().as_deref().unwrap_or("none");
    let (flags, data) = parse_options(m.options().as_deref().unwrap_or_default());
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    if flags.contains(MsFlags::MS_BIND) {
        ensure_mount_point(&dest, source.is_dir(), dest_in)?;
        bind(&source, &dest, &dest_in.display().to_string())?;
        if flags.contains(MsFlags::MS_RDONLY) {
            paths::remount_readonly(&dest.display().to_string())?;
        }
        return Ok(());
    }
    ensure_mount_point(&dest, true, dest_in)?;
    let opts = m.options().as_deref().unwrap_or_default().join(",");
    explain!("mount {typ} on {}", dest_in.display(); "mount -t {typ} {}{} {}",
        if opts.is_empty() { String::new() } else { format!("-o {opts} ") }, source.display(), dest.display());
    let data = (!data.is_empty()).then_some(data.as_str());
    mount(Some(&source), &dest, Some(typ), flags, data)
        .map_err(Failure::at(&format!("mount {typ}"), dest_in.display()))
    // LAB: END
}
// ANCHOR_END: mount_one

/// Bind-mounts `source` onto `dest`; `shown` is where the container will see it.
pub(crate) fn bind(source: &Path, dest: &Path, shown: &str) -> Result<(), Failure> {
    explain!("bind-mount {} on {shown}", source.display(); "mount --bind {} {}", source.display(), dest.display());
    mount(
        Some(source),
        dest,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(Failure::at(
        "bind-mount",
        format!("{} on {shown}", source.display()),
    ))
}

/// `rootfs` joined with an absolute path from the spec, refusing `..` and any
/// symlink on the way: a rootfs is untrusted, and a symlinked /proc or /dev
/// would otherwise make us mount over a host directory (the runc CVE-2019-19921 family).
fn inside(rootfs: &Path, dest: &Path) -> Result<PathBuf, Failure> {
    let mut path = rootfs.to_path_buf();
    for component in dest.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => {
                path.push(part);
                if path
                    .symlink_metadata()
                    .is_ok_and(|m| m.file_type().is_symlink())
                {
                    return Err(Failure::at(
                        "mount destination is a symlink",
                        dest.display(),
                    )(Errno::ELOOP));
                }
            }
            _ => {
                return Err(Failure::at(
                    "mount destination leaves the rootfs",
                    dest.display(),
                )(Errno::EINVAL));
            }
        }
    }
    Ok(path)
}

/// A mount needs an existing file or directory to mount on. We create one only
/// on a tmpfs we mounted ourselves (such as /dev), never in the rootfs, which
/// may be shared by other containers.
pub(crate) fn ensure_mount_point(path: &Path, dir: bool, shown: &Path) -> Result<(), Failure> {
    if path.exists() {
        return Ok(());
    }
    let parent = path.parent().unwrap_or(path);
    let on_tmpfs = nix::sys::statfs::statfs(parent)
        .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC);
    if !on_tmpfs {
        return Err(Failure::at(
            "mount point missing from the rootfs (dockyard never writes into it)",
            shown.display(),
        )(Errno::ENOENT));
    }
    let made = if dir {
        std::fs::create_dir(path)
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(path)
            .map(drop)
    };
    made.map_err(|err| {
        Failure::at("create mount point", shown.display())(Errno::from_raw(
            err.raw_os_error().unwrap_or(0),
        ))
    })
}

/// Splits mount(8)-style options into mount(2) flags and filesystem data.
/// Whether the runtime makes `m` as a bind mount: its options hold `bind`
/// or `rbind` (its type is not looked at, as [`mount_one`] does not).
pub fn is_bind(m: &Mount) -> bool {
    parse_options(m.options().as_deref().unwrap_or_default())
        .0
        .contains(MsFlags::MS_BIND)
}

fn parse_options(options: &[String]) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "private" | "rprivate" | "slave" | "rslave" | "shared" | "rshared" => continue,
            other => {
                data.push(other.to_string());
                continue;
            }
        };
        flags = (flags | set) & !clear;
    }
    (flags, data.join(","))
}

/// The inode of `/proc/PID/ns/mnt`: two processes are in the same mount namespace
/// exactly when these are equal (namespaces(7)). `pid` may be `self`.
pub(crate) fn mount_namespace_of(pid: &str) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(format!("/proc/{pid}/ns/mnt"))?.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split_into_flags_and_data() {
        let opts: Vec<String> = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "ro"]
            .map(String::from)
            .into();
        let (flags, data) = parse_options(&opts);
        assert_eq!(
            flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY
        );
        assert_eq!(data, "newinstance,ptmxmode=0666");
    }

    #[test]
    fn destinations_stay_inside_the_rootfs() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("proc")).unwrap();
        assert_eq!(
            inside(dir.path(), Path::new("/dev/pts")).unwrap(),
            dir.path().join("dev/pts")
        );
        assert!(inside(dir.path(), Path::new("/proc")).is_err());
        assert!(inside(dir.path(), Path::new("/../etc")).is_err());
    }

    #[test]
    fn never_rearranges_the_runners_own_mounts() {
        // Called in the test's own mount namespace, as a child cloned without
        // CLONE_NEWNS would be: it must refuse before its first mount(2).
        let ours = mount_namespace_of("self").unwrap();
        let spec = oci_spec::runtime::Spec::default();
        let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let refused = enter(&spec, Path::new("/nonexistent"), None, ours);
        assert!(
            matches!(refused, Err(Failure::Step { ref step, .. }) if step.starts_with("refusing"))
        );
        assert_eq!(
            std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
            before
        );
    }

    #[test]
    fn a_spec_that_mounts_every_etc_file_gets_no_directory_of_ours() {
        let mut spec = oci_spec::runtime::Spec::default();
        spec.set_hostname(Some("box".into()));
        let etc = |names: &[&str]| {
            let mounts = names
                .iter()
                .map(|name| {
                    oci_spec::runtime::MountBuilder::default()
                        .destination(format!("/etc/{name}"))
                        .typ("bind")
                        .source(format!("/srv/{name}"))
                        .options(vec!["rbind".to_string()])
                        .build()
                        .unwrap()
                })
                .collect();
            let mut spec = spec.clone();
            spec.set_mounts(Some(mounts));
            EtcFiles::for_spec(&spec).unwrap()
        };
        assert!(etc(&ETC_FILES).is_none());
        let files = etc(&["hosts"]).expect("two files are the runner's");
        assert_eq!(
            std::fs::read_to_string(files.dir().join("hostname")).unwrap(),
            "box\n"
        );
    }

    #[test]
    fn resolv_conf_drops_loopback_name_servers() {
        let files = EtcFiles::write("box").unwrap();
        let resolv = std::fs::read_to_string(files.dir().join("resolv.conf")).unwrap();
        assert!(!resolv.contains("nameserver 127."));
        assert_eq!(
            std::fs::read_to_string(files.dir().join("hostname")).unwrap(),
            "box\n"
        );
    }
}
