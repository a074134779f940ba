//! A working directory the image does not have is made at the start, as
//! docker makes it (moby's `SetupWorkingDirectory`, and runc after it): `-w
//! /app` on an image without `/app` runs in a new, empty `/app`. Chapter 02
//! never writes into the rootfs it is given; the engine's root is the
//! container's own upper layer, so the directory lands there, owned by root,
//! mode 0755, and `docker diff` shows it.

use std::path::Path;

use anyhow::Context;
use ch04_overlayfs::scoped::resolve_in_root;
use oci_spec::runtime::Spec;

// ANCHOR: make_missing
/// Makes `spec`'s working directory under `root` (the container's mounted
/// root) if it is missing. Every symlink on the way is resolved inside
/// `root`, so a link the image or an earlier run made (`/app -> /`) cannot
/// lead the mkdir(2)s outside it (the lesson of CVE-2018-15664).
pub fn make_missing(spec: &Spec, root: &Path) -> anyhow::Result<()> {
    let Some(cwd) = spec.process().as_ref().map(|p| p.cwd()) else {
        return Ok(());
    };
    if cwd == Path::new("/") {
        return Ok(());
    }
    let dir = resolve_in_root(root, cwd, true)?;
    if !dir.exists() {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("make the working directory {}", cwd.display()))?;
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
