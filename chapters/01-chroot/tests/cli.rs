//! `ch01-chroot` as a reader runs it: each transcript here is also shown in the book.

use std::process::Command;

use insta::assert_snapshot;

fn ch01() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ch01-chroot"))
}

/// Runs ch01-chroot with `args` after the rootfs and snapshots the transcript as `name`.
fn snapshot_run(name: &str, flags: &[&str], rootfs: &std::path::Path, args: &[&str]) {
    let mut cmd = ch01();
    cmd.args(flags).arg(rootfs).args(args);
    let _guard = testkit::redactions().bind_to_scope();
    assert_snapshot!(name, testkit::transcript(&mut cmd));
}

#[test]
fn echo_hi() {
    testkit::require_root!();
    snapshot_run("echo_hi", &[], &testkit::fixtures::busybox_rootfs(), &["/bin/echo", "hi"]);
}

#[test]
fn explain_shows_each_step() {
    testkit::require_root!();
    snapshot_run("explain", &["--explain"], &testkit::fixtures::busybox_rootfs(), &["/bin/echo", "hi"]);
}

#[test]
fn the_rootfs_is_the_new_root() {
    testkit::require_root!();
    let rootfs = testkit::fixtures::busybox_rootfs();
    snapshot_run("ls_root", &[], &rootfs, &["/bin/ls", "/"]);
}

#[test]
fn exit_status_passes_through() {
    testkit::require_root!();
    snapshot_run("exit_3", &[], &testkit::fixtures::busybox_rootfs(), &["sh", "-c", "exit 3"]);
}

#[test]
fn killed_by_signal_exits_128_plus_n() {
    testkit::require_root!();
    snapshot_run("killed", &[], &testkit::fixtures::busybox_rootfs(), &["sh", "-c", "kill -KILL $$"]);
}

#[test]
fn missing_rootfs_exits_125() {
    snapshot_run("rootfs_missing", &[], std::path::Path::new("/nonexistent/rootfs"), &["/bin/true"]);
}

#[test]
fn rootfs_that_is_a_file_exits_125() {
    let rootfs = testkit::fixtures::busybox_rootfs().join("etc/hostname");
    snapshot_run("rootfs_not_dir", &[], &rootfs, &["/bin/true"]);
}

#[test]
fn command_not_found_exits_127() {
    testkit::require_root!();
    snapshot_run("not_found", &[], &testkit::fixtures::busybox_rootfs(), &["nosuchcmd"]);
}

#[test]
fn command_not_executable_exits_126() {
    testkit::require_root!();
    snapshot_run("not_executable", &[], &testkit::fixtures::busybox_rootfs(), &["/etc/passwd"]);
}

#[test]
fn not_root_is_refused_clearly() {
    // Needs root to become someone else: the check runs as `nobody`.
    testkit::require_root!();
    let mut cmd = ch01();
    cmd.arg(testkit::fixtures::busybox_rootfs()).arg("/bin/true");
    std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
    let _guard = testkit::redactions().bind_to_scope();
    assert_snapshot!("not_root", testkit::transcript(&mut cmd));
}
