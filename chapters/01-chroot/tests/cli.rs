//! `ch01-chroot` as a reader runs it: each transcript here is also shown in the book.

use std::path::PathBuf;
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
    snapshot_run(
        "echo_hi",
        &[],
        &testkit::fixtures::busybox_rootfs(),
        &["/bin/echo", "hi"],
    );
}

#[test]
fn explain_shows_each_step() {
    testkit::require_root!();
    snapshot_run(
        "explain",
        &["--explain"],
        &testkit::fixtures::busybox_rootfs(),
        &["/bin/echo", "hi"],
    );
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
    snapshot_run(
        "exit_3",
        &[],
        &testkit::fixtures::busybox_rootfs(),
        &["sh", "-c", "exit 3"],
    );
}

#[test]
fn killed_by_signal_exits_128_plus_n() {
    testkit::require_root!();
    snapshot_run(
        "killed",
        &[],
        &testkit::fixtures::busybox_rootfs(),
        &["sh", "-c", "kill -KILL $$"],
    );
}

#[test]
fn the_command_gets_default_signal_dispositions() {
    // `yes` must die quietly of SIGPIPE when `head` exits, as in a shell; an
    // inherited "ignore SIGPIPE" would make it print write errors instead.
    testkit::require_root!();
    let rootfs = testkit::fixtures::busybox_rootfs();
    snapshot_run("sigpipe", &[], &rootfs, &["sh", "-c", "yes | head -n 2"]);
}

#[test]
fn missing_rootfs_exits_125() {
    snapshot_run(
        "rootfs_missing",
        &[],
        std::path::Path::new("/nonexistent/rootfs"),
        &["/bin/true"],
    );
}

#[test]
fn rootfs_that_is_a_file_exits_125() {
    let rootfs = testkit::fixtures::busybox_rootfs().join("etc/hostname");
    snapshot_run("rootfs_not_dir", &[], &rootfs, &["/bin/true"]);
}

#[test]
fn command_not_found_exits_127() {
    testkit::require_root!();
    snapshot_run(
        "not_found",
        &[],
        &testkit::fixtures::busybox_rootfs(),
        &["nosuchcmd"],
    );
}

#[test]
fn command_not_executable_exits_126() {
    testkit::require_root!();
    snapshot_run(
        "not_executable",
        &[],
        &testkit::fixtures::busybox_rootfs(),
        &["/etc/passwd"],
    );
}

#[test]
fn not_root_is_refused_clearly() {
    // Needs root to become someone else: the check runs as `nobody`.
    testkit::require_root!();
    let mut cmd = ch01();
    cmd.arg(testkit::fixtures::busybox_rootfs())
        .arg("/bin/true");
    std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
    let _guard = testkit::redactions().bind_to_scope();
    assert_snapshot!("not_root", testkit::transcript(&mut cmd));
}

#[test]
fn same_hostname_as_the_host() {
    testkit::require_root!();
    let host = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut cmd = ch01();
    cmd.arg(testkit::fixtures::busybox_rootfs())
        .arg("/bin/hostname");
    let mut settings = testkit::redactions();
    let transcript = testkit::transcript(&mut cmd);
    assert_eq!(
        transcript.lines().nth(1),
        Some(host.as_str()),
        "chroot does not isolate the hostname"
    );
    settings.add_filter(
        &format!(r"(?m)^{}$", testkit::regex_escape(&host)),
        "[the host's hostname]",
    );
    let _guard = settings.bind_to_scope();
    assert_snapshot!("same_hostname", transcript);
}

/// The classic escape: root inside a chroot mounts /proc and walks out through
/// /proc/PID/root of any process outside the chroot; here the runner that started
/// the shell ($PPID), whose root is the host's `/`.
#[test]
fn root_escapes_a_chroot_through_proc() {
    testkit::require_root!();
    let secret = testkit::HostSecret::create("ch01");
    let rootfs = testkit::fixtures::busybox_rootfs_copy();
    let _unmount = UnmountOnDrop(rootfs.path().join("proc"));
    let script = format!(
        "mount -t proc proc /proc && cat /proc/$PPID/root{}; umount /proc",
        secret.path().display()
    );
    let mut cmd = ch01();
    cmd.arg(rootfs.path()).args(["sh", "-c", &script]);
    let mut settings = testkit::redactions();
    settings.add_filter(
        &testkit::regex_escape(&rootfs.path().display().to_string()),
        "/tmp/rootfs-copy",
    );
    let _guard = settings.bind_to_scope();
    assert_snapshot!("escape", testkit::transcript(&mut cmd));
}

/// Detaches a mount a test may have left if it failed half-way.
struct UnmountOnDrop(PathBuf);

impl Drop for UnmountOnDrop {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}
