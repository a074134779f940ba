//! `docker diff`: what a container changed, from its upper dir and its image's layers.
//!
//! Docker compares the container's merged tree with the image's
//! (moby `pkg/archive` `ChangesDirs`, used by the overlay2 driver) and prints
//! `A` added, `C` changed, `D` deleted. We get the same answer without mounting:
//! only paths present in the upper dir can differ, so we walk the upper dir and
//! look each path up in the layers below, honouring their whiteouts and opaque
//! directories the way overlayfs does.
//!
//! Order, as docker's: depth first; a directory's own line comes before the
//! lines under it; a directory that is neither added nor changed but has changes
//! under it is listed as `C` (docker records it so the parent's permissions are
//! saved too); in each directory, added and changed entries come first and the
//! deleted ones after them. Within those groups docker's order is whatever a Go
//! map gives, i.e. random; we sort by name, one of the orders docker can print.
//! A deleted directory is one `D` line, not one per file it held.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::io::{IoContext, IoError};
use crate::{whiteout, xattr};

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `A`: it is new.
    Added,
    /// `C`: it existed and its content or metadata changed (or, for a directory,
    /// something under it did).
    Changed,
    /// `D`: it was deleted.
    Deleted,
}

/// One line of `docker diff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Added, changed or deleted.
    pub kind: Kind,
    /// The path as seen inside the container, starting with `/`.
    pub path: PathBuf,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Added => 'A',
            Kind::Changed => 'C',
            Kind::Deleted => 'D',
        };
        write!(f, "{kind} {}", self.path.display())
    }
}

/// The changes the upper dir `upper` makes to the stack `lowers` (top first).
pub fn changes(lowers: &[PathBuf], upper: &Path) -> Result<Vec<Change>, IoError> {
    ch01_chroot::explain!("compare {} with the {} layers below it", upper.display(), lowers.len();
        "find {} -mindepth 1", upper.display());
    for dir in lowers.iter().map(PathBuf::as_path).chain([upper]) {
        if !std::fs::metadata(dir).at("stat", dir)?.is_dir() {
            let not_dir = std::io::Error::from(std::io::ErrorKind::NotADirectory);
            return Err(not_dir).at("compare", dir);
        }
    }
    let mut new_dirs = vec![upper.to_path_buf()];
    new_dirs.extend(lowers.iter().cloned());
    let old = Node::root(lowers);
    let new = Node::root(&new_dirs);
    let mut out = Vec::new();
    Walk { upper }.dir(Path::new("/"), Some(&old), &new, true, &mut out)?;
    Ok(out)
}

/// A path in a merged view: its metadata, and for a directory the layer
/// directories that make it up, top first.
struct Node {
    meta: Option<Metadata>,
    /// The top-most file that provides it (empty for the root).
    path: PathBuf,
    dirs: Vec<PathBuf>,
}

impl Node {
    fn root(dirs: &[PathBuf]) -> Node {
        Node {
            meta: None,
            path: PathBuf::new(),
            dirs: dirs.to_vec(),
        }
    }

    fn is_dir(&self) -> bool {
        self.meta.as_ref().is_none_or(Metadata::is_dir)
    }

    // ANCHOR: lookup
    /// Looks `name` up in this directory as overlayfs would: the top layer that
    /// has it wins; a whiteout hides it and everything below; directories merge
    /// down to an opaque one or to a layer where the name is not a directory.
    fn lookup(&self, name: &OsStr) -> Result<Option<Node>, IoError> {
        // LAB: look `name` up in self.dirs, top layer first, as overlayfs does: skip a layer that lacks it; a whiteout (whiteout::is_whiteout) hides it and every layer below; a non-directory found first is the answer (a Node with no dirs); a directory merges with the same directory in the layers below (push each one's path onto `dirs`) until a layer has a non-directory there or the directory is opaque (whiteout::is_opaque)
        let mut found: Option<Node> = None;
        for dir in &self.dirs {
            let path = dir.join(name);
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(err).at("stat", &path),
            };
            if whiteout::is_whiteout(&meta) {
                break;
            }
            let is_dir = meta.is_dir();
            match &mut found {
                None if !is_dir => {
                    return Ok(Some(Node {
                        meta: Some(meta),
                        path,
                        dirs: Vec::new(),
                    }));
                }
                None => {
                    found = Some(Node {
                        meta: Some(meta),
                        path: path.clone(),
                        dirs: vec![path.clone()],
                    })
                }
                Some(_) if !is_dir => break,
                Some(node) => node.dirs.push(path.clone()),
            }
            if whiteout::is_opaque(&path)? {
                break;
            }
        }
        Ok(found)
        // LAB: END
    }
    // ANCHOR_END: lookup

    /// Every name listed by any of this directory's layers (whiteouts included:
    /// [`Node::lookup`] tells which are really there).
    fn names(&self) -> Result<BTreeSet<OsString>, IoError> {
        let mut names = BTreeSet::new();
        for dir in &self.dirs {
            names.extend(list_dir(dir)?);
        }
        Ok(names)
    }
}

