//! `docker commit`: a container's upper dir becomes an OCI layer.
//!
//! A layer is a tar of the changed files (image-spec layer.md, "Change Types"),
//! where deletions, which overlayfs records as whiteout devices and opaque
//! xattrs, are written as OCI whiteout files (`.wh.NAME`, `.wh..wh..opq`). The
//! tar is gzip-compressed and stored in the content store under the sha256 of
//! the compressed bytes (its digest); the sha256 of the tar itself is its diff
//! ID, the name the image config lists (config.md, "rootfs"). Both hashes are
//! computed in the one pass that writes the blob.
//!
//! The same upper dir always gives the same bytes: entries in name order, only
//! the metadata a layer keeps (no atime/ctime, no user names), gzip with no
//! timestamp. So committing twice gives the same digest.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::Metadata;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{EntryType, Header};

use crate::digest::{Digest, Hashing};
use crate::io::{IoContext, IoError};
use crate::store::content::{ContentError, ContentStore};
use crate::whiteout::{self, OCI_OPAQUE, OCI_PREFIX, OVERLAY_XATTR_PREFIX};
use crate::xattr;

/// A layer made by [`commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// sha256 of the gzip blob: its name in the content store and in manifests.
    pub digest: Digest,
    /// sha256 of the uncompressed tar: its name in the image config.
    pub diff_id: Digest,
    /// Size of the blob in bytes.
    pub size: u64,
}

