//! Lab 03 checks: docker's units, the `--cpus` quota, and cgroup v1's memory files,
//! first on their own (the library, and a fake cgroupfs in a temp dir: no root
//! needed), then on this machine's real cgroups through `ch03-cgroups` (root).
//! Each check compares what your code produced with the snapshot the reference
//! produced (labs/03-cgroups/snapshots/). Run them with `cargo xtask lab check 03`;
//! each check's hint is in lab.toml.
//!
//! Every cgroup made here lives under a parent of its own
//! (`dockyard-test-lab-NAME-PID`), removed when the check ends, passed or failed.

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ch03_cgroups::{
    Cgroup, CgroupGuard, Hierarchy, Limits, Setup, cpu_quota, format_bytes, parse_bytes, parse_swap,
};
use testkit::CgroupParent;

fn snapshot(name: &str, text: &str) {
    let _guard = testkit::redactions().bind_to_scope();
    insta::assert_snapshot!(name, text);
}

#[test]
fn sizes_use_dockers_units() {
    let mut table = String::new();
    for value in [
        "67108864", "512b", "1k", "64m", "64M", "64MB", "64MiB", "64 m", "1.5g", "0.5k", "2t",
        "12x", "64mbb", "-1", "1.2.3", ".5m", "", "9000p",
    ] {
        let parsed = match parse_bytes(value) {
            Ok(bytes) => format!("{bytes} ({})", format_bytes(bytes)),
            Err(err) => format!("error: {err}"),
        };
        writeln!(table, "{:>10} -> {parsed}", format!("{value:?}")).unwrap();
    }
    snapshot("sizes", &table);
}

#[test]
fn cpus_become_quota_and_period() {
    let mut table = String::new();
    for (cpus, nano_cpus) in [
        ("0.01", 10_000_000),
        ("0.5", 500_000_000),
        ("1", 1_000_000_000),
        ("1.5", 1_500_000_000),
        ("2", 2_000_000_000),
    ] {
        let (quota, period) = cpu_quota(nano_cpus);
        writeln!(
            table,
            "--cpus {cpus:<4} -> {quota}us of CPU time every {period}us"
        )
        .unwrap();
    }
    snapshot("cpu_quota", &table);
}

/// v1's "no limit", as `memory.limit_in_bytes` shows it.
const V1_UNLIMITED: &str = "9223372036854771712\n";

/// A fake v1 memory hierarchy holding a fresh cgroup `dockyard/c`, the kernel's
/// defaults in its files; without `memory.memsw.limit_in_bytes` if `swap_accounting`
/// is off (a kernel booted with swapaccount=0).
fn fake_v1(swap_accounting: bool) -> (tempfile::TempDir, Cgroup) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("memory/dockyard/c");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cgroup.procs"), "").unwrap();
    std::fs::write(dir.join("memory.limit_in_bytes"), V1_UNLIMITED).unwrap();
    if swap_accounting {
        std::fs::write(dir.join("memory.memsw.limit_in_bytes"), V1_UNLIMITED).unwrap();
    }
    let cgroup = Hierarchy::new(Setup::Legacy, root.path())
        .open("dockyard", "c")
        .unwrap();
    (root, cgroup)
}

#[test]
fn v1_memory_limits_go_in_their_files() {
    let mut report = String::new();
    // The flags as numbers (not through parse_bytes), so this check tests only
    // apply_memory.
    const MIB: i64 = 1 << 20;
    for (memory, swap, swap_accounting) in [
        ("64m", None, true),
        ("64m", Some(("100m", 100 * MIB)), true),
        ("64m", Some(("-1", -1)), true),
        ("64m", Some(("64m", 64 * MIB)), true),
        ("64m", None, false),
    ] {
        let limits = Limits {
            memory: Some(64 << 20),
            memory_swap: swap.map(|(_, bytes)| bytes),
            ..Limits::default()
        };
        let mut flags = format!("--memory {memory}");
        if let Some((swap, _)) = swap {
            write!(flags, " --memory-swap {swap}").unwrap();
        }
        if !swap_accounting {
            flags.push_str(" (swap accounting off)");
        }
        let (root, cgroup) = fake_v1(swap_accounting);
        cgroup.apply(&limits.resources().unwrap()).unwrap();
        writeln!(report, "{flags}:").unwrap();
        let dir = root.path().join("memory/dockyard/c");
        for file in ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"] {
            let content = std::fs::read_to_string(dir.join(file))
                .map(|c| c.trim().to_string())
                .unwrap_or_else(|_| "(no such file)".to_string());
            writeln!(report, "  {file:<30} {content}").unwrap();
        }
    }
    snapshot("v1_memory_files", &report);
}

