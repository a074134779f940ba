//! `dockyard run` isolates, hardens and limits a container the way `docker run`
//! does, with docker's flags: chapters 02 and 03 through the engine.

use crate::Sandbox;

use crate::{run_busybox as run, snapshot, snapshot_text};

#[test]
fn a_container_has_its_own_hostname_pids_and_network() {
    testkit::require_root!();
    let parent = Sandbox::new("e2e-isolation");
    let script = "hostname; ps -o pid,comm; ip -o link | cut -d: -f2";
    snapshot(
        "isolated",
        &mut run(&parent, &["--hostname", "web", "sh", "-c", script]),
    );
}

#[test]
fn the_default_hostname_is_a_short_id() {
    testkit::require_root!();
    let parent = Sandbox::new("e2e-hostname");
    let out = run(&parent, &["hostname"]).output().unwrap();
    let hostname = String::from_utf8(out.stdout).unwrap();
    let hostname = hostname.trim_end();
    assert!(
        hostname.len() == 12 && hostname.chars().all(|c| c.is_ascii_hexdigit()),
        "{hostname:?} is not a 12-digit hex id"
    );
}

#[test]
fn environment_workdir_and_user_come_from_flags() {
    testkit::require_root!();
    let parent = Sandbox::new("e2e-env");
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("app.env");
    std::fs::write(&env_file, "# settings\nGREETING=from-file\nNAME=file\n").unwrap();
    let mut cmd = run(&parent, &["-e", "NAME=flag", "--env-file"]);
    cmd.arg(&env_file);
    cmd.args([
        "-w",
        "/tmp",
        "-u",
        "nobody",
        "sh",
        "-c",
        "echo $GREETING $NAME; pwd; id",
    ]);
    let mut settings = testkit::redactions();
    settings.add_filter(
        &testkit::regex_escape(&dir.path().display().to_string()),
        "[TMP]",
    );
    snapshot_text("env_workdir_user", testkit::transcript(&mut cmd), settings);
}

#[test]
fn a_memory_hog_is_oom_killed_and_reported() {
    testkit::require_root!();
    let parent = Sandbox::new("e2e-oom");
    // One process, so the OOM killer has one choice: `tail` keeps the line it reads,
    // and /dev/zero's never ends.
    snapshot(
        "oom",
        &mut run(&parent, &["--memory", "32m", "tail", "/dev/zero"]),
    );
}

#[test]
fn hardening_flags_change_what_root_inside_may_do() {
    testkit::require_root!();
    let parent = Sandbox::new("e2e-hardening");
    let runs: [&[&str]; 6] = [
        // Docker's defaults: no CAP_SYS_ADMIN (mount), and seccomp refuses unshare.
        &["mount", "-t", "tmpfs", "t", "/tmp"],
        &["unshare", "--user", "true"],
        // Each flag opens one door, or closes one more.
        &[
            "--privileged",
            "sh",
            "-c",
            "mount -t tmpfs t /tmp && echo mounted",
        ],
        &[
            "--security-opt",
            "seccomp=unconfined",
            "sh",
            "-c",
            "unshare --user true && echo unshared",
        ],
        &["--cap-drop", "ALL", "chown", "1", "/tmp"],
        &["--read-only", "touch", "/new-file"],
    ];
    let transcript = runs
        .iter()
        .map(|args| testkit::transcript(&mut run(&parent, args)))
        .collect();
    snapshot_text("hardening", transcript, testkit::redactions());
}

/// `--read-only` covers the /etc files a container is given too, as
/// docker's: each is a bind mount of its own, which the root's read-only
/// remount does not reach. Whoever provides them: the engine (an image's
/// container, `--network none`), chapter 05 (/etc/hosts on a bridge), or
/// chapter 02's runner (`--rootfs`).
#[test]
fn a_read_only_root_has_read_only_etc_files() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-ro-etc");
    let script =
        "for f in hosts hostname resolv.conf; do echo x >> /etc/$f && echo $f: written; done";
    let try_writes = |args: &[&str]| {
        let out = sandbox
            .cmd(&[&["run", "--rm"], args, &["sh", "-c", script]].concat())
            .output()
            .unwrap();
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let refused: String = ["hosts", "hostname", "resolv.conf"]
        .map(|f| format!("sh: can't create /etc/{f}: Read-only file system\n"))
        .concat();
    let written = "hosts: written\nhostname: written\nresolv.conf: written\n";
    let rootfs = testkit::fixtures::busybox_rootfs();
    let rootfs = &["--rootfs", rootfs.to_str().unwrap()][..];
    for (how, args) in [
        (
            "image, --network none",
            &["--network", "none", "busybox"][..],
        ),
        ("image, default bridge", &["busybox"][..]),
        ("--rootfs", rootfs),
    ] {
        let read_only = [&["--read-only"][..], args].concat();
        assert_eq!(
            try_writes(&read_only),
            (String::new(), refused.clone()),
            "{how}, --read-only"
        );
        assert_eq!(
            try_writes(args),
            (written.to_string(), String::new()),
            "{how}"
        );
    }
}

#[test]
fn bad_input_is_refused_with_docker_words_and_125() {
    testkit::require_root!();
    let parent = Sandbox::new("e2e-bad-input");
    let runs: [&[&str]; 6] = [
        &["--memory", "12x", "true"],
        &["--cpus", "-1", "true"],
        &["--cap-add", "NOPE", "true"],
        &["--security-opt", "apparmor=unconfined", "true"],
        &["-u", "nosuchuser", "true"],
        &["-w", "/etc/passwd", "true"],
    ];
    let transcript = runs
        .iter()
        .map(|args| testkit::transcript(&mut run(&parent, args)))
        .collect();
    snapshot_text("bad_input", transcript, testkit::redactions());
}

#[test]
fn userns_runs_under_a_state_root_only_its_owner_could_enter() {
    testkit::require_root!();
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::with_busybox("e2e-userns");
    // A state root as `mktemp -d` makes one: only root, uid 0 on the host,
    // may enter it; the container's root is uid 100000 there.
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode();
    std::fs::set_permissions(sandbox.root(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let transcript = sandbox.transcripts(&[&[
        "run",
        "--rm",
        "--network",
        "none",
        "--userns",
        "busybox",
        "sh",
        "-c",
        "id; cat /proc/self/uid_map",
    ]]);
    snapshot_text("userns", transcript, sandbox.redactions());
    // As dockerd's data root (0711): searchable by all, listed by its owner.
    assert_eq!(mode(sandbox.root()) & 0o777, 0o711);
}
