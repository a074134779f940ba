//! A working directory the image does not have is made at the start, as
//! docker makes it (moby's `SetupWorkingDirectory`, and runc after it): `-w
//! /app` on an image without `/app` runs in a new, empty `/app`. Chapter 02
//! never writes into the rootfs it is given; the engine's root is the
//! container's own upper layer, so the directory lands there (or in the
//! source of the `-v` it is under), owned by root, mode 0755, and `docker
//! diff` shows it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ch02_namespaces::rootfs::is_bind;
use ch04_overlayfs::scoped::resolve_in_root;
use oci_spec::runtime::Spec;

// ANCHOR: make_missing
/// Makes `spec`'s working directory if it is missing: under `root` (the
/// container's mounted root), or in the source of the bind mount (a `-v`)
/// it would be under, where the container will see it. Every symlink on the
/// way is resolved inside that directory, so a link the image or an earlier
/// run made (`/app -> /`) cannot lead the mkdir(2)s outside it (the lesson
/// of CVE-2018-15664). Under a mount of another kind (a tmpfs), which is
/// made at the start, it is left to fail as it would.
pub fn make_missing(spec: &Spec, root: &Path) -> anyhow::Result<()> {
    let Some(cwd) = spec.process().as_ref().map(|p| p.cwd()) else {
        return Ok(());
    };
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    // The deepest mount over it is what the container will see there.
    let over = mounts
        .iter()
        .filter(|m| cwd.starts_with(m.destination()))
        .max_by_key(|m| m.destination().components().count());
    let (base, rest) = match over {
        None => (root.to_path_buf(), cwd.as_path()),
        Some(mount) => match (is_bind(mount), mount.source()) {
            (true, Some(source)) => (source.clone(), cwd.strip_prefix(mount.destination())?),
            _ => return Ok(()),
        },
    };
    let dir = resolve_in_root(&base, rest, true)?;
    make_dirs(&base, &dir).with_context(|| format!("make the working directory {}", cwd.display()))
}

/// Makes `dir` and its missing parents down from `base`, each mode 0755
/// whatever our umask, as docker makes a working directory.
fn make_dirs(base: &Path, dir: &Path) -> std::io::Result<()> {
    let missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| d.starts_with(base) && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    for dir in missing.iter().rev() {
        std::fs::create_dir(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}
// ANCHOR_END: make_missing

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::ProcessBuilder;

    fn spec_in(cwd: &str) -> Spec {
        let mut spec = Spec::default();
        let process = ProcessBuilder::default()
            .cwd(cwd)
            .args(vec!["pwd".to_string()])
            .build()
            .unwrap();
        spec.set_process(Some(process));
        spec
    }

    #[test]
    fn a_missing_working_directory_is_made_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        make_missing(&spec_in("/app/data"), root.path()).unwrap();
        assert!(root.path().join("app/data").is_dir());
    }

    #[test]
    fn under_a_bind_mount_it_is_made_in_the_source() {
        let root = tempfile::tempdir().unwrap();
        let host = tempfile::tempdir().unwrap();
        let mut spec = spec_in("/app/data/x");
        let bind = oci_spec::runtime::MountBuilder::default()
            .destination("/app")
            .source(host.path())
            .typ("bind")
            .options(vec!["rbind".to_string()])
            .build()
            .unwrap();
        spec.set_mounts(Some(vec![bind]));
        make_missing(&spec, root.path()).unwrap();
        assert!(!root.path().join("app").exists());
        assert!(host.path().join("data/x").is_dir());
    }

    #[test]
    fn a_symlink_on_the_way_stays_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        // As a container could make it: absolute, meant for its own root.
        std::os::unix::fs::symlink(outside.path(), root.path().join("app")).unwrap();
        make_missing(&spec_in("/app/data"), root.path()).unwrap();
        assert!(!outside.path().join("data").exists());
        let inside = root.path().join(outside.path().strip_prefix("/").unwrap());
        assert!(inside.join("data").is_dir());
    }
}
