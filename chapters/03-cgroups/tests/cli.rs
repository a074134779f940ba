//! `ch03-cgroups` as a reader runs it: each transcript here is also shown in the book.
//!
//! Containers made here live under a cgroup parent of the test's own
//! (`DOCKYARD_CGROUP_PARENT=dockyard-test-NAME-PID`), removed when the test ends.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ch03_cgroups::Hierarchy;
use insta::assert_snapshot;
use testkit::CgroupParent;

fn ch03() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ch03-cgroups"))
}

/// `ch03-cgroups ARGS...` with its containers under the test's own cgroup parent.
fn ch03_in(parent: &CgroupParent, args: &[&str]) -> Command {
    let mut cmd = ch03();
    cmd.env("DOCKYARD_CGROUP_PARENT", parent.name()).args(args);
    cmd
}

fn snapshot(name: &str, cmd: &mut Command) {
    let _guard = testkit::redactions().bind_to_scope();
    assert_snapshot!(name, testkit::transcript(cmd));
}

#[test]
fn a_memory_hog_is_oom_killed_and_reported() {
    testkit::require_root!();
    let parent = CgroupParent::new("oom");
    let rootfs = testkit::fixtures::busybox_rootfs();
    let rootfs = rootfs.to_str().unwrap();
    // tail keeps the last line of its input; /dev/zero has no newline, so it
    // keeps everything it reads until the OOM killer stops it.
    snapshot(
        "oom",
        &mut ch03_in(
            &parent,
            &[
                "run",
                "--rootfs",
                rootfs,
                "--memory",
                "32m",
                "tail",
                "/dev/zero",
            ],
        ),
    );
}

#[test]
fn the_pids_limit_stops_a_fork_bomb() {
    testkit::require_root!();
    let parent = CgroupParent::new("forkbomb");
    let rootfs = testkit::fixtures::busybox_rootfs();
    let script = "for i in $(seq 20); do sleep 10 & echo started $i; done";
    let args = [
        "run",
        "--rootfs",
        rootfs.to_str().unwrap(),
        "--pids-limit",
        "10",
        "sh",
        "-c",
        script,
    ];
    // The shell is one of the 10: it starts 9 sleeps, then fork(2) fails.
    snapshot("fork_bomb", &mut ch03_in(&parent, &args));
}

#[test]
fn the_container_sees_its_own_limits_read_only() {
    testkit::require_root!();
    let parent = CgroupParent::new("view");
    let rootfs = testkit::fixtures::busybox_rootfs();
    // The same lines on both versions: v2's files, else v1's.
    let script = "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; \
         cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max; \
         touch /sys/fs/cgroup/x";
    let args = [
        "run",
        "--rootfs",
        rootfs.to_str().unwrap(),
        "--memory",
        "32m",
        "--pids-limit",
        "10",
        "sh",
        "-c",
        script,
    ];
    snapshot("cgroup_view", &mut ch03_in(&parent, &args));
}

/// The numbers of the one line `ch03-cgroups stats` prints about a container.
struct StatsLine {
    cpu_percent: f64,
    limit: String,
    pids: String,
}

fn stats_line(transcript: &str) -> StatsLine {
    let line = transcript
        .lines()
        .find(|l| l.starts_with("web "))
        .expect("a line about web");
    // web  CPU%  CPU-TIME  USAGE / LIMIT  MEM%  PIDS
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 8, "{line}");
    StatsLine {
        cpu_percent: words[1].trim_end_matches('%').parse().unwrap(),
        limit: words[5].to_string(),
        pids: words[7].to_string(),
    }
}

/// Redacts the numbers of a stats line that change from run to run.
fn stats_redactions() -> insta::Settings {
    let mut settings = testkit::redactions();
    settings.add_filter(r" +\d+\.\d{3}s", " [CPU TIME]");
    settings.add_filter(r" +\d+(\.\d+)?[KMG]?i?B /", " [MEM USAGE] /");
    settings.add_filter(r"(/ 64MiB) +\d+\.\d+%", "$1 [MEM %]");
    settings.add_filter(r"(?m)^(web) +\d+\.\d+%", "$1 [CPU %]");
    settings
}

