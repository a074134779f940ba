//! Lab 04 checks: `ch04-overlayfs` as a user runs it. Each check compares real
//! runs (the chapter's binary, and `tar`, `stat`, `ls` looking at what it made)
//! with the snapshot the reference code produced (labs/04-overlayfs/snapshots/).
//! Run them with `cargo xtask lab check 04`; each check's hint is in lab.toml.
//!
//! Every command runs in a fresh temp directory, with paths relative to it, so
//! the transcripts read as they would in your terminal. What the checks set up
//! (layers, whiteouts, crafted tars) they make themselves, never with the code
//! you are writing.

use std::fs;
use std::path::Path;
use std::process::Command;

use nix::sys::stat::{Mode, SFlag, UtimensatFlags, mknod, utimensat};
use nix::sys::time::TimeSpec;

/// 2024-01-01T00:00:00Z: the mtime of every file a check makes, so a layer's
/// bytes (and digest) are the same on every run.
const FIXED_TIME: i64 = 1_704_067_200;

/// A temp directory that the commands of one check run in.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }

    /// A command run inside the scratch directory.
    fn cmd(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(self.dir.path()).env("TZ", "UTC");
        cmd
    }

    fn ch04(&self) -> Command {
        self.cmd(env!("CARGO_BIN_EXE_ch04-overlayfs"))
    }

    /// `ch04-overlayfs run --layer L... --upper upper sh -c SCRIPT`.
    fn run(&self, layers: &[&str], script: &str) -> Command {
        let mut cmd = self.ch04();
        cmd.arg("run");
        for layer in layers {
            cmd.args(["--layer", layer]);
        }
        cmd.args(["--upper", "upper", "sh", "-c", script]);
        cmd
    }

    /// `ch04-overlayfs diff --layer L... --upper upper`.
    fn diff(&self, layers: &[&str]) -> Command {
        let mut cmd = self.ch04();
        cmd.arg("diff");
        for layer in layers {
            cmd.args(["--layer", layer]);
        }
        cmd.args(["--upper", "upper"]);
        cmd
    }

    /// Writes a file with fixed content, mode and mtime (and its parents).
    fn file(&self, rel: &str, content: &str) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        fixed_mtime(&path);
    }

    /// Makes an overlayfs whiteout (a 0:0 character device) with mknod(2).
    fn whiteout(&self, rel: &str) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        mknod(&path, SFlag::S_IFCHR, Mode::empty(), 0).unwrap();
        fixed_mtime(&path);
    }

    /// Writes a crafted layer tar: `(name, kind, link target)`, names written raw.
    fn tar(&self, rel: &str, entries: &[(&str, tar::EntryType, &str)]) {
        let mut builder = tar::Builder::new(fs::File::create(self.path(rel)).unwrap());
        for (name, kind, link) in entries {
            let mut header = tar::Header::new_old();
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            header.set_entry_type(*kind);
            header.set_mode(match kind {
                tar::EntryType::Directory => 0o755,
                _ if name.contains("bin/") => 0o755,
                _ => 0o644,
            });
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(FIXED_TIME as u64);
            header.set_size(0);
            header.set_cksum();
            builder.append(&header, &b""[..]).unwrap();
        }
        builder.finish().unwrap();
    }
}

