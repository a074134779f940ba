//! Where the test fixtures are. `cargo xtask fixtures` makes them.

use std::path::{Path, PathBuf};

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// Overrides where the fixtures are (`cargo xtask lab` sets it when it checks a
/// starter copy of the workspace, which has no fixtures of its own).
pub const DIR_VAR: &str = "DOCKYARD_FIXTURES";

/// The fixtures directory: `$DOCKYARD_FIXTURES`, or `target/fixtures`.
pub fn dir() -> PathBuf {
    std::env::var_os(DIR_VAR)
        .map_or_else(|| workspace_root().join("target").join("fixtures"), PathBuf::from)
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