fn list_dir(dir: &Path) -> Result<Vec<OsString>, IoError> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.file_name()).at("read directory", dir))
            .collect(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(err).at("read directory", dir),
    }
}

struct Walk<'a> {
    upper: &'a Path,
}

impl Walk<'_> {
    /// Records the changes under directory `path`, whose old and new views are
    /// `old` (`None` when it did not exist or was not a directory) and `new`.
    /// `recorded` says the directory already has its own line.
    fn dir(
        &self,
        path: &Path,
        old: Option<&Node>,
        new: &Node,
        recorded: bool,
        out: &mut Vec<Change>,
    ) -> Result<(), IoError> {
        let start = out.len();
        // Only what the upper dir holds can differ; with no upper dir here, nothing did.
        let Some(upper_dir) = new.dirs.first().filter(|d| d.starts_with(self.upper)) else {
            return Ok(());
        };
        let mut names: BTreeSet<OsString> = list_dir(upper_dir)?.into_iter().collect();
        match old {
            // Opaque in the upper dir: every old name may be gone.
            Some(old) if new.dirs.len() == 1 => names.extend(old.names()?),
            Some(_) => {}
            None => names = new.names()?,
        }
        let mut deleted = Vec::new();
        for name in names {
            let child = path.join(&name);
            let before = match old {
                Some(old) => old.lookup(&name)?,
                None => None,
            };
            let after = new.lookup(&name)?;
            let (before, after) = match (before, after) {
                (None, None) => continue,
                (Some(_), None) => {
                    deleted.push(child);
                    continue;
                }
                (before, Some(after)) => (before, after),
            };
            let recorded = match &before {
                None => {
                    out.push(change(Kind::Added, &child));
                    true
                }
                Some(before) if differs(before, &after)? => {
                    out.push(change(Kind::Changed, &child));
                    true
                }
                Some(_) => false,
            };
            if after.is_dir() {
                let before = before.filter(Node::is_dir);
                self.dir(&child, before.as_ref(), &after, recorded, out)?;
            }
        }
        out.extend(deleted.iter().map(|p| change(Kind::Deleted, p)));
        if out.len() > start && !recorded {
            out.insert(start, change(Kind::Changed, path));
        }
        Ok(())
    }
}

fn change(kind: Kind, path: &Path) -> Change {
    Change {
        kind,
        path: path.to_path_buf(),
    }
}

// ANCHOR: differs
/// Docker's `statDifferent`: type and permissions, owner, device number, and for
/// anything but a directory its size and mtime (a directory's size and mtime
/// change whenever an entry is added, which is not a change of its own); and,
/// as docker also checks, the file capabilities (`setcap` changes only those).
fn differs(old: &Node, new: &Node) -> Result<bool, IoError> {
    // LAB: docker's statDifferent: true when mode (type and permissions), uid, gid or rdev differ, or, for anything but a directory, size or mtime (same_time); otherwise compare the `security.capability` xattr of old.path and new.path (xattr::get)
    let (Some(a), Some(b)) = (&old.meta, &new.meta) else {
        return Ok(false);
    };
    let stat_differs = a.mode() != b.mode()
        || a.uid() != b.uid()
        || a.gid() != b.gid()
        || a.rdev() != b.rdev()
        || (!a.is_dir() && (a.size() != b.size() || !same_time(a, b)));
    if stat_differs {
        return Ok(true);
    }
    let capability = OsStr::new("security.capability");
    Ok(xattr::get(&old.path, capability)? != xattr::get(&new.path, capability)?)
    // LAB: END
}
// ANCHOR_END: differs