fn fixed_mtime(path: &Path) {
    let time = TimeSpec::new(FIXED_TIME, 0);
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &time,
        &time,
        UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

fn busybox() -> String {
    testkit::fixtures::busybox_rootfs().display().to_string()
}

/// Compares the transcripts of `cmds`, run in order, with the snapshot `name`.
fn check(name: &str, cmds: &mut [&mut Command]) {
    let transcript: String = cmds
        .iter_mut()
        .map(|cmd| testkit::transcript(cmd))
        .collect();
    let _guard = testkit::redactions().bind_to_scope();
    insta::assert_snapshot!(name, transcript);
}

use tar::EntryType::{Directory, Link, Regular, Symlink};

// ---- Part 1: whiteouts, both ways ----

#[test]
fn commit_writes_deletions_as_wh_files() {
    testkit::require_root!();
    let s = Scratch::new();
    s.file("upper/etc/motd", "welcome aboard\n");
    s.whiteout("upper/etc/hosts");
    fixed_mtime(&s.path("upper/etc"));
    let mut commit = s.ch04();
    commit.args(["commit", "--upper", "upper", "--out", "store"]);
    let out = testkit::transcript(&mut commit);
    let digest = out
        .lines()
        .find_map(|l| l.strip_prefix("digest:  sha256:"))
        .unwrap_or("none");
    let mut list = s.cmd("tar");
    list.arg("-tvzf")
        .arg(format!("store/blobs/sha256/{digest}"));
    let transcript = out + &testkit::transcript(&mut list);
    let _guard = testkit::redactions().bind_to_scope();
    insta::assert_snapshot!("commit_whiteout", transcript);
}

#[test]
fn unpack_turns_wh_files_into_whiteouts() {
    testkit::require_root!();
    let s = Scratch::new();
    s.tar(
        "layer.tar",
        &[
            ("etc/", Directory, ""),
            ("etc/.wh.hosts", Regular, ""),
            ("etc/motd", Regular, ""),
        ],
    );
    let mut unpack = s.ch04();
    unpack.args(["unpack", "layer.tar", "layer"]);
    let mut ls = s.cmd("ls");
    ls.args(["-A", "layer/etc"]);
    let mut stat = s.cmd("stat");
    stat.args(["-c", "%F, device %t:%T, mode %a: %n", "layer/etc/hosts"]);
    check("unpack_whiteout", &mut [&mut unpack, &mut ls, &mut stat]);
}

// ---- Part 2: docker diff ----

#[test]
fn diff_shows_added_changed_deleted() {
    testkit::require_root!();
    let s = Scratch::new();
    let busybox = busybox();
    let mut run = s.run(
        &[&busybox],
        "echo nameserver 127.0.0.53 > /etc/resolv.conf && rm /etc/group && mkdir -p /home/guest && echo hello > /home/guest/notes",
    );
    check("diff_acd", &mut [&mut run, &mut s.diff(&[&busybox])]);
}

#[test]
fn diff_sees_through_layers_and_opaque_dirs() {
    testkit::require_root!();
    let s = Scratch::new();
    // An image layer on top of busybox: it adds /opt/app and /etc/app.conf and
    // deletes /etc/hosts.
    s.file("app/opt/app/a", "a\n");
    s.file("app/opt/app/b", "b\n");
    s.file("app/etc/app.conf", "debug = false\n");
    s.whiteout("app/etc/hosts");
    let busybox = busybox();
    let layers = ["app", busybox.as_str()];
    let mut run = s.run(
        &layers,
        "rm -rf /opt/app && mkdir /opt/app && touch /opt/app/c && echo 127.0.0.1 app > /etc/hosts && rm /etc/app.conf",
    );
    check("diff_layers", &mut [&mut run, &mut s.diff(&layers)]);
}

#[test]
fn diff_changes_are_content_or_metadata() {
    testkit::require_root!();
    let s = Scratch::new();
    let busybox = busybox();
    // Each of these puts a file in the upper dir; only some change it.
    let mut run = s.run(
        &[&busybox],
        "chmod 600 /etc/passwd && touch /etc/hostname && chown 0:0 /etc/group && : >> /etc/resolv.conf && touch /tmp/scratch && rm /tmp/scratch",
    );
    let mut ls = s.cmd("ls");
    ls.args(["-R", "upper"]);
    check(
        "diff_metadata",
        &mut [&mut run, &mut ls, &mut s.diff(&[&busybox])],
    );
}

// ---- Part 3: unpacking safely ----

/// Runs `ch04-overlayfs unpack TAR layer` for each tar and checks that a
/// refused one left no `layer` behind.
fn unpack_each(s: &Scratch, tars: &[&str]) -> String {
    let mut transcript = String::new();
    for tar in tars {
        let mut unpack = s.ch04();
        unpack.args(["unpack", tar, "layer"]);
        let out = testkit::transcript(&mut unpack);
        let refused = out.contains("[exit status");
        transcript += &out;
        if refused && s.path("layer").symlink_metadata().is_ok() {
            transcript += "(a refused unpack left `layer` behind)\n";
        }
        let _ = fs::remove_dir_all(s.path("layer"));
    }
    transcript
}

#[test]
fn unpack_refuses_dot_dot_and_absolute_paths() {
    testkit::require_root!();
    let s = Scratch::new();
    s.tar(
        "dot-dot.tar",
        &[
            ("etc/", Directory, ""),
            ("etc/../../../etc/passwd", Regular, ""),
        ],
    );
    s.tar("absolute.tar", &[("/etc/passwd", Regular, "")]);
    let transcript = unpack_each(&s, &["dot-dot.tar", "absolute.tar"]);
    let _guard = testkit::redactions().bind_to_scope();
    insta::assert_snapshot!("unpack_dot_dot", transcript);
}

#[test]
fn unpack_refuses_paths_through_symlinks() {
    testkit::require_root!();
    let s = Scratch::new();
    s.tar(
        "to-root.tar",
        &[
            ("link", Symlink, "/"),
            ("link/etc/cron.d/evil", Regular, ""),
        ],
    );
    s.tar("up.tar", &[("up", Symlink, "../.."), ("up/x", Regular, "")]);
    s.tar(
        "not-a-dir.tar",
        &[("etc", Regular, ""), ("etc/passwd", Regular, "")],
    );
    let transcript = unpack_each(&s, &["to-root.tar", "up.tar", "not-a-dir.tar"]);
    let _guard = testkit::redactions().bind_to_scope();
    insta::assert_snapshot!("unpack_symlinks", transcript);
}

#[test]
fn unpack_refuses_hard_links_outside() {
    testkit::require_root!();
    let s = Scratch::new();
    s.tar("absolute.tar", &[("passwd", Link, "/etc/passwd")]);
    s.tar("dot-dot.tar", &[("passwd", Link, "../../etc/passwd")]);
    s.tar(
        "via-symlink.tar",
        &[("etc", Symlink, "/etc"), ("passwd", Link, "etc/passwd")],
    );
    let transcript = unpack_each(&s, &["absolute.tar", "dot-dot.tar", "via-symlink.tar"]);
    let _guard = testkit::redactions().bind_to_scope();
    insta::assert_snapshot!("unpack_hard_links", transcript);
}

#[test]
fn unpack_makes_missing_directories() {
    testkit::require_root!();
    let s = Scratch::new();
    // No directory entries, `./` and `//` in names, a symlink that points
    // outside (allowed: it is resolved inside the container when used), and a
    // hard link to a file earlier in the layer.
    s.tar(
        "layer.tar",
        &[
            ("./usr/bin/tool", Regular, ""),
            ("./etc//motd", Regular, ""),
            ("etc/localtime", Symlink, "/usr/share/zoneinfo/UTC"),
            ("usr/bin/tool-too", Link, "./usr/bin/tool"),
        ],
    );
    let mut unpack = s.ch04();
    unpack.args(["unpack", "layer.tar", "layer"]);
    let mut modes = s.cmd("stat");
    modes.args([
        "-c",
        "%A %N",
        "layer/etc",
        "layer/etc/localtime",
        "layer/etc/motd",
        "layer/usr",
        "layer/usr/bin",
        "layer/usr/bin/tool",
    ]);
    let mut links = s.cmd("stat");
    links.args([
        "-c",
        "inode shared by %h names: %n",
        "layer/usr/bin/tool-too",
    ]);
    let transcript: String = [&mut unpack, &mut modes, &mut links]
        .into_iter()
        .map(testkit::transcript)
        .collect();
    let _guard = testkit::redactions().bind_to_scope();
    insta::assert_snapshot!("unpack_good", transcript);
}
