//! Lab 02 checks: `ch02-namespaces run` as a user runs it. Each check compares a
//! real run with the snapshot the reference code produced (labs/02-namespaces/snapshots/).
//! Run them with `cargo xtask lab check 02`; each check's hint is in lab.toml.

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

fn ch02() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ch02-namespaces"))
}

/// `ch02-namespaces run --rootfs FIXTURE --hostname box ARGS...`
fn run(args: &[&str]) -> Command {
    let mut cmd = ch02();
    cmd.arg("run")
        .arg("--rootfs")
        .arg(testkit::fixtures::busybox_rootfs())
        .args(["--hostname", "box"])
        .args(args);
    cmd
}

/// Runs `cmd` and compares its transcript with the snapshot `name`.
fn check(name: &str, cmd: &mut Command, settings: insta::Settings) {
    testkit::require_root!();
    let transcript = testkit::transcript(cmd);
    let _guard = settings.bind_to_scope();
    insta::assert_snapshot!(name, transcript);
}

#[test]
fn the_command_is_pid_1() {
    check(
        "ps",
        &mut run(&["sh", "-c", "/bin/ps; true"]),
        testkit::redactions(),
    );
}

#[test]
fn dev_holds_only_the_basics() {
    check("dev", &mut run(&["ls", "/dev"]), testkit::redactions());
}

#[test]
fn sys_is_read_only() {
    check(
        "sys",
        &mut run(&["touch", "/sys/kernel/x"]),
        testkit::redactions(),
    );
}

#[test]
fn t_gives_a_terminal_from_its_own_devpts() {
    check("tty", &mut run(&["-t", "tty"]), testkit::redactions());
}

/// A bind mount from the spec of a bundle: a host directory, read-only, on /tmp.
#[test]
fn a_bundle_can_bind_a_host_directory_read_only() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("hello"), "hello from the host\n").unwrap();
    let out = run(&["--print-spec", "sh", "-c", "cat /tmp/hello; touch /tmp/x"])
        .output()
        .unwrap();
    let mut spec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    spec["mounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "destination": "/tmp",
            "type": "bind",
            "source": data.path(),
            "options": ["rbind", "ro"],
        }));
    let bundle = tempfile::Builder::new().prefix("bundle").tempdir().unwrap();
    std::fs::write(bundle.path().join("config.json"), spec.to_string()).unwrap();
    let mut settings = testkit::redactions();
    settings.add_filter(
        &testkit::regex_escape(&bundle.path().display().to_string()),
        "/tmp/bundle",
    );
    check(
        "bind",
        ch02().arg("run").arg("--bundle").arg(bundle.path()),
        settings,
    );
}

#[test]
fn the_mount_table_is_its_own() {
    check(
        "mounts",
        // Without what is mounted under /proc and /sys, which depends on the kernel.
        &mut run(&[
            "sh",
            "-c",
            r#"cut -d" " -f2 /proc/mounts | grep -Ev "^/(proc|sys)/""#,
        ]),
        testkit::redactions(),
    );
}

/// The runner is started with a descriptor that is *not* close-on-exec, as a
/// careless caller might leave one; the command must not get it.
#[test]
fn no_descriptor_leaks_into_the_container() {
    let leak = std::fs::File::open("/").unwrap();
    let fd = leak.as_raw_fd();
    let mut cmd = run(&["ls", "/proc/self/fd"]);
    // SAFETY: fcntl(2) is async-signal-safe; it clears FD_CLOEXEC on the runner's copy only.
    unsafe {
        cmd.pre_exec(move || match libc::fcntl(fd, libc::F_SETFD, 0) {
            -1 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        });
    }
    check("fds", &mut cmd, testkit::redactions());
    drop(leak);
}
