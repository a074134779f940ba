//! A container's root from read-only layers: the overlay mount.
//!
//! overlayfs (kernel Documentation/filesystems/overlayfs.rst) shows several
//! directories as one: `lowerdir` layers (read-only, the leftmost on top), an
//! `upperdir` that takes every write, and a `workdir` on the same filesystem
//! that the kernel uses to make copy-up atomic. Writing to a lower file first
//! copies it up; deleting one leaves a whiteout in the upper dir. Images are
//! the lower dirs, a container is its upper dir.
//!
//! The mount options travel to the kernel in one page (4096 bytes), which 128
//! absolute layer paths overflow. Docker's overlay2 driver gives each layer a
//! short symlink under `l/` and mounts from that directory with relative paths,
//! on a thread of its own that has `unshare(CLONE_FS)` so the chdir(2) does not
//! move the rest of the process. We do the same; the links are only needed at
//! mount time (overlayfs resolves each path once, when mounting), so they live
//! in a temp directory that is gone as soon as the mount is made.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};

use crate::io::{IoContext, IoError, TEMP_PREFIX};

// ANCHOR: overlay
/// The directories one overlay mount is made of.
#[derive(Debug, Clone)]
pub struct Overlay {
    /// Read-only layers, the top one first (as `lowerdir=` lists them).
    pub lowers: Vec<PathBuf>,
    /// Where writes go: new and copied-up files, whiteouts.
    pub upper: PathBuf,
    /// overlayfs's scratch directory; empty, on the upper dir's filesystem.
    pub work: PathBuf,
    /// Mount with `volatile` (Linux 5.10): overlayfs then never syncs the
    /// upper dir's filesystem, which it otherwise does on every unmount (a
    /// syncfs(2) of that whole filesystem, however little the container
    /// wrote). For an upper dir that is thrown away after one run; a crash
    /// may lose what was written to it, so overlayfs marks the work dir
    /// and refuses to mount it again until that mark is removed.
    pub volatile: bool,
}
// ANCHOR_END: overlay

/// Why an overlay could not be mounted or unmounted.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error("an overlay needs at least one lower layer")]
    NoLayers,
    #[error("{0}: no such directory (every layer, the upper and the work dir must exist)")]
    NotADirectory(PathBuf),
    #[error(
        "layer path {0} contains ':' or ',', which the overlay mount options use as separators"
    )]
    UnsafePath(PathBuf),
    #[error(
        "mount options for {layers} layers are {len} bytes even with short links, over the {max} one page holds"
    )]
    TooLong {
        layers: usize,
        len: usize,
        max: usize,
    },
    #[error("mount overlay on {target}: {errno}{hint}")]
    Mount {
        target: PathBuf,
        errno: Errno,
        hint: &'static str,
    },
    #[error("unmount {target}: {errno}")]
    Unmount { target: PathBuf, errno: Errno },
    #[error(transparent)]
    Io(#[from] IoError),
}

impl Overlay {
    /// Mounts the overlay on `target` (which must exist) and returns a guard
    /// that unmounts it when dropped.
    pub fn mount(&self, target: &Path) -> Result<Mounted, OverlayError> {
        if self.lowers.is_empty() {
            return Err(OverlayError::NoLayers);
        }
        for path in self.lowers.iter().chain([&self.upper, &self.work]) {
            if path
                .as_os_str()
                .as_bytes()
                .iter()
                .any(|b| b":,".contains(b))
            {
                return Err(OverlayError::UnsafePath(path.clone()));
            }
            if !path.is_dir() {
                return Err(OverlayError::NotADirectory(path.clone()));
            }
        }
        // ANCHOR: page_limit
        let max = page_size() - 1;
        let direct = options(&self.lowers, &self.upper, &self.work, self.volatile);
        if direct.len() <= max {
            ch01_chroot::explain!("mount(2) an overlay on {} (lower layers: {})", target.display(), self.lowers.len();
                "mount -t overlay overlay -o {direct} {}", target.display());
            mount_overlay(None, target, &direct)?;
        } else {
            let links = ShortLinks::create(&self.work, &self.lowers)?;
            // Mounting from the links dir: upper, work and target must not be relative to it.
            let target = &std::path::absolute(target).at("resolve", target)?;
            let relative = options(
                &links.names,
                &std::path::absolute(&self.upper).at("resolve", &self.upper)?,
                &std::path::absolute(&self.work).at("resolve", &self.work)?,
                self.volatile,
            );
            if relative.len() > max {
                return Err(OverlayError::TooLong {
                    layers: self.lowers.len(),
                    len: relative.len(),
                    max,
                });
            }
            ch01_chroot::explain!("mount(2) an overlay on {} (lower layers: {}) from {}, with relative paths: absolute ones take {} bytes, over a page",
                target.display(), self.lowers.len(), links.base.display(), direct.len();
                "(cd {} && mount -t overlay overlay -o {relative} {})", links.base.display(), target.display());
            mount_overlay(Some(&links.base), target, &relative)?;
        }
        // ANCHOR_END: page_limit
        Ok(Mounted {
            target: target.to_path_buf(),
            mounted: true,
        })
    }
}

impl Overlay {
    /// Removes the mark a `volatile` mount leaves in the work dir
    /// (`work/incompat/volatile`, which stays after a clean unmount too), so
    /// that the upper dir can be mounted again. Only for a caller who knows
    /// that nothing was lost: the machine has not gone down since the
    /// volatile mount wrote (an unmount loses nothing: what was written is
    /// in the page cache, unsynced but there).
    pub fn clear_volatile_mark(&self) -> Result<(), IoError> {
        let mark = self.work.join("work").join("incompat").join("volatile");
        match std::fs::remove_dir_all(&mark) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                Err(err).at("remove overlayfs's volatile mark", &mark)
            }
            _ => Ok(()),
        }
    }
}

