//! `cp`: files between a container and the host, both ways.
//!
//! The container's root is mounted (its layers + its upper dir) but nothing runs
//! in it, and every path inside it is resolved with chapter 04's
//! [`resolve_in_root`], so a symlink the container holds (`/escape -> /`) leads
//! to the container's root, never the host's (CVE-2018-15664). Copies into the
//! container replace a symlink in the way rather than write through it. The
//! container's volumes and bind mounts are bound over its root first, as
//! docker's daemon does, so a copy sees the files the container sees there.
//! `-` for the host side streams a tar archive instead, as docker's does:
//! `cp CONTAINER:SRC -` writes one to stdout, `cp - CONTAINER:DIR` unpacks
//! one from stdin.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ch04_overlayfs::scoped::resolve_in_root;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{FchownatFlags, Gid, Uid, fchownat};

use crate::cli::CpArgs;
use crate::engine::Engine;

/// `CONTAINER:PATH` -> (container, path); a local path (which may hold a colon
/// only after a `/`, as docker reads it) -> None.
fn split_container(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    arg.split_once(':').filter(|(c, _)| !c.contains('/'))
}

/// `cp CONTAINER:SRC DEST` or `cp SRC CONTAINER:DEST`.
pub fn cp(root: &Path, args: CpArgs) -> anyhow::Result<i32> {
    let (from, to) = (
        split_container(&args.source),
        split_container(&args.destination),
    );
    let (reference, inside, copy_in) = match (from, to) {
        (Some(_), Some(_)) => anyhow::bail!("copying between containers is not supported"),
        (None, None) => anyhow::bail!("must specify at least one container source"),
        (Some((c, p)), None) => (c, p, false),
        (None, Some((c, p))) => (c, p, true),
    };
    let inside = if inside.is_empty() { "/" } else { inside };
    let engine = Engine::open(root)?;
    let container = engine.container(reference)?;
    let mounted = engine.mount(&container)?;
    let merged = container.merged_dir();
    let binds = Binds::mount(&container.config.spec, &merged)?;
    let not_found = || format!("Could not find the file {inside} in container {reference}");
    if copy_in && args.source == "-" {
        // A tar archive on stdin, unpacked into the directory DEST.
        let dest = resolve_in_root(&merged, Path::new(inside), true)?;
        if !dest.is_dir() {
            anyhow::bail!(not_found());
        }
        if binds.read_only(&dest) {
            anyhow::bail!("mounted volume is marked read-only");
        }
        unpack_stdin(&dest)?;
    } else if copy_in {
        let source = Path::new(&args.source);
        let meta = std::fs::symlink_metadata(source)
            .with_context(|| format!("stat {}", source.display()))?;
        let dest = resolve_in_root(&merged, Path::new(inside), true)?;
        let parent = dest.parent().unwrap_or(&merged);
        if !parent.is_dir() {
            anyhow::bail!(not_found());
        }
        if binds.read_only(&dest) {
            anyhow::bail!("mounted volume is marked read-only");
        }
        let target = target(source, &dest, meta.is_dir(), &args.destination)?;
        copy_tree(source, &target, args.archive, true)?;
    } else {
        let source = resolve_in_root(&merged, Path::new(inside), args.follow_link)?;
        let meta = std::fs::symlink_metadata(&source).map_err(|_| anyhow::anyhow!(not_found()))?;
        if args.destination == "-" {
            archive_to_stdout(&source, Path::new(inside), meta.is_dir())?;
            binds.unmount()?;
            mounted.unmount()?;
            return Ok(0);
        }
        let dest = Path::new(&args.destination);
        let target = target(Path::new(inside), dest, meta.is_dir(), &args.destination)?;
        // Out of the container, files belong to whoever copies them (root
        // here), unless -a keeps the container's owners.
        copy_tree(&source, &target, args.archive, false)?;
    }
    binds.unmount()?;
    mounted.unmount()?;
    Ok(0)
}

/// `cp CONTAINER:SRC -`: SRC as a tar archive on stdout, its entries named
/// from SRC's last component (`etc/`, `etc/passwd`... for `/etc`), as
/// docker's. Symlinks are archived as symlinks, never followed.
fn archive_to_stdout(source: &Path, shown: &Path, is_dir: bool) -> anyhow::Result<()> {
    let name = shown.file_name().map_or_else(|| Path::new("."), Path::new);
    let mut tar = tar::Builder::new(std::io::BufWriter::new(std::io::stdout().lock()));
    tar.follow_symlinks(false);
    match is_dir {
        true => tar.append_dir_all(name, source),
        false => tar.append_path_with_name(source, name),
    }
    .and_then(|()| tar.into_inner()?.flush())
    .with_context(|| format!("archive {}", shown.display()))
}

