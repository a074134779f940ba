//! `--cpus 0.5` holds a busy loop near half a CPU, measured from the cgroup's own
//! CPU accounting (`cpuacct.usage` on v1, `usage_usec` in `cpu.stat` on v2) over a
//! few seconds: the transcript the book shows for CFS bandwidth control.
//!
//! The container lives under a cgroup parent of the test's own, removed with
//! everything under it when the test ends, also when it fails.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ch03_cgroups::{Cgroup, Hierarchy};
use testkit::CgroupParent;

/// How long the CPU time is watched.
const WINDOW: Duration = Duration::from_secs(3);

/// Waits until the container `name` has a process in its cgroup, and returns the cgroup.
fn wait_until_running(parent: &CgroupParent, name: &str, runner: &mut Child) -> Cgroup {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(cgroup) = Hierarchy::system().unwrap().open(parent.name(), name)
            && !cgroup.pids().unwrap_or_default().is_empty()
        {
            return cgroup;
        }
        if let Some(status) = runner.try_wait().unwrap() {
            panic!("the container exited early: {status}");
        }
        assert!(Instant::now() < deadline, "the container never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The CPU time `cgroup` used during `window`, as a share of one CPU.
fn cpu_share(cgroup: &Cgroup, window: Duration) -> f64 {
    let cpu_ns = || {
        cgroup
            .stats()
            .unwrap()
            .cpu_usage_ns
            .expect("CPU accounting")
    };
    let (before, start) = (cpu_ns(), Instant::now());
    std::thread::sleep(window);
    let used = cpu_ns() - before;
    used as f64 / start.elapsed().as_nanos() as f64
}

#[test]
fn cpus_half_holds_a_busy_loop_near_half_a_cpu() {
    testkit::require_root!();
    let parent = CgroupParent::new("cpu");
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
    let mut runner = Command::new(env!("CARGO_BIN_EXE_ch03-cgroups"))
        .env("DOCKYARD_CGROUP_PARENT", parent.name())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cgroup = wait_until_running(&parent, "busy", &mut runner);
    std::thread::sleep(Duration::from_millis(300));
    let share = cpu_share(&cgroup, WINDOW);
    // `docker kill`: the runner reports 137 and removes the cgroup.
    cgroup.remove().unwrap();
    assert_eq!(runner.wait().unwrap().code(), Some(137));
    assert!(
        (0.40..=0.60).contains(&share),
        "the busy loop used {:.1}% of a CPU",
        share * 100.0
    );

    let mut words = vec!["ch03-cgroups"];
    words.extend(args);
    let transcript = format!(
        "$ {} &\n\
         cpu use over {}s, from the cgroup's CPU time: between 40% and 60% of one CPU: yes\n",
        ch01_chroot::explain::shell_words(&words),
        WINDOW.as_secs(),
    );
    let _guard = testkit::redactions().bind_to_scope();
    insta::assert_snapshot!("cpus_half", transcript);
}