/// The `-o` string: `lowerdir=A:B,upperdir=U,workdir=W` (and `,volatile`).
fn options(lowers: &[PathBuf], upper: &Path, work: &Path, volatile: bool) -> String {
    let lowers: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
    format!(
        "lowerdir={},upperdir={},workdir={}{}",
        lowers.join(":"),
        upper.display(),
        work.display(),
        if volatile { ",volatile" } else { "" }
    )
}

/// A mounted overlay. Unmounted (lazily, `MNT_DETACH`) when dropped, so a test or
/// a failed run never leaves a mount behind; [`Mounted::unmount`] reports errors.
#[derive(Debug)]
pub struct Mounted {
    target: PathBuf,
    mounted: bool,
}

impl Mounted {
    /// Where the merged view is.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Leaves the overlay mounted and forgets it, for a process that hands
    /// it on to another in the same mount namespace (which takes charge of
    /// it with [`Mounted::adopt`]).
    pub fn hand_over(mut self) {
        self.mounted = false;
    }

    /// Takes charge of an overlay that another process of this mount
    /// namespace mounted on `target` and handed over, if one is there:
    /// `target` is a mount point, on another device than its parent (an
    /// overlay gets a device of its own, stat(2)'s `st_dev`).
    pub fn adopt(target: &Path) -> Option<Mounted> {
        use std::os::unix::fs::MetadataExt;
        let dev = |path: &Path| std::fs::metadata(path).ok().map(|m| m.dev());
        let parent = dev(target.parent()?)?;
        (dev(target)? != parent).then(|| Mounted {
            target: target.to_path_buf(),
            mounted: true,
        })
    }

    /// Unmounts now, and says if that failed (e.g. busy).
    pub fn unmount(mut self) -> Result<(), OverlayError> {
        self.mounted = false;
        unmount(&self.target)
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.mounted {
            ch01_chroot::explain!("umount2(2) {} lazily (MNT_DETACH)", self.target.display();
                "umount -l {}", self.target.display());
            let _ = umount2(&self.target, MntFlags::MNT_DETACH);
        }
    }
}

/// Unmounts the overlay on `target`.
pub fn unmount(target: &Path) -> Result<(), OverlayError> {
    ch01_chroot::explain!("umount(2) {}", target.display(); "umount {}", target.display());
    umount2(target, MntFlags::empty()).map_err(|errno| OverlayError::Unmount {
        target: target.to_path_buf(),
        errno,
    })
}

/// A temp directory of short symlinks, `l/0`, `l/1`, ..., one per layer, beside
/// the work dir (so on a filesystem we may write). Removed when dropped.
struct ShortLinks {
    base: PathBuf,
    names: Vec<PathBuf>,
    _dir: tempfile::TempDir,
}

impl ShortLinks {
    fn create(work: &Path, layers: &[PathBuf]) -> Result<ShortLinks, IoError> {
        let parent = crate::io::parent_dir(work);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}links-"))
            .tempdir_in(parent)
            .at("create a links directory in", parent)?;
        let base = dir.path().to_path_buf();
        let l = base.join("l");
        std::fs::create_dir(&l).at("create", &l)?;
        ch01_chroot::explain!("give each of the {} layers a short name: a symlink in {}", layers.len(), l.display();
            "ln -s LAYER {}/N  # N = 0, 1, 2, ... in base 36", l.display());
        let mut names = Vec::with_capacity(layers.len());
        for (i, layer) in layers.iter().enumerate() {
            let name = Path::new("l").join(base36(i));
            let absolute = std::path::absolute(layer).at("resolve", layer)?;
            std::os::unix::fs::symlink(&absolute, base.join(&name))
                .at("symlink", &base.join(&name))?;
            names.push(name);
        }
        Ok(ShortLinks {
            base,
            names,
            _dir: dir,
        })
    }
}

/// `n` in base 36: the shortest names for up to 36, 1296, ... layers.
fn base36(mut n: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[n % 36]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |n| n as usize)
}

// ANCHOR: mount_overlay
/// mount(2) an overlay; with `base`, from a thread whose current directory is `base`.
fn mount_overlay(base: Option<&Path>, target: &Path, options: &str) -> Result<(), OverlayError> {
    let do_mount = || {
        mount(
            Some(OsStr::new("overlay")),
            target,
            Some(OsStr::new("overlay")),
            MsFlags::empty(),
            Some(options),
        )
    };
    let result = match base {
        None => do_mount(),
        Some(base) => std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    // The cwd is shared by all threads until this thread unshares it;
                    // the thread then ends, so nothing else ever sees the chdir.
                    unshare(CloneFlags::CLONE_FS)?;
                    nix::unistd::chdir(base)?;
                    do_mount()
                })
                .join()
                .expect("the mount thread does not panic")
        }),
    };
    result.map_err(|errno| OverlayError::Mount {
        target: target.to_path_buf(),
        errno,
        hint: match errno {
            Errno::EPERM => " (mounting needs root)",
            Errno::EINVAL => {
                " (are the upper and work dirs on one filesystem that supports overlay, and the work dir empty?)"
            }
            _ => "",
        },
    })
}
// ANCHOR_END: mount_overlay

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base36_is_short() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(127), "3j");
    }

    #[test]
    fn paths_with_separators_are_refused() {
        let overlay = Overlay {
            lowers: vec!["/a:b".into()],
            upper: "/u".into(),
            work: "/w".into(),
            volatile: false,
        };
        assert!(matches!(
            overlay.mount(Path::new("/m")),
            Err(OverlayError::UnsafePath(_))
        ));
    }
}
