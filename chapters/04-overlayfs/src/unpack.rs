//! Unpacking a layer tar(.gz) into a layer directory, safely and in one pass.
//!
//! A layer comes from someone else, so every entry is checked before it touches
//! the disk: a path with `..`, an absolute path, a path that goes through a
//! symlink (which could point anywhere, `link -> /` then `link/etc/passwd`), a
//! hard link to a name outside the layer: each is refused with an error naming
//! the entry. OCI whiteouts become overlayfs ones (see [`crate::whiteout`]);
//! modes, owners, mtimes and xattrs are kept; device nodes only as root.
//!
//! The blob streams through decompression, hashing (the diff ID, checked at the
//! end) and extraction together: no temp tar, no layer in memory. Everything is
//! written into a temp directory beside the target and renamed into place only
//! when all of it succeeded, so a failed or interrupted unpack leaves nothing
//! that looks like a layer.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use flate2::read::MultiGzDecoder;
use nix::sys::stat::{Mode, SFlag, UtimensatFlags, makedev, mknod, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{FchownatFlags, Gid, Uid, fchownat};
use tar::EntryType;

use crate::digest::{Digest, Hashing};
use crate::io::{IoContext, IoError, TEMP_PREFIX};
use crate::whiteout::{self, OCI_OPAQUE, OVERLAY_XATTR_PREFIX};
use crate::xattr;

/// What [`unpack`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// Size of the uncompressed tar in bytes.
    pub tar_size: u64,
}

/// Why a layer could not be unpacked. Nothing is left behind in any case.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("layer entry {entry:?} refused: {reason}")]
    Unsafe { entry: String, reason: String },
    #[error("layer entry {entry:?}: {what} can only be made by root")]
    NeedsRoot { entry: String, what: &'static str },
    #[error(
        "layer diff ID is {actual}, expected {expected}: the layer is corrupt or not the one asked for"
    )]
    DiffIdMismatch { expected: Digest, actual: Digest },
    #[error("read layer tar{}: {cause}", entry.as_ref().map(|e| format!(" at entry {e:?}")).unwrap_or_default())]
    Tar {
        entry: Option<String>,
        cause: std::io::Error,
    },
    #[error("{0} already exists: a layer is unpacked into a new directory")]
    Exists(PathBuf),
    #[error(transparent)]
    Io(#[from] IoError),
}

/// Unpacks the layer `blob` (a tar, gzip-compressed or not) into the new
/// directory `target`, checking its diff ID against `expected` when given.
pub fn unpack(
    blob: impl Read,
    target: &Path,
    expected: Option<&Digest>,
) -> Result<Unpacked, UnpackError> {
    if target.symlink_metadata().is_ok() {
        return Err(UnpackError::Exists(target.to_path_buf()));
    }
    let parent = crate::io::parent_dir(target);
    let temp = tempfile::Builder::new()
        .prefix(&format!("{TEMP_PREFIX}unpack-"))
        .tempdir_in(parent)
        .at("create a temp directory in", parent)?;
    ch01_chroot::explain!("unpack the layer into {}, then rename it to {}", temp.path().display(), target.display();
        "tar -xzf LAYER -C {} && mv {0} {}", temp.path().display(), target.display());

    let mut blob = BufReader::with_capacity(1 << 20, blob);
    let gzipped = blob
        .fill_buf()
        .at("read layer for", target)?
        .starts_with(&[0x1f, 0x8b]);
    let stream: Box<dyn Read> = if gzipped {
        Box::new(MultiGzDecoder::new(blob))
    } else {
        Box::new(blob)
    };
    let mut extract = Extract {
        root: temp.path().to_path_buf(),
        is_root: Uid::effective().is_root(),
        dirs: Vec::new(),
        buf: vec![0; 1 << 18],
    };
    let mut archive = tar::Archive::new(Hashing::new(stream));
    let entries = archive
        .entries()
        .map_err(|cause| UnpackError::Tar { entry: None, cause })?;
    for entry in entries {
        let entry = entry.map_err(|cause| UnpackError::Tar { entry: None, cause })?;
        extract.entry(entry)?;
    }
    // The tar may end with more zero blocks than the reader consumed: all of it
    // is part of what the diff ID covers.
    let mut hashing = archive.into_inner();
    std::io::copy(&mut hashing, &mut std::io::sink())
        .map_err(|cause| UnpackError::Tar { entry: None, cause })?;
    let (diff_id, tar_size, _) = hashing.finish();
    if let Some(expected) = expected.filter(|e| **e != diff_id) {
        return Err(UnpackError::DiffIdMismatch {
            expected: expected.clone(),
            actual: diff_id,
        });
    }
    extract.finish_dirs()?;
    let temp = temp.keep();
    std::fs::rename(&temp, target).at("rename into place", target)?;
    crate::io::sync_dir(parent)?;
    Ok(Unpacked { diff_id, tar_size })
}

