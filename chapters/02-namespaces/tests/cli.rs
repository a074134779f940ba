//! `ch02-namespaces` as a reader runs it: each transcript here is also shown in the book.

use std::path::{Path, PathBuf};
use std::process::Command;

use insta::assert_snapshot;

fn ch02() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ch02-namespaces"))
}

fn rootfs() -> PathBuf {
    testkit::fixtures::busybox_rootfs()
}

/// Redactions for this chapter: testkit's, plus the per-container directory
/// that holds /etc/hostname and friends (a random temp dir name).
fn settings() -> insta::Settings {
    let mut settings = testkit::redactions();
    settings.add_filter(
        r"/tmp/dockyard-ch02-[A-Za-z0-9]+",
        "/tmp/dockyard-ch02-[RANDOM]",
    );
    settings
}

/// Runs `ch02-namespaces run --rootfs FIXTURE --hostname HOST ARGS...` and snapshots it as `name`.
fn snapshot_run(name: &str, flags: &[&str], args: &[&str]) -> String {
    let mut cmd = ch02();
    cmd.arg("run")
        .arg("--rootfs")
        .arg(rootfs())
        .args(["--hostname", "box"])
        .args(flags)
        .args(args);
    let transcript = testkit::transcript(&mut cmd);
    let _guard = settings().bind_to_scope();
    assert_snapshot!(name, transcript);
    transcript
}

#[test]
fn own_hostname() {
    testkit::require_root!();
    let host = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let transcript = snapshot_run("hostname", &[], &["hostname"]);
    assert_ne!(transcript.lines().nth(1), Some(host.as_str()));
    // And the host's hostname is untouched.
    assert_eq!(nix::unistd::gethostname().unwrap().to_string_lossy(), host);
}

#[test]
fn the_command_is_pid_1() {
    testkit::require_root!();
    snapshot_run("ps", &[], &["ps"]);
}

#[test]
fn only_loopback_and_it_is_up() {
    testkit::require_root!();
    snapshot_run("ip_link", &[], &["ip", "link"]);
}

#[test]
fn the_hosts_mounts_are_invisible() {
    testkit::require_root!();
    let transcript = snapshot_run(
        "mounts",
        &[],
        &["cut", "-d", " ", "-f", "2", "/proc/mounts"],
    );
    let mounts: Vec<&str> = transcript.lines().skip(1).collect();
    for host_mount in ["/sys/fs/cgroup", "/work", "/mnt", "/run"] {
        assert!(
            !mounts.iter().any(|m| m.starts_with(host_mount)),
            "a host mount leaked in:\n{transcript}"
        );
    }
}

#[test]
fn explain_shows_each_step() {
    testkit::require_root!();
    let mut cmd = ch02();
    cmd.arg("--explain")
        .arg("run")
        .arg("--rootfs")
        .arg(rootfs())
        .args(["--hostname", "box", "true"]);
    let transcript = testkit::transcript(&mut cmd);
    let _guard = settings().bind_to_scope();
    assert_snapshot!("explain", transcript);
}

/// Chapter 01's escape (mount /proc, walk out through /proc/PID/root of a process
/// outside the chroot) fails three times over: the mount is refused (no
/// CAP_SYS_ADMIN), the runner is not visible ($PPID is 0 in a new PID namespace),
/// and PID 1's root is the container's own, since pivot_root left no old root.
#[test]
fn the_chroot_escape_fails() {
    testkit::require_root!();
    let secret = testkit::HostSecret::create("ch02");
    let script = format!(
        "echo PPID=$PPID; mount -t proc proc /proc; ls /proc/1/root/; cat /proc/1/root{}",
        secret.path().display()
    );
    let transcript = snapshot_run("escape", &[], &["sh", "-c", &script]);
    assert!(
        !transcript.contains("outside the rootfs"),
        "escaped:\n{transcript}"
    );
}

#[test]
fn t_gives_a_terminal() {
    testkit::require_root!();
    snapshot_run("tty", &["-t"], &["tty"]);
}

#[test]
fn exit_status_passes_through() {
    testkit::require_root!();
    snapshot_run("exit_3", &[], &["sh", "-c", "exit 3"]);
}

#[test]
fn command_not_found_exits_127() {
    testkit::require_root!();
    snapshot_run("not_found", &[], &["nosuchcmd"]);
}

#[test]
fn command_not_executable_exits_126() {
    testkit::require_root!();
    snapshot_run("not_executable", &[], &["/etc/passwd"]);
}

#[test]
fn workdir_that_is_a_file_exits_125() {
    testkit::require_root!();
    snapshot_run("workdir_is_a_file", &["-w", "/etc/passwd"], &["pwd"]);
}

#[test]
fn workdir_and_user_and_env() {
    testkit::require_root!();
    snapshot_run(
        "user_workdir_env",
        &["-u", "nobody", "-w", "/tmp", "-e", "GREETING=hi"],
        &["sh", "-c", "id; pwd; echo $GREETING $HOME"],
    );
}