/// Why a commit failed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("write layer tar entry {path}: {cause}")]
    Tar {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Content(#[from] ContentError),
    #[error(transparent)]
    Io(#[from] IoError),
}

// ANCHOR: commit
/// Commits `upper` as a gzip layer blob in `content`.
pub fn commit(upper: &Path, content: &ContentStore) -> Result<Committed, CommitError> {
    ch01_chroot::explain!("archive {} as an OCI layer: whiteouts become .wh. files", upper.display();
        "tar -C {} -cf - . | gzip -n", upper.display());
    let writer = content.writer()?;
    let mut tar = Hashing::new(GzEncoder::new(writer, Compression::default()));
    write_tar(upper, &mut tar)?;
    let (diff_id, _, gzip) = tar.finish();
    let writer = gzip.finish().at("compress layer of", upper)?;
    let (digest, size) = writer.commit(None)?;
    ch01_chroot::explain!(
        "stored the layer as blobs/sha256/{} (diff ID {diff_id})",
        digest.hex()
    );
    Ok(Committed {
        digest,
        diff_id,
        size,
    })
}
// ANCHOR_END: commit

/// Writes `upper` as an uncompressed OCI layer tar to `out`.
pub fn write_tar(upper: &Path, out: impl Write) -> Result<(), CommitError> {
    let mut builder = tar::Builder::new(out);
    let mut walk = TarWalk {
        upper,
        builder: &mut builder,
        links: HashMap::new(),
    };
    walk.dir(Path::new(""))?;
    builder.finish().map_err(|cause| CommitError::Tar {
        path: upper.to_path_buf(),
        cause,
    })
}

struct TarWalk<'a, W: Write> {
    upper: &'a Path,
    builder: &'a mut tar::Builder<W>,
    /// First path seen for each multiply-linked inode: later ones become hard links.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> TarWalk<'_, W> {
    /// Adds the entries of directory `rel` (relative to the upper dir), in name order.
    fn dir(&mut self, rel: &Path) -> Result<(), CommitError> {
        let dir = self.upper.join(rel);
        let mut names: Vec<OsString> = std::fs::read_dir(&dir)
            .at("read directory", &dir)?
            .map(|e| e.map(|e| e.file_name()).at("read directory", &dir))
            .collect::<Result<_, _>>()?;
        names.sort();
        for name in names {
            self.entry(&rel.join(name))?;
        }
        Ok(())
    }

    fn entry(&mut self, rel: &Path) -> Result<(), CommitError> {
        let path = self.upper.join(rel);
        let meta = std::fs::symlink_metadata(&path).at("stat", &path)?;
        let file_type = meta.file_type();
        // ANCHOR: to_oci
        if whiteout::is_whiteout(&meta) {
            let mut name = OsString::from(OCI_PREFIX);
            name.push(rel.file_name().expect("entries have names"));
            let wh = rel.with_file_name(name);
            return self.append(&wh, &meta, EntryType::Regular, &[][..], None);
        }
        self.pax_xattrs(rel, &path)?;
        if file_type.is_dir() {
            self.append(rel, &meta, EntryType::Directory, &[][..], None)?;
            if whiteout::is_opaque(&path)? {
                self.append(
                    &rel.join(OCI_OPAQUE),
                    &meta,
                    EntryType::Regular,
                    &[][..],
                    None,
                )?;
            }
            return self.dir(rel);
        }
        // ANCHOR_END: to_oci
        if meta.nlink() > 1 {
            if let Some(first) = self.links.get(&(meta.dev(), meta.ino())) {
                let first = first.clone();
                return self.append(rel, &meta, EntryType::Link, &[][..], Some(&first));
            }
            self.links
                .insert((meta.dev(), meta.ino()), rel.to_path_buf());
        }
        if file_type.is_file() {
            let file = std::fs::File::open(&path).at("open", &path)?;
            self.append(rel, &meta, EntryType::Regular, file, None)
        } else if file_type.is_symlink() {
            let target = std::fs::read_link(&path).at("read link", &path)?;
            self.append(rel, &meta, EntryType::Symlink, &[][..], Some(&target))
        } else if file_type.is_char_device() {
            self.append(rel, &meta, EntryType::Char, &[][..], None)
        } else if file_type.is_block_device() {
            self.append(rel, &meta, EntryType::Block, &[][..], None)
        } else if file_type.is_fifo() {
            self.append(rel, &meta, EntryType::Fifo, &[][..], None)
        } else {
            // Sockets belong to a running process, not to an image (docker skips them too).
            Ok(())
        }
    }

    /// Writes `rel`'s xattrs as a PAX header for the
    /// entry that follows, the `SCHILY.xattr.` form GNU tar and docker use.
    fn pax_xattrs(&mut self, rel: &Path, path: &Path) -> Result<(), CommitError> {
        let mut records = Vec::new();
        for name in xattr::list(path)? {
            // overlayfs's bookkeeping, and the host's SELinux label, are not the image's.
            if name.as_bytes().starts_with(OVERLAY_XATTR_PREFIX.as_bytes())
                || name == "security.selinux"
            {
                continue;
            }
            if let Some(value) = xattr::get(path, &name)? {
                records.push((format!("SCHILY.xattr.{}", name.to_string_lossy()), value));
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        records.sort();
        self.builder
            .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            .map_err(|cause| CommitError::Tar {
                path: rel.to_path_buf(),
                cause,
            })
    }

    fn append(
        &mut self,
        rel: &Path,
        meta: &Metadata,
        kind: EntryType,
        data: impl std::io::Read,
        link: Option<&Path>,
    ) -> Result<(), CommitError> {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(meta.mode() & 0o7777);
        header.set_uid(meta.uid().into());
        header.set_gid(meta.gid().into());
        header.set_mtime(meta.mtime().max(0) as u64);
        header.set_size(if kind == EntryType::Regular && meta.is_file() {
            meta.size()
        } else {
            0
        });
        if matches!(kind, EntryType::Char | EntryType::Block) {
            let _ = header.set_device_major(nix::sys::stat::major(meta.rdev()) as u32);
            let _ = header.set_device_minor(nix::sys::stat::minor(meta.rdev()) as u32);
        }
        let mut name = rel.to_path_buf();
        if kind == EntryType::Directory {
            name.push("");
        }
        let result = match link {
            Some(target) => self.builder.append_link(&mut header, &name, target),
            None => self.builder.append_data(&mut header, &name, data),
        };
        result.map_err(|cause| CommitError::Tar {
            path: rel.to_path_buf(),
            cause,
        })
    }
}
