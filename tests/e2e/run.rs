//! `dockyard run`: a command's output and exit status pass through, as in docker.

use crate::Sandbox;
use assert_cmd::Command;

use crate::{dockyard, run_busybox, snapshot, snapshot_text};

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
    // Before the image too: not taken for the image's name.
    let out = dockyard(&parent)
        .args(["run", "--no-such-flag", "busybox", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: unexpected argument '--no-such-flag' found"),
        "{stderr}"
    );
}

/// What docker refuses before it makes a container, refused here too, with
/// its words and 125, and nothing left behind; and a working directory the
/// image lacks is made, as docker makes it.
#[test]
fn run_refuses_what_docker_refuses_and_makes_a_missing_workdir() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-run-refuses");
    let transcript = sandbox.transcripts(&[
        &["run", "--rm", "--restart", "always", "busybox", "true"],
        &["run", "-e", "=foo", "busybox", "true"],
        &["run", "-w", "app", "busybox", "pwd"],
        &["run", "--entrypoint", "", "busybox"],
        &["run", "--ulimit", "nofile=x", "busybox", "true"],
        &["run", "--name", "wd", "-w", "/app/data", "busybox", "pwd"],
        &["diff", "wd"],
        &["rm", "wd"],
    ]);
    snapshot_text("run_refuses", transcript, sandbox.redactions());
    assert_eq!(sandbox.ok(&["ps", "-aq"]), "");

    // Mode 0755 whatever the caller's umask, as docker makes it; and under a
    // -v, in the bind's source, where the container sees it.
    let host = tempfile::tempdir().unwrap();
    let volume = format!("{}:/srv", host.path().display());
    let mut cmd = sandbox.cmd(&["run", "--rm", "-v", &volume, "-w", "/srv/data/x"]);
    cmd.args(["busybox", "stat", "-c", "%a %n", "/srv/data", "/srv/data/x"]);
    // SAFETY: umask(2) only, between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::umask(0o077);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "755 /srv/data\n755 /srv/data/x\n"
    );
    assert!(host.path().join("data/x").is_dir());
}

/// `--ulimit` reaches the command, soft and hard (within this machine's
/// own hard limit: raising one needs CAP_SYS_RESOURCE).
#[test]
fn ulimits_reach_the_command() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-ulimit");
    let out = sandbox.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--ulimit",
        "nofile=1024:2048",
        "--ulimit",
        "core=0:0",
        "busybox",
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; ulimit -c",
    ]);
    assert_eq!(out, "1024\n2048\n0\n");
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
