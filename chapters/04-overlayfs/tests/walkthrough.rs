//! The chapter's walk-through, as the book shows it: a container writes and
//! deletes, and we look at the real files overlayfs left in the upper dir and
//! at the layer `commit` makes of them. Commands run in a temp dir with paths
//! relative to it, so the transcripts read as they would in a terminal.

use std::fs;
use std::path::Path;
use std::process::Command;

use insta::assert_snapshot;

fn busybox() -> String {
    testkit::fixtures::busybox_rootfs().display().to_string()
}

/// A command run in `dir`, with the C locale (month names, sorting) and UTC.
fn cmd_in(dir: &Path, program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir).env("LC_ALL", "C").env("TZ", "UTC");
    cmd
}

fn ch04_in(dir: &Path) -> Command {
    cmd_in(dir, env!("CARGO_BIN_EXE_ch04-overlayfs"))
}

/// Redactions for what changes from run to run: times, digests of files
/// written now, and the sizes that depend on the filesystem.
fn settings() -> insta::Settings {
    let mut settings = testkit::redactions();
    // `ls -l`: "Jan  1 12:00" or "Jan  1  2024".
    settings.add_filter(
        r"[A-Z][a-z]{2} [ \d]\d (?:\d\d:\d\d| \d{4})",
        "[DATE]      ",
    );
    // `tar -tv`: "2024-01-01 12:00".
    settings.add_filter(r"\d{4}-\d\d-\d\d \d\d:\d\d", "[DATE]          ");
    settings.add_filter(r"\btotal \d+", "total [N]");
    settings.add_filter(r"[0-9a-f]{64}", "[DIGEST]");
    settings.add_filter(r"size:    \d+ bytes", "size:    [N] bytes");
    settings
}

/// Overlay mounts in this process's mount table (`run` must leave none).
fn overlay_mounts() -> usize {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(" - overlay "))
        .count()
}

#[test]
fn copy_up_whiteouts_and_the_layer_they_make() {
    testkit::require_root!();
    let before = overlay_mounts();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let _g = settings().bind_to_scope();

    let mut run = ch04_in(dir);
    run.args(["run", "--layer", &busybox(), "--upper", "upper"])
        .args([
            "sh",
            "-c",
            "echo 10.0.0.2 db >> /etc/hosts && rm /etc/passwd && rm -r /root && mkdir /root && ls /etc",
        ]);
    assert_snapshot!("write_and_delete", testkit::transcript(&mut run));
    assert_eq!(overlay_mounts(), before, "run leaves no overlay mounted");

    // The image's layer is untouched; the upper dir holds the copy and a whiteout.
    let mut lower = cmd_in(dir, "ls");
    lower.args(["-l"]).arg(format!("{}/etc", busybox()));
    let mut upper = cmd_in(dir, "ls");
    upper.args(["-l", "upper/etc"]);
    let transcript = testkit::transcript(&mut lower) + &testkit::transcript(&mut upper);
    assert_snapshot!("upper_after", transcript);

    let mut commit = ch04_in(dir);
    commit.args(["commit", "--upper", "upper", "--out", "store"]);
    let out = testkit::transcript(&mut commit);
    let digest = out
        .lines()
        .find_map(|l| l.strip_prefix("digest:  sha256:"))
        .expect("commit prints the digest")
        .to_string();
    let mut list = cmd_in(dir, "tar");
    list.arg("-tvzf")
        .arg(format!("store/blobs/sha256/{digest}"));
    assert_snapshot!("commit_listing", out + &testkit::transcript(&mut list));
}

#[test]
fn a_128_layer_mount_explained() {
    testkit::require_root!();
    let temp = tempfile::tempdir().unwrap();
    let mut cmd = ch04_in(temp.path());
    cmd.args(["--explain", "run"]);
    // Layers 000..126 each add a file; the bottom one is busybox. Their names
    // are long, so that 128 absolute paths overflow a page.
    for i in 0..127 {
        let layer = temp.path().join(format!(
            "layer-{i:03}-with-a-name-long-enough-to-need-a-short-link"
        ));
        fs::create_dir(&layer).unwrap();
        fs::write(layer.join(format!("from-{i:03}")), "").unwrap();
        cmd.arg("--layer").arg(&layer);
    }
    cmd.args(["--layer", &busybox(), "sh", "-c", "ls / | grep -c from-"]);
    let mut settings = testkit::redactions();
    settings.add_filter(
        &testkit::regex_escape(&temp.path().display().to_string()),
        "[TMP]",
    );
    settings.add_filter(r"\.tmp-ch04-[A-Za-z0-9]+", ".tmp-ch04-[RANDOM]");
    settings.add_filter(r"\.tmp-links-[A-Za-z0-9]+", ".tmp-links-[RANDOM]");
    settings.add_filter(
        r"absolute ones take \d+ bytes",
        "absolute ones take [N] bytes",
    );
    // The book shows the first two and the last two of the 128 `--layer`s.
    settings.add_filter(
        r"(--layer \[TMP\]/layer-001-\S+) (?:--layer \[TMP\]/\S+ )+(--layer \[TMP\]/layer-126-)",
        "$1 ... $2",
    );
    let _g = settings.bind_to_scope();
    assert_snapshot!("run_128_layers_short", testkit::transcript(&mut cmd));
}