/// Metadata a directory gets once everything inside it is written (writing
/// entries into it would change its mtime, and a read-only mode would stop us).
struct DirMeta {
    path: PathBuf,
    mode: u32,
    mtime: i64,
}

struct Extract {
    root: PathBuf,
    is_root: bool,
    dirs: Vec<DirMeta>,
    buf: Vec<u8>,
}

impl Extract {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let rel = clean(&raw).map_err(|why| unsafe_entry(&name, format!("it {why}")))?;
        let header = entry.header();
        let kind = header.entry_type();
        let tar_err = |cause| UnpackError::Tar {
            entry: Some(name.clone()),
            cause,
        };
        let mode = header.mode().map_err(tar_err)?;
        let uid = header.uid().map_err(tar_err)?;
        let gid = header.gid().map_err(tar_err)?;
        let mtime = header.mtime().map_err(tar_err)? as i64;

        if rel.as_os_str().is_empty() {
            // "./": the layer root itself.
            if kind == EntryType::Directory {
                self.chown(&self.root, uid, gid)?;
                self.dirs.push(DirMeta {
                    path: self.root.clone(),
                    mode,
                    mtime,
                });
            }
            return Ok(());
        }
        let parent = self.parents(&rel, &name)?;
        let file_name = rel.file_name().expect("cleaned paths end in a name");
        let path = parent.join(file_name);

        // ANCHOR: from_oci
        if file_name == OCI_OPAQUE {
            if !self.is_root {
                return Err(UnpackError::NeedsRoot {
                    entry: name,
                    what: "opaque directories (a trusted.* xattr)",
                });
            }
            return Ok(whiteout::make_opaque(&parent)?);
        }
        if let Some(target) = whiteout::oci_target(file_name) {
            if target.is_empty() || target == "." || target == ".." {
                return Err(unsafe_entry(&name, "a whiteout of no name"));
            }
            if !self.is_root {
                return Err(UnpackError::NeedsRoot {
                    entry: name,
                    what: "whiteouts (0:0 device nodes)",
                });
            }
            let victim = parent.join(target);
            remove_existing(&victim, true)?;
            return Ok(whiteout::make_whiteout(&victim)?);
        }
        // ANCHOR_END: from_oci

