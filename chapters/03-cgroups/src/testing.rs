//! A fake cgroupfs for unit tests: plain files in a temp directory.
//!
//! In a real cgroupfs the kernel makes each cgroup's files when the directory is
//! made; here a test puts in the files the kernel would have, with the contents
//! the kernel would show, then checks what the code wrote where. The code never
//! creates a file itself, so a file the test left out behaves like a controller
//! that is not there.

use std::path::Path;

/// Writes each `(file, content)` under `dir`, making directories as needed.
pub(crate) fn put(dir: &Path, files: &[(&str, &str)]) {
    for (file, content) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
    }
}

/// The content of `dir/file`, which the test expects to be there.
pub(crate) fn read(dir: &Path, file: &str) -> String {
    let path = dir.join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
}