/// `cp - CONTAINER:DEST`: a tar archive from stdin unpacked into DEST, with
/// its modes and owners. The tar crate refuses entries that would land
/// outside DEST (`..`, a symlink in the archive leading out), so an archive
/// cannot write past the container's root either.
fn unpack_stdin(dest: &Path) -> anyhow::Result<()> {
    let mut archive = tar::Archive::new(std::io::stdin().lock());
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_overwrite(true);
    archive
        .unpack(dest)
        .context("unpack the archive from stdin")
}

/// The container's volumes and bind mounts (`-v`, `--mount type=bind|volume`),
/// bound over its root in this process's private mount namespace as they are
/// in the container's, the way docker's daemon mounts them for `docker cp`:
/// a copy reads and writes what the container sees at those paths (the
/// volume's files), not the empty mount points beneath them in its upper dir.
/// tmpfs mounts are not among them: their files live only in the running
/// container's memory, as in docker.
#[derive(Debug)]
struct Binds {
    /// Where each is bound on the host, outermost first, and whether read-only.
    targets: Vec<(PathBuf, bool)>,
}

impl Binds {
    // ANCHOR: binds
    fn mount(spec: &oci_spec::runtime::Spec, merged: &Path) -> anyhow::Result<Binds> {
        let mut binds: Vec<_> = spec
            .mounts()
            .iter()
            .flatten()
            .filter(|m| m.typ().as_deref() == Some("bind"))
            .filter_map(|m| Some((m.source().as_ref()?, m)))
            .collect();
        // /data before /data/sub, whatever order the flags came in.
        binds.sort_by_key(|(_, m)| m.destination().components().count());
        let mut mounted = Binds {
            targets: Vec::new(),
        };
        for (source, m) in binds {
            let read_only = m.options().iter().flatten().any(|o| o == "ro");
            // Resolved in the container's root, as every path of a copy is.
            let target = resolve_in_root(merged, m.destination(), true)?;
            if !target.exists() {
                // The engine makes mount points when it creates a container;
                // one removed since is made again, as a start would need it.
                let made = match source.is_dir() {
                    true => std::fs::create_dir_all(&target),
                    false => std::fs::File::create(&target).map(drop),
                };
                made.with_context(|| format!("create the mount point {}", target.display()))?;
            }
            let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
            mount(Some(source), &target, None::<&str>, flags, None::<&str>).with_context(|| {
                format!("bind {} on {}", source.display(), m.destination().display())
            })?;
            mounted.targets.push((target.clone(), read_only));
            if read_only {
                let flags = flags | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
                mount(None::<&str>, &target, None::<&str>, flags, None::<&str>)
                    .with_context(|| format!("make {} read-only", m.destination().display()))?;
            }
        }
        Ok(mounted)
    }
    // ANCHOR_END: binds

    /// Whether `path` (on the host, resolved in the container's root) is on a
    /// read-only volume or bind mount: the innermost mount holding it decides.
    fn read_only(&self, path: &Path) -> bool {
        self.targets
            .iter()
            .rev()
            .find(|(target, _)| path.starts_with(target))
            .is_some_and(|&(_, read_only)| read_only)
    }

    /// Unbinds them, innermost first, so the root can be unmounted after.
    fn unmount(mut self) -> anyhow::Result<()> {
        while let Some((target, _)) = self.targets.pop() {
            umount2(&target, MntFlags::MNT_DETACH)
                .with_context(|| format!("unmount {}", target.display()))?;
        }
        Ok(())
    }
}

impl Drop for Binds {
    /// A copy that failed half-way still unbinds (before the root's
    /// [`Mounted`](ch04_overlayfs::Mounted), declared earlier, is dropped).
    fn drop(&mut self) {
        while let Some((target, _)) = self.targets.pop() {
            let _ = umount2(&target, MntFlags::MNT_DETACH);
        }
    }
}