fn wait_until_running(parent: &CgroupParent, runner: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let running = Hierarchy::system()
            .unwrap()
            .open(parent.name(), "web")
            .is_ok_and(|cgroup| !cgroup.pids().unwrap_or_default().is_empty());
        if running {
            return;
        }
        assert!(
            runner.try_wait().unwrap().is_none(),
            "the container exited early"
        );
        assert!(Instant::now() < deadline, "the container never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn stats_freeze_and_thaw_a_running_container() {
    testkit::require_root!();
    let parent = CgroupParent::new("stats");
    let rootfs = testkit::fixtures::busybox_rootfs();
    let args = [
        "run",
        "--rootfs",
        rootfs.to_str().unwrap(),
        "--name",
        "web",
        "--cpus",
        "0.5",
        "--memory",
        "64m",
        "sh",
        "-c",
        "while :; do :; done",
    ];
    // stderr is kept: if the runner fails, its message goes into the assertion.
    let mut runner = ch03_in(&parent, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_running(&parent, &mut runner);
    std::thread::sleep(Duration::from_millis(300));

    let running = testkit::transcript(&mut ch03_in(&parent, &["stats", "web"]));
    let line = stats_line(&running);
    // --cpus 0.5, measured by the cgroup's own CPU accounting over one second.
    assert!((40.0..=60.0).contains(&line.cpu_percent), "{running}");
    assert_eq!(
        (line.limit.as_str(), line.pids.as_str()),
        ("64MiB", "1"),
        "{running}"
    );

    let freeze = testkit::transcript(&mut ch03_in(&parent, &["freeze", "web"]));
    let frozen = testkit::transcript(&mut ch03_in(&parent, &["stats", "web"]));
    assert_eq!(stats_line(&frozen).cpu_percent, 0.0, "{frozen}");
    let thaw = testkit::transcript(&mut ch03_in(&parent, &["thaw", "web"]));
    let thawed = testkit::transcript(&mut ch03_in(&parent, &["stats", "web"]));
    assert!(stats_line(&thawed).cpu_percent > 0.0, "{thawed}");

    let _guard = stats_redactions().bind_to_scope();
    assert_snapshot!("stats", running);
    assert_snapshot!("freeze", freeze);
    assert_snapshot!("stats_frozen", frozen);
    assert_snapshot!("thaw", thaw);

    // `docker kill`: SIGKILL every process in the container; the runner reports
    // 137 and removes the cgroup itself.
    let cgroup = Hierarchy::system()
        .unwrap()
        .open(parent.name(), "web")
        .unwrap();
    for pid in cgroup.pids().unwrap() {
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    }
    let ended = runner.wait_with_output().unwrap();
    assert_eq!(
        ended.status.code(),
        Some(137),
        "the runner said: {}",
        String::from_utf8_lossy(&ended.stderr)
    );
    assert!(
        cgroup.dirs().iter().all(|dir| !dir.exists()),
        "the runner left its cgroup"
    );
}

#[test]
fn print_spec_carries_the_limits() {
    let rootfs = testkit::fixtures::busybox_rootfs();
    let output = ch03()
        .args([
            "run",
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--name",
            "web",
            "--print-spec",
        ])
        .args([
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "--cpuset-cpus",
            "0",
        ])
        .args(["--pids-limit", "64", "true"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let spec: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let linux = &spec["linux"];
    assert_eq!(linux["cgroupsPath"], "/dockyard/web");
    assert_eq!(
        linux["resources"],
        serde_json::json!({
            "memory": { "limit": 67108864, "swap": 134217728 },
            "cpu": { "shares": 512, "quota": 50000, "period": 100000, "cpus": "0" },
            "pids": { "limit": 64 },
        })
    );
}

#[test]
fn bad_limits_are_refused_naming_the_flag() {
    let rootfs = testkit::fixtures::busybox_rootfs();
    let rootfs = rootfs.to_str().unwrap();
    for (name, flags) in [
        ("memory_12x", &["--memory", "12x"][..]),
        ("cpus_negative", &["--cpus", "-1"]),
        ("memory_too_small", &["--memory", "4m"]),
        (
            "swap_below_memory",
            &["--memory", "64m", "--memory-swap", "32m"],
        ),
        ("swap_without_memory", &["--memory-swap", "1g"]),
        ("cpuset_backwards", &["--cpuset-cpus", "3-1"]),
    ] {
        let mut cmd = ch03();
        cmd.args(["run", "--rootfs", rootfs])
            .args(flags)
            .arg("true");
        snapshot(name, &mut cmd);
    }
}

#[test]
fn stats_of_a_missing_container_say_so() {
    snapshot("stats_missing", ch03().args(["stats", "nosuch"]));
}
