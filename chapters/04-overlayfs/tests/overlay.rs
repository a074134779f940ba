//! The overlay mount itself (needs root): copy-up, whiteouts, many layers.

use std::fs;
use std::path::{Path, PathBuf};

use ch04_overlayfs::{Overlay, changes, whiteout};

/// A lower layer, an upper, a work and a merged dir in one temp dir.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["upper", "work", "merged"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        Scratch { dir }
    }
    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }
    fn overlay(&self, lowers: Vec<PathBuf>) -> Overlay {
        Overlay {
            lowers,
            upper: self.path("upper"),
            work: self.path("work"),
            volatile: false,
        }
    }
}

fn is_mounted(target: &Path) -> bool {
    let target = target.display().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|line| line.split(' ').nth(4) == Some(target.as_str()))
}

#[test]
fn writes_copy_up_and_deletes_leave_whiteouts() {
    testkit::require_root!();
    let s = Scratch::new();
    let lower = s.path("lower");
    fs::create_dir_all(lower.join("etc")).unwrap();
    fs::write(lower.join("etc/hostname"), "image\n").unwrap();
    fs::write(lower.join("etc/passwd"), "root\n").unwrap();
    let merged = s.path("merged");
    let mount = s.overlay(vec![lower.clone()]).mount(&merged).unwrap();
    assert!(is_mounted(&merged));

    fs::write(merged.join("etc/hostname"), "container\n").unwrap();
    fs::remove_file(merged.join("etc/passwd")).unwrap();
    fs::write(merged.join("new"), "").unwrap();

    // The layer is untouched; the upper dir has the copy and a whiteout.
    assert_eq!(
        fs::read_to_string(lower.join("etc/hostname")).unwrap(),
        "image\n"
    );
    assert!(lower.join("etc/passwd").exists());
    assert_eq!(
        fs::read_to_string(s.path("upper/etc/hostname")).unwrap(),
        "container\n"
    );
    let wh = fs::symlink_metadata(s.path("upper/etc/passwd")).unwrap();
    assert!(
        whiteout::is_whiteout(&wh),
        "a deletion is a 0:0 char device"
    );
    assert!(!merged.join("etc/passwd").exists());

    let diff: Vec<String> = changes(&[lower], &s.path("upper"))
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        diff,
        ["C /etc", "C /etc/hostname", "D /etc/passwd", "A /new"]
    );
    mount.unmount().unwrap();
    assert!(!is_mounted(&merged));
}

#[test]
fn a_128_layer_mount_works() {
    testkit::require_root!();
    let s = Scratch::new();
    // Long names, so the absolute paths overflow a page and short links are needed.
    let lowers: Vec<PathBuf> = (0..128)
        .map(|i| {
            let dir = s.path(&format!(
                "layer-with-a-name-long-enough-to-overflow-a-page-{i:03}"
            ));
            fs::create_dir(&dir).unwrap();
            fs::write(dir.join(format!("file-{i:03}")), i.to_string()).unwrap();
            fs::write(dir.join("top"), i.to_string()).unwrap();
            dir
        })
        .collect();
    let total: usize = lowers.iter().map(|p| p.as_os_str().len() + 1).sum();
    assert!(
        total > 4096,
        "the test must need short links ({total} bytes)"
    );
    let merged = s.path("merged");
    let _mount = s.overlay(lowers).mount(&merged).unwrap();
    for i in 0..128 {
        assert_eq!(
            fs::read_to_string(merged.join(format!("file-{i:03}"))).unwrap(),
            i.to_string()
        );
    }
    assert_eq!(
        fs::read_to_string(merged.join("top")).unwrap(),
        "0",
        "the first layer is on top"
    );
    // The short links were only needed while mounting.
    let leftovers: Vec<_> = fs::read_dir(s.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn dropping_the_guard_unmounts() {
    testkit::require_root!();
    let s = Scratch::new();
    fs::create_dir(s.path("lower")).unwrap();
    let merged = s.path("merged");
    {
        let _mount = s.overlay(vec![s.path("lower")]).mount(&merged).unwrap();
        assert!(is_mounted(&merged));
    }
    assert!(!is_mounted(&merged));
}
