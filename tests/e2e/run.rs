//! `dockyard run`: a command's output and exit status pass through, as in docker.

use assert_cmd::Command;

fn dockyard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dockyard"))
}

#[test]
fn run_prints_from_inside_the_rootfs() {
    testkit::require_root!();
    let rootfs = testkit::fixtures::busybox_rootfs();
    dockyard()
        .args(["run", "--rootfs"])
        .arg(&rootfs)
        .args(["/bin/cat", "/etc/hostname"])
        .assert()
        .success()
        .stdout("dockyard\n");
}

#[test]
fn container_run_is_the_same_command() {
    testkit::require_root!();
    let rootfs = testkit::fixtures::busybox_rootfs();
    dockyard()
        .args(["container", "run", "--rootfs"])
        .arg(&rootfs)
        .args(["sh", "-c", "exit 3"])
        .assert()
        .code(3);
}

#[test]
fn a_missing_command_exits_127_naming_it() {
    testkit::require_root!();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dockyard"));
    cmd.args(["run", "--rootfs"])
        .arg(testkit::fixtures::busybox_rootfs())
        .arg("nosuchcmd");
    let _guard = testkit::redactions().bind_to_scope();
    insta::assert_snapshot!("run_not_found", testkit::transcript(&mut cmd));
}

#[test]
fn bad_flags_exit_125_as_docker_does() {
    dockyard()
        .args(["run", "--no-such-flag"])
        .assert()
        .code(125);
}

#[test]
fn version_looks_like_dockers() {
    let out = dockyard().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("dockyard version {}\n", env!("CARGO_PKG_VERSION"))
    );
}