        match kind {
            EntryType::Directory => {
                match std::fs::symlink_metadata(&path) {
                    Ok(meta) if meta.is_dir() => {}
                    _ => {
                        remove_existing(&path, false)?;
                        std::fs::create_dir(&path).at("create directory", &path)?;
                    }
                }
                self.chown(&path, uid, gid)?;
                self.xattrs(&mut entry, &path)?;
                self.dirs.push(DirMeta { path, mode, mtime });
                return Ok(());
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                remove_existing(&path, true)?;
                let mut file = std::fs::File::options()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&path)
                    .at("create", &path)?;
                loop {
                    let n = entry.read(&mut self.buf).map_err(tar_err)?;
                    if n == 0 {
                        break;
                    }
                    file.write_all(&self.buf[..n]).at("write", &path)?;
                }
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry(&name, "a symlink with no target"))?;
                remove_existing(&path, true)?;
                // The target is not checked: it is resolved inside the container
                // at run time. What we refuse is writing *through* it (see parents).
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &path)
                    .at("symlink", &path)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_entry(&name, "a hard link with no target"))?;
                let target_rel = clean(&target).map_err(|why| {
                    let shown = String::from_utf8_lossy(&target);
                    unsafe_entry(&name, format!("its hard link target {shown:?} {why}"))
                })?;
                let source = self.parents(&target_rel, &name)?.join(
                    target_rel
                        .file_name()
                        .ok_or_else(|| unsafe_entry(&name, "a hard link to the layer root"))?,
                );
                match std::fs::symlink_metadata(&source) {
                    Ok(meta) if !meta.is_dir() => {}
                    _ => {
                        return Err(unsafe_entry(
                            &name,
                            format!(
                                "a hard link to {:?}, which is not a file earlier in the layer",
                                String::from_utf8_lossy(&target)
                            ),
                        ));
                    }
                }
                remove_existing(&path, true)?;
                std::fs::hard_link(&source, &path).at("hard link", &path)?;
                // A hard link shares its inode's metadata: nothing more to set.
                return Ok(());
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (sflag, dev) = match kind {
                    EntryType::Fifo => (SFlag::S_IFIFO, 0),
                    _ if !self.is_root => {
                        return Err(UnpackError::NeedsRoot {
                            entry: name,
                            what: "device nodes",
                        });
                    }
                    _ => {
                        let major = header.device_major().map_err(tar_err)?.unwrap_or(0);
                        let minor = header.device_minor().map_err(tar_err)?.unwrap_or(0);
                        let sflag = if kind == EntryType::Char {
                            SFlag::S_IFCHR
                        } else {
                            SFlag::S_IFBLK
                        };
                        (sflag, makedev(major.into(), minor.into()))
                    }
                };
                remove_existing(&path, true)?;
                mknod(&path, sflag, Mode::from_bits_truncate(0o600), dev).at("mknod", &path)?;
            }
            // PAX and GNU long-name headers are folded into the entry they
            // describe by the tar crate; anything else is not a file.
            _ => return Ok(()),
        }
        self.chown(&path, uid, gid)?;
        self.xattrs(&mut entry, &path)?;
        if kind != EntryType::Symlink {
            // After chown, which clears set-uid bits.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o7777))
                .at("chmod", &path)?;
        }
        set_mtime(&path, mtime)
    }

    // ANCHOR: parents
    /// Makes sure every directory above `rel` exists inside the layer and is a
    /// real directory, never a symlink; returns the parent's path.
    fn parents(&self, rel: &Path, name: &str) -> Result<PathBuf, UnpackError> {
        // LAB: walk rel's parent one component at a time from self.root, without following symlinks (symlink_metadata): a directory is fine; a symlink is refused with unsafe_entry(name, "its path goes through the symlink S, which could lead outside the layer"); anything else with "S is not a directory"; a missing one is created (then self.dirs_implicit); return the parent directory's path
        let mut dir = self.root.clone();
        let mut so_far = PathBuf::new();
        let parent = rel.parent().unwrap_or(Path::new(""));
        for part in parent.components() {
            dir.push(part);
            so_far.push(part);
            match std::fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(unsafe_entry(
                        name,
                        format!(
                            "its path goes through the symlink {}, which could lead outside the layer",
                            so_far.display()
                        ),
                    ));
                }
                Ok(_) => {
                    return Err(unsafe_entry(
                        name,
                        format!("{} is not a directory", so_far.display()),
                    ));
                }
                Err(_) => {
                    std::fs::create_dir(&dir).at("create directory", &dir)?;
                    self.dirs_implicit(&dir)?;
                }
            }
        }
        Ok(dir)
        // LAB: END
    }
    // ANCHOR_END: parents

    /// A directory the tar never listed gets docker's default: 0755.
    fn dirs_implicit(&self, dir: &Path) -> Result<(), UnpackError> {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .at("chmod", dir)
            .map_err(Into::into)
    }

    fn chown(&self, path: &Path, uid: u64, gid: u64) -> Result<(), UnpackError> {
        if !self.is_root {
            return Ok(()); // Like tar run by a user: files belong to whoever unpacks.
        }
        fchownat(
            nix::fcntl::AT_FDCWD,
            path,
            Some(Uid::from_raw(uid as u32)),
            Some(Gid::from_raw(gid as u32)),
            FchownatFlags::AT_SYMLINK_NOFOLLOW,
        )
        .at("chown", path)
        .map_err(Into::into)
    }

    /// Sets the xattrs recorded in the entry's PAX header (`SCHILY.xattr.NAME`),
    /// except overlayfs's own: a layer must not forge whiteouts or opaque dirs
    /// that way, and must not set xattrs only root may set unless we are root.
    fn xattrs<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        path: &Path,
    ) -> Result<(), UnpackError> {
        let Some(extensions) = entry.pax_extensions().map_err(|cause| UnpackError::Tar {
            entry: Some(path.display().to_string()),
            cause,
        })?
        else {
            return Ok(());
        };
        for ext in extensions {
            let ext = ext.map_err(|cause| UnpackError::Tar {
                entry: Some(path.display().to_string()),
                cause,
            })?;
            let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") else {
                continue;
            };
            if name.starts_with(OVERLAY_XATTR_PREFIX.as_bytes())
                || (!self.is_root && !name.starts_with(b"user."))
            {
                continue;
            }
            xattr::set(path, &OsString::from_vec(name.to_vec()), ext.value_bytes())?;
        }
        Ok(())
    }

    /// Gives directories their modes and mtimes, deepest first.
    fn finish_dirs(&mut self) -> Result<(), UnpackError> {
        self.dirs
            .sort_by_key(|d| std::cmp::Reverse(d.path.components().count()));
        for dir in &self.dirs {
            std::fs::set_permissions(
                &dir.path,
                std::fs::Permissions::from_mode(dir.mode & 0o7777),
            )
            .at("chmod", &dir.path)?;
            set_mtime(&dir.path, dir.mtime)?;
        }
        if !self.dirs.iter().any(|d| d.path == self.root) {
            self.dirs_implicit(&self.root)?;
        }
        Ok(())
    }
}