/// Equal mtimes, or the same second with one side at 0 ns: tar keeps whole
/// seconds, so a file unpacked from a layer must not count as changed.
fn same_time(a: &Metadata, b: &Metadata) -> bool {
    (a.mtime(), a.mtime_nsec()) == (b.mtime(), b.mtime_nsec())
        || (a.mtime() == b.mtime() && (a.mtime_nsec() == 0 || b.mtime_nsec() == 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn lines(lowers: &[PathBuf], upper: &Path) -> Vec<String> {
        changes(lowers, upper)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Copies `from` into the upper dir the way overlayfs copies up: same mtime.
    fn copy_up(from: &Path, to: &Path) {
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(from, to).unwrap();
        let mtime = fs::metadata(from).unwrap().modified().unwrap();
        fs::File::options()
            .write(true)
            .open(to)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }

    #[test]
    fn added_and_changed_files_list_their_parents_as_changed() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        fs::create_dir_all(lower.join("etc")).unwrap();
        fs::write(lower.join("etc/hosts"), "a").unwrap();
        fs::write(lower.join("etc/motd"), "hi").unwrap();
        fs::create_dir_all(upper.join("etc")).unwrap();
        // An unchanged copy-up (opened for writing, nothing written) is no change.
        copy_up(&lower.join("etc/motd"), &upper.join("etc/motd"));
        fs::write(upper.join("etc/hosts"), "changed").unwrap();
        fs::write(upper.join("etc/new"), "").unwrap();
        fs::create_dir_all(upper.join("srv/app")).unwrap();
        fs::write(upper.join("srv/app/x"), "").unwrap();
        assert_eq!(
            lines(&[lower], &upper),
            [
                "C /etc",
                "C /etc/hosts",
                "A /etc/new",
                "A /srv",
                "A /srv/app",
                "A /srv/app/x"
            ]
        );
    }

    #[test]
    fn nothing_in_upper_means_no_changes() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        fs::create_dir_all(lower.join("bin")).unwrap();
        fs::create_dir_all(&upper).unwrap();
        assert!(lines(&[lower], &upper).is_empty());
    }

    #[test]
    fn a_chmod_is_a_change() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        fs::create_dir_all(&lower).unwrap();
        fs::write(lower.join("tool"), "#!").unwrap();
        fs::create_dir_all(&upper).unwrap();
        copy_up(&lower.join("tool"), &upper.join("tool"));
        fs::set_permissions(upper.join("tool"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(lines(&[lower], &upper), ["C /tool"]);
    }

    #[test]
    fn a_setcap_is_a_change() {
        testkit::require_root!();
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        fs::create_dir_all(&lower).unwrap();
        fs::write(lower.join("ping"), "").unwrap();
        fs::create_dir_all(&upper).unwrap();
        copy_up(&lower.join("ping"), &upper.join("ping"));
        assert!(lines(std::slice::from_ref(&lower), &upper).is_empty());
        // vfs_cap_data revision 2, effective, permitted = CAP_NET_RAW (13): `setcap cap_net_raw+ep`.
        let mut cap = [0u8; 20];
        cap[..4].copy_from_slice(&0x0200_0001u32.to_le_bytes());
        cap[4..8].copy_from_slice(&(1u32 << 13).to_le_bytes());
        xattr::set(&upper.join("ping"), OsStr::new("security.capability"), &cap).unwrap();
        assert_eq!(lines(&[lower], &upper), ["C /ping"]);
    }

    #[test]
    fn deletions_come_after_additions_and_hide_lower_layers() {
        testkit::require_root!();
        let t = tempfile::tempdir().unwrap();
        let (top, bottom, upper) = (
            t.path().join("top"),
            t.path().join("bottom"),
            t.path().join("upper"),
        );
        fs::create_dir_all(bottom.join("etc/conf.d")).unwrap();
        fs::write(bottom.join("etc/conf.d/a"), "").unwrap();
        fs::write(bottom.join("etc/passwd"), "").unwrap();
        fs::write(bottom.join("etc/gone-already"), "").unwrap();
        fs::create_dir_all(top.join("etc")).unwrap();
        whiteout::make_whiteout(&top.join("etc/gone-already")).unwrap();
        fs::create_dir_all(upper.join("etc")).unwrap();
        whiteout::make_whiteout(&upper.join("etc/passwd")).unwrap();
        whiteout::make_whiteout(&upper.join("etc/conf.d")).unwrap();
        // A whiteout of what no layer has is no change.
        whiteout::make_whiteout(&upper.join("etc/gone-already")).unwrap();
        fs::write(upper.join("etc/zz-new"), "").unwrap();
        assert_eq!(
            lines(&[top, bottom], &upper),
            ["C /etc", "A /etc/zz-new", "D /etc/conf.d", "D /etc/passwd"]
        );
    }

    #[test]
    fn an_opaque_dir_deletes_what_was_below() {
        testkit::require_root!();
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        fs::create_dir_all(lower.join("var/cache")).unwrap();
        fs::write(lower.join("var/cache/old"), "").unwrap();
        fs::create_dir_all(upper.join("var/cache")).unwrap();
        fs::write(upper.join("var/cache/fresh"), "").unwrap();
        whiteout::make_opaque(&upper.join("var/cache")).unwrap();
        assert_eq!(
            lines(&[lower], &upper),
            [
                "C /var",
                "C /var/cache",
                "A /var/cache/fresh",
                "D /var/cache/old"
            ]
        );
    }
}
