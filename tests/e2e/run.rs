//! `dockyard run`: a command's output and exit status pass through, as in docker.

use crate::Sandbox;
use assert_cmd::Command;

use crate::{dockyard, run_busybox, snapshot};

#[test]
fn run_prints_from_inside_the_rootfs() {
    testkit::require_root!();
    let parent = Sandbox::new("e2e-run-prints");
    Command::from_std(run_busybox(
        &parent,
        &["--hostname", "box", "cat", "/etc/hostname"],
    ))
    .assert()
    .success()
    .stdout("box\n");
}

#[test]
fn container_run_is_the_same_command() {
    testkit::require_root!();
    let parent = Sandbox::new("e2e-container-run");
    let mut cmd = dockyard(&parent);
    cmd.args(["container", "run", "--rootfs"])
        .arg(testkit::fixtures::busybox_rootfs())
        .args(["sh", "-c", "exit 3"]);
    Command::from_std(cmd).assert().code(3);
}

#[test]
fn a_missing_command_exits_127_naming_it() {
    testkit::require_root!();
    let parent = Sandbox::new("e2e-run-not-found");
    snapshot("run_not_found", &mut run_busybox(&parent, &["nosuchcmd"]));
}

#[test]
fn bad_flags_exit_125_as_docker_does() {
    let parent = Sandbox::new("e2e-bad-flag");
    Command::from_std(dockyard(&parent))
        .args(["run", "--no-such-flag"])
        .assert()
        .code(125);
}

#[test]
fn version_looks_like_dockers() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dockyard"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("dockyard version {}\n", env!("CARGO_PKG_VERSION"))
    );
}
