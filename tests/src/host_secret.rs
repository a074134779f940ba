//! A file on the host that a container must never reach: the bait for escape tests.

use std::path::{Path, PathBuf};

/// A file at `/run/dockyard-TEST-escape-test/secret`, outside any rootfs; the
/// directory is removed when this is dropped, also when the test fails. Each
/// test names its own, so tests running in parallel never share one.
#[derive(Debug)]
pub struct HostSecret {
    dir: PathBuf,
    file: PathBuf,
}

impl HostSecret {
    /// What the file says.
    pub const TEXT: &str = "this file is on the host, outside the rootfs\n";

    pub fn create(test: &str) -> HostSecret {
        let dir = PathBuf::from(format!("/run/dockyard-{test}-escape-test"));
        std::fs::create_dir_all(&dir).expect("create the host secret's directory");
        let file = dir.join("secret");
        std::fs::write(&file, Self::TEXT).expect("write the host secret");
        HostSecret { dir, file }
    }

    /// The file's path on the host.
    pub fn path(&self) -> &Path {
        &self.file
    }
}

impl Drop for HostSecret {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
