//! `ch04-overlayfs` as a reader runs it: each transcript here is also shown in the book.

use std::fs;
use std::path::Path;
use std::process::Command;

use insta::assert_snapshot;

fn ch04() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ch04-overlayfs"))
}

/// Redactions for a test's temp dir and the scratch dirs `run` makes.
fn settings(temp: &Path) -> insta::Settings {
    let mut settings = testkit::redactions();
    settings.add_filter(&testkit::regex_escape(&temp.display().to_string()), "[TMP]");
    settings.add_filter(r"/tmp/\.tmp-ch04-[A-Za-z0-9]+", "/tmp/.tmp-ch04-[RANDOM]");
    settings.add_filter(r"\.tmp-ch04-[A-Za-z0-9]+", ".tmp-ch04-[RANDOM]");
    settings.add_filter(r"\.tmp-links-[A-Za-z0-9]+", ".tmp-links-[RANDOM]");
    // How long absolute layer paths are depends on where the workspace is.
    settings.add_filter(
        r"absolute ones take \d+ bytes",
        "absolute ones take [N] bytes",
    );
    settings
}

fn busybox() -> String {
    testkit::fixtures::busybox_rootfs().display().to_string()
}

fn overlay_mounts() -> usize {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(" - overlay "))
        .count()
}

#[test]
fn run_explain_shows_the_mount() {
    testkit::require_root!();
    let temp = tempfile::tempdir().unwrap();
    let _g = settings(temp.path()).bind_to_scope();
    let mut cmd = ch04();
    cmd.args([
        "--explain",
        "run",
        "--layer",
        &busybox(),
        "cat",
        "/etc/hostname",
    ]);
    assert_snapshot!("run_explain", testkit::transcript(&mut cmd));
}

#[test]
fn a_128_layer_run_mounts_through_short_links() {
    testkit::require_root!();
    let temp = tempfile::tempdir().unwrap();
    let mut cmd = ch04();
    cmd.args(["--explain", "run"]);
    // Layer 127 is the busybox rootfs (the bottom); 0..127 each add one file, and
    // their names are long, so that 128 absolute paths overflow a page.
    for i in 0..127 {
        let layer = temp.path().join(format!(
            "layer-{i:03}-with-a-name-long-enough-to-need-a-short-link"
        ));
        fs::create_dir(&layer).unwrap();
        fs::write(layer.join(format!("from-{i:03}")), "").unwrap();
        cmd.arg("--layer").arg(&layer);
    }
    cmd.args(["--layer", &busybox(), "sh", "-c", "ls / | grep -c from-"]);
    let _g = settings(temp.path()).bind_to_scope();
    assert_snapshot!("run_128_layers", testkit::transcript(&mut cmd));
}

#[test]
fn diff_after_adding_changing_and_deleting() {
    testkit::require_root!();
    let before = overlay_mounts();
    let temp = tempfile::tempdir().unwrap();
    let upper = temp.path().join("upper");
    let _g = settings(temp.path()).bind_to_scope();
    let mut run = ch04();
    run.args(["run", "--layer", &busybox(), "--upper"])
        .arg(&upper)
        .args([
            "sh",
            "-c",
            "echo guest:x:1000:1000::/home:/bin/sh >> /etc/passwd && rm /etc/hosts && mkdir -p /srv/www && echo hi > /srv/www/index.html && cat /etc/passwd",
        ]);
    assert_snapshot!("run_changes", testkit::transcript(&mut run));
    let mut diff = ch04();
    diff.args(["diff", "--layer", &busybox(), "--upper"])
        .arg(&upper);
    assert_snapshot!("diff", testkit::transcript(&mut diff));
    assert_eq!(overlay_mounts(), before, "run leaves no overlay mounted");
}

/// An upper dir with fixed content, owners and times, so its layer digest is fixed.
fn fixed_upper(upper: &Path) {
    fs::create_dir_all(upper.join("etc")).unwrap();
    fs::write(upper.join("etc/motd"), "welcome aboard\n").unwrap();
    let status = Command::new("touch")
        .args(["-h", "-d", "2024-01-01T00:00:00Z"])
        .arg(upper.join("etc/motd"))
        .arg(upper.join("etc"))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn commit_prints_digest_and_diff_id_and_unpacks_back() {
    testkit::require_root!(); // files owned by root, so the digest is the same for everyone
    let temp = tempfile::tempdir().unwrap();
    let upper = temp.path().join("upper");
    fixed_upper(&upper);
    let _g = settings(temp.path()).bind_to_scope();
    let mut commit = ch04();
    commit
        .args(["commit", "--upper"])
        .arg(&upper)
        .arg("--out")
        .arg(temp.path().join("store"));
    let transcript = testkit::transcript(&mut commit);
    assert_snapshot!("commit", transcript);

    let digest = transcript
        .lines()
        .find_map(|l| l.strip_prefix("digest:  sha256:"))
        .unwrap();
    let mut unpack = ch04();
    unpack
        .arg("unpack")
        .arg(temp.path().join("store/blobs/sha256").join(digest))
        .arg(temp.path().join("layer"));
    assert_snapshot!("unpack_committed", testkit::transcript(&mut unpack));
    assert_eq!(
        fs::read_to_string(temp.path().join("layer/etc/motd")).unwrap(),
        "welcome aboard\n"
    );
}

/// Writes a tar whose entries are `(name, kind, link target)`, names written raw.
fn evil_tar(path: &Path, entries: &[(&str, tar::EntryType, &str)]) {
    let mut builder = tar::Builder::new(fs::File::create(path).unwrap());
    for (name, kind, link) in entries {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(*kind);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(0);
        header.set_cksum();
        builder.append(&header, &b""[..]).unwrap();
    }
    builder.finish().unwrap();
}

fn unpack_refused(name: &str, entries: &[(&str, tar::EntryType, &str)]) {
    let temp = tempfile::tempdir().unwrap();
    let tar = temp.path().join(format!("{name}.tar"));
    evil_tar(&tar, entries);
    let _g = settings(temp.path()).bind_to_scope();
    let mut cmd = ch04();
    cmd.arg("unpack").arg(&tar).arg(temp.path().join("layer"));
    assert_snapshot!(name, testkit::transcript(&mut cmd));
    let left: Vec<_> = fs::read_dir(temp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [tar.file_name().unwrap()], "nothing written");
}

#[test]
fn unpack_refuses_dot_dot() {
    use tar::EntryType::Regular;
    unpack_refused(
        "unpack_dot_dot",
        &[
            ("etc/", tar::EntryType::Directory, ""),
            ("../../etc/passwd", Regular, ""),
        ],
    );
}

#[test]
fn unpack_refuses_a_symlink_escape() {
    unpack_refused(
        "unpack_symlink_escape",
        &[
            ("link", tar::EntryType::Symlink, "/"),
            ("link/etc/x", tar::EntryType::Regular, ""),
        ],
    );
}

#[test]
fn unpack_refuses_a_hardlink_outside() {
    unpack_refused(
        "unpack_hardlink_outside",
        &[("passwd", tar::EntryType::Link, "/etc/passwd")],
    );
}