#[test]
fn memory_limits_can_be_raised_and_lowered() {
    testkit::require_root!();
    let parent = CgroupParent::new("lab-memory");
    let cgroup = CgroupGuard::new(
        Hierarchy::system()
            .unwrap()
            .create(parent.name(), "c")
            .unwrap(),
    );
    let mut report = String::new();
    // Up, down, down with unlimited swap, and up again: each move is only possible
    // if the two files are written in the right order.
    for (memory, swap) in [
        ("64m", "128m"),
        ("256m", "512m"),
        ("32m", "48m"),
        ("16m", "-1"),
        ("128m", "256m"),
    ] {
        let limits = Limits {
            memory: Some(parse_bytes(memory).unwrap()),
            memory_swap: Some(parse_swap(swap).unwrap()),
            ..Limits::default()
        };
        let applied = cgroup.apply(&limits.resources().unwrap());
        let limit = cgroup.stats().unwrap().memory_limit;
        let outcome = match applied {
            Ok(()) => format!(
                "memory limit now {}",
                limit.map_or("none".into(), format_bytes)
            ),
            Err(err) => format!("error: {err}"),
        };
        writeln!(report, "--memory {memory} --memory-swap {swap}: {outcome}").unwrap();
    }
    snapshot("raise_and_lower", &report);
}

/// `ch03-cgroups ARGS...`, its containers' cgroups under `parent`.
fn ch03(parent: &CgroupParent, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ch03-cgroups"));
    cmd.env("DOCKYARD_CGROUP_PARENT", parent.name()).args(args);
    cmd
}

#[test]
fn a_memory_hog_is_oom_killed() {
    testkit::require_root!();
    let parent = CgroupParent::new("lab-oom");
    let rootfs = testkit::fixtures::busybox_rootfs();
    // tail keeps the last line of its input; /dev/zero has no newline.
    let mut cmd = ch03(
        &parent,
        &[
            "run",
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--memory",
            "32m",
            "tail",
            "/dev/zero",
        ],
    );
    snapshot("oom", &testkit::transcript(&mut cmd));
}

#[test]
fn cpus_half_holds_a_busy_loop_near_half_a_cpu() {
    testkit::require_root!();
    let parent = CgroupParent::new("lab-cpus");
    let rootfs = testkit::fixtures::busybox_rootfs();
    let args = [
        "run",
        "--rootfs",
        rootfs.to_str().unwrap(),
        "--name",
        "busy",
        "--cpus",
        "0.5",
        "sh",
        "-c",
        "while :; do :; done",
    ];
    let mut runner = ch03(&parent, &args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cgroup = wait_until_running(&parent, "busy", &mut runner);
    std::thread::sleep(Duration::from_millis(300));
    let window = Duration::from_secs(3);
    let cpu_ns = || {
        cgroup
            .stats()
            .unwrap()
            .cpu_usage_ns
            .expect("CPU accounting")
    };
    let (before, start) = (cpu_ns(), Instant::now());
    std::thread::sleep(window);
    let share = (cpu_ns() - before) as f64 / start.elapsed().as_nanos() as f64;
    let _ = cgroup.remove();
    let _ = runner.wait();
    assert!(
        (0.40..=0.60).contains(&share),
        "the busy loop used {:.1}% of a CPU",
        share * 100.0
    );
    let mut words = vec!["ch03-cgroups"];
    words.extend(args);
    let transcript = format!(
        "$ {} &\n\
         cpu use over 3s, from the cgroup's CPU time: between 40% and 60% of one CPU: yes\n",
        ch01_chroot::explain::shell_words(&words),
    );
    snapshot("cpus_half", &transcript);
}

/// Waits until the container `name` has a process in its cgroup, and returns the cgroup.
fn wait_until_running(parent: &CgroupParent, name: &str, runner: &mut Child) -> Cgroup {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(cgroup) = Hierarchy::system().unwrap().open(parent.name(), name)
            && !cgroup.pids().unwrap_or_default().is_empty()
        {
            return cgroup;
        }
        if runner.try_wait().unwrap().is_some() {
            let mut stderr = String::new();
            let _ = std::io::Read::read_to_string(runner.stderr.as_mut().unwrap(), &mut stderr);
            panic!("ch03-cgroups ended before the container ran:\n{stderr}");
        }
        assert!(Instant::now() < deadline, "the container never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}