/// Where a copy of `source` lands, by docker's rules: into `dest` when it is an
/// existing directory, else as `dest` itself.
fn target(source: &Path, dest: &Path, source_is_dir: bool, shown: &str) -> anyhow::Result<PathBuf> {
    let contents_only = source.ends_with(".") || source.to_string_lossy().ends_with("/.");
    match std::fs::metadata(dest) {
        Ok(meta) if meta.is_dir() && !contents_only => {
            let name = source
                .file_name()
                .map_or_else(|| PathBuf::from("."), PathBuf::from);
            Ok(dest.join(name))
        }
        Ok(meta) if meta.is_dir() => Ok(dest.to_path_buf()),
        Ok(_) if source_is_dir => anyhow::bail!("cannot copy a directory to a file: {shown}"),
        _ if shown.ends_with('/') && !source_is_dir => {
            anyhow::bail!("destination directory {shown} does not exist")
        }
        _ => Ok(dest.to_path_buf()),
    }
}

/// Copies `source` (a file, directory tree or symlink, not followed) to `dest`,
/// keeping modes and mtimes, and owners with `archive`. With `replace_links`, a
/// symlink already at a destination path is removed, not written through.
pub fn copy_tree(
    source: &Path,
    dest: &Path,
    archive: bool,
    replace_links: bool,
) -> anyhow::Result<()> {
    let meta =
        std::fs::symlink_metadata(source).with_context(|| format!("stat {}", source.display()))?;
    if let Ok(existing) = std::fs::symlink_metadata(dest)
        && ((replace_links && existing.is_symlink())
            || (!existing.is_dir() && meta.is_dir())
            || (existing.is_dir() && !meta.is_dir()))
    {
        if existing.is_dir() {
            std::fs::remove_dir_all(dest)
        } else {
            std::fs::remove_file(dest)
        }
        .with_context(|| format!("replace {}", dest.display()))?;
    }
    let file_type = meta.file_type();
    if file_type.is_symlink() {
        let link = std::fs::read_link(source)
            .with_context(|| format!("read link {}", source.display()))?;
        if std::fs::symlink_metadata(dest).is_ok() {
            std::fs::remove_file(dest).with_context(|| format!("replace {}", dest.display()))?;
        }
        std::os::unix::fs::symlink(&link, dest)
            .with_context(|| format!("symlink {}", dest.display()))?;
    } else if file_type.is_dir() {
        if !dest.is_dir() {
            std::fs::create_dir(dest).with_context(|| format!("create {}", dest.display()))?;
        }
        let mut entries: Vec<_> = std::fs::read_dir(source)
            .with_context(|| format!("read directory {}", source.display()))?
            .collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            copy_tree(
                &entry.path(),
                &dest.join(entry.file_name()),
                archive,
                replace_links,
            )?;
        }
        std::fs::set_permissions(dest, meta.permissions())?;
    } else if file_type.is_file() {
        std::fs::copy(source, dest)
            .with_context(|| format!("copy {} to {}", source.display(), dest.display()))?;
    } else {
        // Devices, fifos and sockets are not copied (docker's tar would need root on both sides).
        return Ok(());
    }
    if archive {
        fchownat(
            nix::fcntl::AT_FDCWD,
            dest,
            Some(Uid::from_raw(meta.uid())),
            Some(Gid::from_raw(meta.gid())),
            FchownatFlags::AT_SYMLINK_NOFOLLOW,
        )
        .with_context(|| format!("chown {}", dest.display()))?;
    }
    let mtime = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    utimensat(
        nix::fcntl::AT_FDCWD,
        dest,
        &mtime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
    .with_context(|| format!("set times of {}", dest.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_are_told_from_local_ones_as_docker_tells_them() {
        assert_eq!(
            split_container("web:/etc/passwd"),
            Some(("web", "/etc/passwd"))
        );
        assert_eq!(split_container("web:"), Some(("web", "")));
        assert_eq!(split_container("/tmp/a:b"), None);
        assert_eq!(split_container("./a:b"), None);
        assert_eq!(split_container("dir/a:b"), None);
        assert_eq!(split_container("plain"), None);
    }

    #[test]
    fn a_copy_lands_in_an_existing_directory_or_as_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("file"), "").unwrap();
        let t = |src: &str, dest: &Path, is_dir| target(Path::new(src), dest, is_dir, "shown");
        assert_eq!(t("/etc/passwd", d, false).unwrap(), d.join("passwd"));
        assert_eq!(t("/etc/.", d, true).unwrap(), d.to_path_buf());
        assert_eq!(t("/etc", &d.join("new"), true).unwrap(), d.join("new"));
        assert_eq!(
            t("/etc/passwd", &d.join("file"), false).unwrap(),
            d.join("file")
        );
        assert!(t("/etc", &d.join("file"), true).is_err());
    }
}