fn unsafe_entry(name: &str, reason: impl Into<String>) -> UnpackError {
    UnpackError::Unsafe {
        entry: name.to_string(),
        reason: reason.into(),
    }
}

// ANCHOR: clean
/// The entry path, relative and normal: `./a//b/` -> `a/b`. Refuses an absolute
/// path and any `..` (rather than guess what the layer meant), saying why as the
/// end of a sentence about the path ("... climbs out of the layer with '..'").
fn clean(raw: &[u8]) -> Result<PathBuf, &'static str> {
    // LAB: turn the raw entry name into a relative path of Normal components only (Path::components): skip `.`, refuse `..` with "climbs out of the layer with '..'" and a leading `/` with "is an absolute path"
    let path = Path::new(OsStr::from_bytes(raw));
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("climbs out of the layer with '..'"),
            Component::RootDir | Component::Prefix(_) => {
                return Err("is an absolute path");
            }
        }
    }
    Ok(out)
    // LAB: END
}
// ANCHOR_END: clean

/// Clears the way for a new entry at `path` (a later entry replaces an earlier one).
fn remove_existing(path: &Path, dirs_too: bool) -> Result<(), IoError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() && dirs_too => std::fs::remove_dir_all(path).at("remove", path),
        Ok(meta) if !meta.is_dir() => std::fs::remove_file(path).at("remove", path),
        _ => Ok(()),
    }
}

fn set_mtime(path: &Path, mtime: i64) -> Result<(), UnpackError> {
    let time = TimeSpec::new(mtime, 0);
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &time,
        &time,
        UtimensatFlags::NoFollowSymlink,
    )
    .at("set mtime of", path)
    .map_err(Into::into)
}
