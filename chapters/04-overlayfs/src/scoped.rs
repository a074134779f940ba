//! Paths inside a container's root, resolved as the container would see them.
//!
//! `docker cp` reads and writes a container's files from the host. A path such
//! as `/escape/etc/shadow` may go through a symlink the container made
//! (`/escape -> /`): resolved by the host's kernel, that symlink leads to the
//! *host's* root. CVE-2018-15664 was exactly this. Here every symlink is read
//! by hand and its target resolved again inside the container's root, and `..`
//! stops at that root, as it does inside the container (chroot semantics), so
//! no path can lead outside.
//!
//! The check holds while no one changes the container's files between this
//! resolution and the copy, which is the case for a container that is not
//! running (the engine's `cp` works on its layers, not on a live container).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::io::{IoContext, IoError};

/// As many symlinks as Linux follows in one lookup before it says ELOOP.
const MAX_SYMLINKS: usize = 40;

/// Resolves `path` (taken as absolute inside the container) to a host path
/// under `root`, following every symlink inside `root`: an absolute target
/// starts again at `root`, and `..` never climbs above it. With `follow_last`
/// false, a symlink in the last component is left as it is (`docker cp` copies
/// a symlink, not what it points at). Components that do not exist are kept
/// as written, so the result may name a file that is yet to be made.
pub fn resolve_in_root(root: &Path, path: &Path, follow_last: bool) -> Result<PathBuf, IoError> {
    let mut todo: VecDeque<OsString> = normal_components(path);
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            resolved.pop();
            continue;
        }
        let candidate = join(root, &resolved).join(&name);
        let is_last = todo.is_empty();
        let is_link = std::fs::symlink_metadata(&candidate).is_ok_and(|m| m.is_symlink());
        if !is_link || (is_last && !follow_last) {
            resolved.push(name);
            continue;
        }
        links += 1;
        if links > MAX_SYMLINKS {
            let err = std::io::Error::from_raw_os_error(libc::ELOOP);
            return Err(err).at("resolve", &candidate);
        }
        let target = std::fs::read_link(&candidate).at("read link", &candidate)?;
        if target.is_absolute() {
            resolved.clear();
        }
        for part in normal_components(&target).into_iter().rev() {
            todo.push_front(part);
        }
    }
    Ok(join(root, &resolved))
}

/// The names in `path`, with `.` and `/` dropped and `..` kept.
fn normal_components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

fn join(root: &Path, parts: &[OsString]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(parts);
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_and_dot_dot_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/hostname"), "inside").unwrap();
        symlink("/", root.join("escape")).unwrap();
        symlink("../../../../etc", root.join("up")).unwrap();
        symlink("hostname", root.join("etc/name")).unwrap();
        symlink("loop", root.join("loop")).unwrap();

        let r = |p: &str, follow| resolve_in_root(root, Path::new(p), follow).unwrap();
        assert_eq!(r("/escape/etc/hostname", true), root.join("etc/hostname"));
        assert_eq!(r("/up/hostname", true), root.join("etc/hostname"));
        assert_eq!(r("/../../etc/name", true), root.join("etc/hostname"));
        assert_eq!(r("/etc/name", false), root.join("etc/name"));
        assert_eq!(r("/escape", true), root.to_path_buf());
        assert_eq!(r("/escape/new/file", true), root.join("new/file"));
        let err = resolve_in_root(root, Path::new("/loop"), true).unwrap_err();
        assert_eq!(err.cause.raw_os_error(), Some(libc::ELOOP));
    }
}