#[test]
fn unknown_user_exits_125() {
    snapshot_run("unknown_user", &["-u", "nosuchuser"], &["id"]);
}

#[test]
fn missing_rootfs_exits_125() {
    let mut cmd = ch02();
    cmd.args(["run", "--rootfs", "/nonexistent/rootfs", "true"]);
    let _guard = settings().bind_to_scope();
    assert_snapshot!("rootfs_missing", testkit::transcript(&mut cmd));
}

#[test]
fn not_root_is_refused_clearly() {
    // Needs root to become someone else: the check runs as `nobody`.
    testkit::require_root!();
    let mut cmd = ch02();
    cmd.arg("run").arg("--rootfs").arg(rootfs()).arg("true");
    std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
    let _guard = settings().bind_to_scope();
    assert_snapshot!("not_root", testkit::transcript(&mut cmd));
}

// --- hardening ---

#[test]
fn mount_fails_without_cap_sys_admin() {
    testkit::require_root!();
    snapshot_run(
        "mount_refused",
        &[],
        &[
            "sh",
            "-c",
            "mount -t tmpfs tmpfs /tmp; grep Cap /proc/self/status",
        ],
    );
}

/// unshare(CLONE_NEWUSER) needs no capability at all: only seccomp refuses it.
#[test]
fn seccomp_refuses_unshare() {
    testkit::require_root!();
    snapshot_run("seccomp_unshare", &[], &["unshare", "--user", "true"]);
}

/// The same container without the seccomp section of its spec: now unshare
/// works, so it was seccomp (not a missing capability) that refused it.
#[test]
fn without_seccomp_unshare_works() {
    testkit::require_root!();
    let bundle = tempfile::tempdir().unwrap();
    let spec = print_spec(&["unshare", "--user", "true"]);
    let mut spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    spec["linux"]
        .as_object_mut()
        .unwrap()
        .remove("seccomp")
        .expect("a seccomp section");
    std::fs::write(bundle.path().join("config.json"), spec.to_string()).unwrap();
    let out = ch02()
        .arg("run")
        .arg("--bundle")
        .arg(bundle.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts the runner with a descriptor that is *not* close-on-exec (as a
/// careless caller might); the container still sees only 0, 1, 2 and the
/// directory `ls` itself opens.
#[test]
fn no_descriptor_leaks_into_the_container() {
    testkit::require_root!();
    let (_read, write) = nix::unistd::pipe().unwrap(); // no O_CLOEXEC: inherited by the runner
    let fd = std::os::fd::AsRawFd::as_raw_fd(&write);
    let mut cmd = ch02();
    cmd.arg("run")
        .arg("--rootfs")
        .arg(rootfs())
        .args(["ls", "/proc/self/fd"]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fds: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "fd {fd} was open in the runner");
    assert!(Path::new(&format!("/proc/self/fd/{fd}")).exists());
}

/// Started as nohup and a shell's background job start a command (SIGHUP,
/// SIGINT and SIGQUIT ignored) and with SIGPIPE ignored as Rust ignores it,
/// the runner still starts the container's command with none ignored.
#[test]
fn the_command_ignores_no_signal_the_caller_ignored() {
    testkit::require_root!();
    let mut cmd = ch02();
    cmd.arg("run")
        .arg("--rootfs")
        .arg(rootfs())
        .args(["grep", "SigIgn", "/proc/self/status"]);
    // SAFETY: signal(2) with SIG_IGN, between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGPIPE] {
                libc::signal(sig, libc::SIG_IGN);
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "SigIgn:\t0000000000000000\n",
        "a bit set is an ignored signal (bit N-1 for signal N)"
    );
}

// --- the spec and bundles ---

fn print_spec(args: &[&str]) -> String {
    let out = ch02()
        .arg("run")
        .arg("--print-spec")
        .arg("--rootfs")
        .arg(rootfs())
        .args(["--hostname", "box"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn print_spec_shows_the_config_json() {
    let mut cmd = ch02();
    cmd.arg("run")
        .arg("--print-spec")
        .arg("--rootfs")
        .arg(rootfs())
        .args(["--hostname", "box", "-t", "sh"]);
    let _guard = settings().bind_to_scope();
    assert_snapshot!("print_spec", testkit::transcript(&mut cmd));
}

#[test]
fn a_bundle_runs_like_the_flags() {
    testkit::require_root!();
    let bundle = tempfile::tempdir().unwrap();
    std::fs::write(bundle.path().join("config.json"), print_spec(&["hostname"])).unwrap();
    let out = ch02()
        .arg("run")
        .arg("--bundle")
        .arg(bundle.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "box\n");
    assert!(out.status.success());
}

#[test]
fn invalid_bundle_config_is_named() {
    let bundle = tempfile::Builder::new().prefix("bundle").tempdir().unwrap();
    std::fs::write(
        bundle.path().join("config.json"),
        "{\"ociVersion\": \"1.0.2\", \"process\": 42}",
    )
    .unwrap();
    let mut cmd = ch02();
    cmd.arg("run").arg("--bundle").arg(bundle.path());
    let mut settings = settings();
    settings.add_filter(
        &testkit::regex_escape(&bundle.path().display().to_string()),
        "/tmp/bundle",
    );
    let _guard = settings.bind_to_scope();
    assert_snapshot!("bad_bundle", testkit::transcript(&mut cmd));
}

// --- user namespace ---

#[test]
fn userns_maps_root_to_an_unprivileged_id() {
    testkit::require_root!();
    snapshot_run(
        "userns",
        &["--userns"],
        &["sh", "-c", "id; cat /proc/self/uid_map /proc/self/gid_map"],
    );
}

// --- signals and terminals ---

/// Starts the runner on `script` with stdout piped, waits until the script
/// prints `ready`, and returns the runner with its stdout reader.
fn start_ready(
    flags: &[&str],
    script: &str,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
) {
    use std::io::BufRead;
    let mut child = ch02()
        .arg("run")
        .arg("--rootfs")
        .arg(rootfs())
        .args(flags)
        .args(["sh", "-c", script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    (child, out)
}

/// Kills the runner if a test fails half-way, so no container outlives it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn signals_to_the_runner_reach_the_command() {
    testkit::require_root!();
    use std::io::Read;
    let (child, mut out) = start_ready(
        &[],
        "trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.1; done",
    );
    let mut child = KillOnDrop(child);
    let pid = nix::unistd::Pid::from_raw(child.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.0.wait().unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "got TERM\n");
    assert_eq!(status.code(), Some(3));
}

/// PID 1 killed from the host (as `docker kill` does): 128 + 9.
#[test]
fn killed_by_sigkill_exits_137() {
    testkit::require_root!();
    let (child, _out) = start_ready(&[], "echo ready; exec sleep 60");
    let mut child = KillOnDrop(child);
    let children =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.0.id())).unwrap();
    let init: i32 = children
        .split_whitespace()
        .next()
        .expect("the container's init")
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(init),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert_eq!(child.0.wait().unwrap().code(), Some(137));
}

/// Collects a reader's output on a thread, so a test can wait for some text
/// with a time limit instead of hanging when it never comes.
struct Output {
    chunks: std::sync::mpsc::Receiver<String>,
    seen: String,
}

impl Output {
    fn collect(mut reader: impl std::io::Read + Send + 'static) -> Output {
        let (tx, chunks) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                if tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
                {
                    break;
                }
            }
        });
        Output {
            chunks,
            seen: String::new(),
        }
    }

    /// Waits (at most 10 s) until `text` has been seen since the last wait.
    fn wait_for(&mut self, text: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !self.seen.contains(text) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&chunk),
                Err(_) => panic!("never saw {text:?}; output so far: {:?}", self.seen),
            }
        }
        let end = self.seen.find(text).unwrap() + text.len();
        self.seen.drain(..end);
    }
}

