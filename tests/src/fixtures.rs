//! Where the test fixtures are. `cargo xtask fixtures` makes them.

use std::path::{Path, PathBuf};

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Overrides where the fixtures are (`cargo xtask lab` sets it when it checks a
/// starter copy of the workspace, which has no fixtures of its own).
pub const DIR_VAR: &str = "DOCKYARD_FIXTURES";

/// The fixtures directory: `$DOCKYARD_FIXTURES`, or `target/fixtures`.
pub fn dir() -> PathBuf {
    std::env::var_os(DIR_VAR).map_or_else(
        || workspace_root().join("target").join("fixtures"),
        PathBuf::from,
    )
}

/// `target/fixtures/busybox-rootfs`, whether or not it exists yet.
pub fn busybox_rootfs_path() -> PathBuf {
    dir().join("busybox-rootfs")
}

/// The busybox rootfs. Panics with the command to run when it has not been made.
pub fn busybox_rootfs() -> PathBuf {
    let rootfs = busybox_rootfs_path();
    assert!(
        rootfs.join("bin/busybox").is_file(),
        "the busybox fixture is missing at {}: run `cargo xtask fixtures`",
        rootfs.display()
    );
    rootfs
}

/// A private, writable copy of the busybox rootfs, for a test that must change it
/// (the shared fixture is read-only by convention: tests run in parallel).
/// Removed when the returned directory is dropped.
pub fn busybox_rootfs_copy() -> tempfile::TempDir {
    let source = busybox_rootfs();
    let copy = tempfile::Builder::new()
        .prefix("rootfs-copy")
        .tempdir()
        .expect("temp dir");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(source.join("."))
        .arg(copy.path())
        .status()
        .expect("run cp");
    assert!(status.success(), "cp -a {} failed", source.display());
    copy
}
