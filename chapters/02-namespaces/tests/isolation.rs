//! What each namespace isolates, seen from inside and from outside the container.
//! The book's chapter 02 shows these transcripts.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use insta::assert_snapshot;

fn ch02() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ch02-namespaces"))
}

fn rootfs() -> PathBuf {
    testkit::fixtures::busybox_rootfs()
}

/// `ch02-namespaces run --rootfs FIXTURE --hostname box ARGS...`
fn run(args: &[&str]) -> Command {
    let mut cmd = ch02();
    cmd.arg("run")
        .arg("--rootfs")
        .arg(rootfs())
        .args(["--hostname", "box"])
        .args(args);
    cmd
}

/// The namespaces a process can be in, as named in /proc/PID/ns.
const KINDS: [&str; 10] = [
    "cgroup",
    "ipc",
    "mnt",
    "net",
    "pid",
    "pid_for_children",
    "time",
    "time_for_children",
    "user",
    "uts",
];

/// The container's /proc/self/ns links next to ours: each namespace is either
/// the test's own ("the host's") or a new one. The inode numbers differ from run
/// to run, so the snapshot keeps the comparison and drops the numbers; the
/// assertions check the numbers themselves.
#[test]
fn each_namespace_is_new_except_user_and_time() {
    testkit::require_root!();
    let host: Vec<(&str, String)> = KINDS
        .iter()
        .map(|kind| {
            let link = std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
            (*kind, link.to_string_lossy().into_owned())
        })
        .collect();
    let mut cmd = run(&[
        "sh",
        "-c",
        "cd /proc/self/ns && for ns in *; do echo \"$ns -> $(readlink $ns)\"; done",
    ]);
    let transcript = testkit::transcript(&mut cmd);

    let inside = |kind: &str| -> String {
        transcript
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{kind} -> ")))
            .unwrap_or_else(|| panic!("no {kind} line in:\n{transcript}"))
            .to_string()
    };
    for (kind, link) in &host {
        let same = inside(kind) == *link;
        let expected_same = matches!(*kind, "user" | "time" | "time_for_children");
        assert_eq!(
            same,
            expected_same,
            "{kind}: inside {}, outside {link}",
            inside(kind)
        );
    }

    let mut settings = testkit::redactions();
    for (kind, link) in &host {
        let typ = link.split(':').next().unwrap_or_default();
        settings.add_filter(
            &format!("(?m)^{} -> {}$", kind, testkit::regex_escape(link)),
            format!("{kind} -> {typ}:[the host's]"),
        );
    }
    settings.add_filter(r"(?m) -> (\w+):\[\d+\]$", " -> $1:[new]");
    let _guard = settings.bind_to_scope();
    assert_snapshot!("ns_inside_vs_outside", transcript);
}

/// PID 1 and its child: the shell, and the `ps` it started.
#[test]
fn ps_sees_pid_1_and_its_children() {
    testkit::require_root!();
    let transcript = testkit::transcript(&mut run(&["sh", "-c", "/bin/ps; true"]));
    let _guard = testkit::redactions().bind_to_scope();
    assert_snapshot!("ps_tree", transcript);
}

/// Kills the runner if the test fails half-way, so no container outlives it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The same process seen from the host: its own pid there, and 1 in the
/// container's PID namespace (the `NSpid` line lists both, outermost first).
#[test]
fn the_host_sees_pid_1_under_another_pid() {
    testkit::require_root!();
    let mut child = KillOnDrop(
        run(&["sh", "-c", "echo ready; exec sleep 60"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = std::io::BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let runner = child.0.id();
    let children =
        std::fs::read_to_string(format!("/proc/{runner}/task/{runner}/children")).unwrap();
    let init: u32 = children
        .split_whitespace()
        .next()
        .expect("the container's init")
        .parse()
        .unwrap();
    // `ready` comes just before the shell's exec of sleep: wait for that too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
        if status.starts_with("Name:\tsleep\n") {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert!(status.contains(&format!("NSpid:\t{init}\t1\n")), "{status}");

    let mut grep = Command::new("grep");
    grep.args(["-E", "^(Name|Pid|NSpid)"])
        .arg(format!("/proc/{init}/status"));
    let transcript = testkit::transcript(&mut grep);
    let mut settings = testkit::redactions();
    settings.add_filter(&format!(r"\b{init}\b"), "[PID]");
    let _guard = settings.bind_to_scope();
    assert_snapshot!("pid_outside", transcript);
}