/// `-it` with a terminal as stdin: the container's terminal starts with the
/// caller's size and follows a resize (SIGWINCH), what we type reaches the
/// shell, and the caller's terminal settings are restored afterwards.
#[test]
fn it_is_interactive_follows_resizes_and_restores_the_terminal() {
    testkit::require_root!();
    use nix::pty::Winsize;
    use nix::sys::termios::tcgetattr;
    use std::io::Write;
    let size = |ws_row, ws_col| Winsize {
        ws_row,
        ws_col,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size(40, 100)), None).unwrap();
    let before = tcgetattr(&pty.slave).unwrap();
    let mut cmd = ch02();
    cmd.arg("run")
        .arg("--rootfs")
        .arg(rootfs())
        .args(["-i", "-t", "sh"]);
    cmd.stdin(std::process::Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = KillOnDrop(cmd.spawn().unwrap());
    let mut out = Output::collect(child.0.stdout.take().unwrap());
    let mut master = std::fs::File::from(pty.master);

    master.write_all(b"tty; stty size\n").unwrap();
    out.wait_for("/dev/pts/0");
    out.wait_for("40 100");

    nix::ioctl_write_ptr_bad!(set_winsize, libc::TIOCSWINSZ, Winsize);
    // SAFETY: TIOCSWINSZ reads the Winsize we pass.
    unsafe { set_winsize(std::os::fd::AsRawFd::as_raw_fd(&master), &size(50, 120)) }.unwrap();
    // The runner is not in this terminal's session, so tell it as a terminal would.
    let runner = nix::unistd::Pid::from_raw(child.0.id() as i32);
    nix::sys::signal::kill(runner, nix::sys::signal::Signal::SIGWINCH).unwrap();
    master.write_all(b"stty size; exit 5\n").unwrap();
    out.wait_for("50 120");

    assert_eq!(child.0.wait().unwrap().code(), Some(5));
    let after = tcgetattr(&pty.slave).unwrap();
    assert_eq!(
        format!("{after:?}"),
        format!("{before:?}"),
        "the caller's terminal was not restored"
    );
}
