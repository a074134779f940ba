//! The library on this machine's real cgroups: limits read back from the kernel,
//! a process frozen and thawed, a memory hog OOM-killed, a fork bomb held by the pids
//! limit, `--cpus 0.5` measured by the cgroup's own CPU accounting, and a real
//! cgroup2 mounted in a temp dir for the v2 backend.
//!
//! Each test makes its cgroup under a parent of its own (`dockyard-test-NAME-PID`),
//! and removes both even when it panics, so nothing is left in /sys/fs/cgroup.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ch03_cgroups::{Cgroup, CgroupGuard, Error, Hierarchy, Limits, Setup, Version};
use nix::unistd::Pid;

/// A cgroup for one test, under a parent of its own; both removed on drop.
struct TestCgroup {
    guard: Option<CgroupGuard>,
    parents: Vec<PathBuf>,
}

impl TestCgroup {
    fn new(hierarchy: &Hierarchy, test: &str) -> TestCgroup {
        let parent = format!("dockyard-test-{test}-{}", std::process::id());
        let cgroup = hierarchy
            .create(&parent, "c")
            .expect("create the test cgroup");
        let parents = cgroup
            .dirs()
            .iter()
            .map(|dir| dir.parent().unwrap().to_path_buf())
            .collect();
        TestCgroup {
            guard: Some(CgroupGuard::new(cgroup)),
            parents,
        }
    }

    fn system(test: &str) -> TestCgroup {
        TestCgroup::new(&Hierarchy::system().expect("detect /sys/fs/cgroup"), test)
    }
}

impl std::ops::Deref for TestCgroup {
    type Target = Cgroup;

    fn deref(&self) -> &Cgroup {
        self.guard.as_ref().unwrap()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let removed = self.guard.take().unwrap().remove();
        for parent in &self.parents {
            let _ = std::fs::remove_dir(parent);
        }
        if !std::thread::panicking() {
            removed.expect("remove the test cgroup");
            for parent in &self.parents {
                assert!(!parent.exists(), "{} is left behind", parent.display());
            }
        }
    }
}

/// Starts `sh -c SCRIPT` held at a `read` until [`start`]: it only runs its script
/// once it is in the cgroup, so everything it does is counted there.
fn spawn_held(script: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("read _ && {script}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sh")
}

/// Puts the held child into `cgroup` and lets it go.
fn start(cgroup: &Cgroup, child: &mut Child) {
    cgroup
        .add_task(pid(child))
        .expect("add the child to the cgroup");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
}

fn pid(child: &Child) -> Pid {
    Pid::from_raw(child.id() as i32)
}

/// The content of a setting: `v1` is (controller, file), `v2` the file.
fn setting(cgroup: &Cgroup, v1: (&str, &str), v2: &str) -> String {
    let path = match cgroup {
        Cgroup::V1(_) => {
            let (controller, file) = v1;
            let dir = cgroup
                .dirs()
                .into_iter()
                .find(|dir| {
                    let mount = dir.parent().unwrap().parent().unwrap();
                    mount
                        .file_name()
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .split(',')
                        .any(|c| c == controller)
                })
                .unwrap_or_else(|| panic!("no {controller} hierarchy"));
            dir.join(file)
        }
        Cgroup::V2(_) => cgroup.dirs()[0].join(v2),
    };
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

fn cpu_ns(cgroup: &Cgroup) -> u64 {
    cgroup
        .stats()
        .unwrap()
        .cpu_usage_ns
        .expect("CPU accounting")
}

/// CPU time the cgroup used during `window`.
fn cpu_used_during(cgroup: &Cgroup, window: Duration) -> Duration {
    let before = cpu_ns(cgroup);
    std::thread::sleep(window);
    Duration::from_nanos(cpu_ns(cgroup) - before)
}

const BUSY_LOOP: &str = "while :; do :; done";

#[test]
fn detection_agrees_with_the_mount_table() {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    // Fields: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPER
    let fs_type = |mount_point: &str| {
        mountinfo.lines().rev().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let dash = fields.iter().position(|f| *f == "-")?;
            (fields[4] == mount_point).then(|| fields[dash + 1].to_string())
        })
    };
    let expected = match (
        fs_type("/sys/fs/cgroup").as_deref(),
        fs_type("/sys/fs/cgroup/unified").as_deref(),
    ) {
        (Some("cgroup2"), _) => Setup::Unified,
        (Some("tmpfs"), Some("cgroup2")) => Setup::Hybrid,
        (Some("tmpfs"), _) => Setup::Legacy,
        other => panic!("no cgroup filesystem at /sys/fs/cgroup: {other:?}"),
    };
    assert_eq!(Hierarchy::system().unwrap().setup(), expected);
}

#[test]
fn limits_are_applied_and_read_back() {
    testkit::require_root!();
    let cgroup = TestCgroup::system("limits");
    let limits = Limits {
        memory: Some(64 << 20),
        memory_swap: Some(128 << 20),
        cpus: Some(500_000_000),
        cpu_shares: Some(512),
        cpuset_cpus: Some("0".to_string()),
        pids_limit: Some(64),
    };
    cgroup.apply(&limits.resources().unwrap()).unwrap();
    assert_eq!(
        setting(&cgroup, ("memory", "memory.limit_in_bytes"), "memory.max"),
        "67108864"
    );
    assert_eq!(setting(&cgroup, ("pids", "pids.max"), "pids.max"), "64");
    assert_eq!(
        setting(&cgroup, ("cpuset", "cpuset.cpus"), "cpuset.cpus"),
        "0"
    );
    match cgroup.dirs().len() {
        1 => {
            assert_eq!(setting(&cgroup, ("", ""), "cpu.max"), "50000 100000");
            assert_eq!(setting(&cgroup, ("", ""), "cpu.weight"), "59");
        }
        _ => {
            assert_eq!(setting(&cgroup, ("cpu", "cpu.cfs_quota_us"), ""), "50000");
            assert_eq!(setting(&cgroup, ("cpu", "cpu.cfs_period_us"), ""), "100000");
            assert_eq!(setting(&cgroup, ("cpu", "cpu.shares"), ""), "512");
        }
    }
    assert_eq!(cgroup.stats().unwrap().memory_limit, Some(64 << 20));

    // The kernel keeps memory+swap >= memory at every moment: raising and lowering
    // both only works if they are written in the right order.
    for (memory, swap) in [
        (256u64 << 20, 512i64 << 20),
        (32 << 20, 48 << 20),
        (32 << 20, -1),
    ] {
        let limits = Limits {
            memory: Some(memory),
            memory_swap: Some(swap),
            ..Limits::default()
        };
        cgroup
            .apply(&limits.resources().unwrap())
            .unwrap_or_else(|e| panic!("{memory} {swap}: {e}"));
        assert_eq!(cgroup.stats().unwrap().memory_limit, Some(memory));
    }
}

#[test]
fn cpus_the_machine_lacks_are_refused_with_what_it_has() {
    testkit::require_root!();
    let cgroup = TestCgroup::system("cpuset");
    let limits = Limits {
        cpuset_cpus: Some("9999".to_string()),
        ..Limits::default()
    };
    let err = cgroup.apply(&limits.resources().unwrap()).unwrap_err();
    assert!(matches!(err, Error::InvalidResources(_)), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with("cpuset.cpus 9999: not available here (available: "),
        "{message}"
    );
}

#[test]
fn freeze_stops_every_process_and_thaw_lets_them_run() {
    testkit::require_root!();
    let cgroup = TestCgroup::system("freeze");
    let mut child = spawn_held(BUSY_LOOP);
    start(&cgroup, &mut child);
    assert!(cpu_used_during(&cgroup, Duration::from_millis(200)) > Duration::ZERO);

    cgroup.freeze().unwrap();
    if let Cgroup::V1(_) = *cgroup {
        assert_eq!(setting(&cgroup, ("freezer", "freezer.state"), ""), "FROZEN");
        // A frozen task sleeps uninterruptibly, as `ps` shows it.
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        assert!(status.contains("State:\tD"), "{status}");
    } else {
        assert!(setting(&cgroup, ("", ""), "cgroup.events").contains("frozen 1"));
    }
    assert_eq!(
        cpu_used_during(&cgroup, Duration::from_millis(300)),
        Duration::ZERO
    );

    cgroup.thaw().unwrap();
    assert!(cpu_used_during(&cgroup, Duration::from_millis(300)) > Duration::from_millis(30));
    drop(cgroup);
    assert_eq!(
        child.wait().unwrap().signal(),
        Some(9),
        "removing the cgroup kills the loop"
    );
}

#[test]
fn stats_count_memory_cpu_and_processes() {
    testkit::require_root!();
    let cgroup = TestCgroup::system("stats");
    let limits = Limits {
        memory: Some(64 << 20),
        ..Limits::default()
    };
    cgroup.apply(&limits.resources().unwrap()).unwrap();
    // Touch 8MiB of memory in the cgroup, then wait.
    let mut child = spawn_held("x=$(head -c 8388608 /dev/zero | tr '\\0' x); exec sleep 30");
    start(&cgroup, &mut child);
    let deadline = Instant::now() + Duration::from_secs(5);
    while cgroup.pids().unwrap().len() != 1 || !cmdline(&child).starts_with("sleep") {
        assert!(Instant::now() < deadline, "the child never got to sleep");
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = cgroup.stats().unwrap();
    assert_eq!(cgroup.pids().unwrap(), vec![pid(&child)]);
    assert_eq!(stats.pids_current, Some(1));
    assert_eq!(stats.memory_limit, Some(64 << 20));
    let usage = stats.memory_usage.unwrap();
    assert!(usage > 0 && usage < 64 << 20, "memory usage {usage}");
    assert!(stats.cpu_usage_ns.unwrap() > 0);
}

fn cmdline(child: &Child) -> String {
    std::fs::read_to_string(format!("/proc/{}/cmdline", child.id())).unwrap_or_default()
}

#[test]
fn a_memory_hog_is_oom_killed_at_its_limit() {
    testkit::require_root!();
    let cgroup = TestCgroup::system("oom");
    let limits = Limits {
        memory: Some(32 << 20),
        ..Limits::default()
    };
    cgroup.apply(&limits.resources().unwrap()).unwrap();
    assert!(!cgroup.oom_killed().unwrap());
    // dd reads 200 MiB into one buffer, touching every page of it. It is the
    // cgroup's only process (sh execs it), so the OOM killer has no other
    // to choose: with a shell and a pipe beside the hog, a second OOM kill
    // before the first victim's memory was freed sometimes took the shell.
    let mut child = spawn_held("exec dd if=/dev/zero of=/dev/null bs=200M count=1");
    start(&cgroup, &mut child);
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(nix::sys::signal::Signal::SIGKILL as i32),
        "dd killed by SIGKILL: {status}"
    );
    assert!(cgroup.oom_killed().unwrap());
}

#[test]
fn the_pids_limit_contains_a_fork_bomb() {
    testkit::require_root!();
    let cgroup = TestCgroup::system("forkbomb");
    let limits = Limits {
        pids_limit: Some(10),
        ..Limits::default()
    };
    cgroup.apply(&limits.resources().unwrap()).unwrap();
    // A bounded bomb: 50 processes if nothing stops it, so a missing limit fails
    // the test instead of harming the machine.
    let mut child = spawn_held("for i in $(seq 50); do sleep 30 & done; wait");
    start(&cgroup, &mut child);
    std::thread::sleep(Duration::from_secs(1));
    let current = cgroup.stats().unwrap().pids_current.unwrap();
    assert!(
        current <= 10,
        "{current} processes in a cgroup limited to 10"
    );
    let events = setting(&cgroup, ("pids", "pids.events"), "pids.events");
    let refused: u64 = events
        .strip_prefix("max ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        refused > 0,
        "the kernel refused no fork: pids.events says {events:?}"
    );
    // Outside the cgroup, forking still works.
    assert!(Command::new("true").status().unwrap().success());
    drop(cgroup);
    // The shell either gave up at its first failed fork or was killed with the rest.
    let _ = child.wait();
}

#[test]
fn cpus_half_holds_a_busy_loop_near_half_a_cpu() {
    testkit::require_root!();
    let cgroup = TestCgroup::system("cpus");
    let limits = Limits {
        cpus: Some(500_000_000),
        ..Limits::default()
    };
    cgroup.apply(&limits.resources().unwrap()).unwrap();
    let mut child = spawn_held(BUSY_LOOP);
    start(&cgroup, &mut child);
    std::thread::sleep(Duration::from_millis(200));
    let window = Duration::from_secs(3);
    let start = Instant::now();
    let used = cpu_used_during(&cgroup, window);
    let share = used.as_secs_f64() / start.elapsed().as_secs_f64();
    eprintln!("the busy loop used {:.1}% of a CPU", share * 100.0);
    assert!(
        (0.40..=0.60).contains(&share),
        "the busy loop used {:.0}% of a CPU",
        share * 100.0
    );
    drop(cgroup);
    let _ = child.wait();
}

#[test]
fn remove_kills_what_is_left_and_removes_the_directories() {
    testkit::require_root!();
    let hierarchy = Hierarchy::system().unwrap();
    let parent = format!("dockyard-test-remove-{}", std::process::id());
    let cgroup = hierarchy.create(&parent, "c").unwrap();
    let dirs: Vec<PathBuf> = cgroup.dirs().iter().map(|d| d.to_path_buf()).collect();
    let mut child = spawn_held("exec sleep 30");
    start(&cgroup, &mut child);
    cgroup.remove().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    for dir in &dirs {
        assert!(!dir.exists(), "{} is left", dir.display());
        std::fs::remove_dir(dir.parent().unwrap()).unwrap();
    }
    // Removing again is fine: cleaning up can always be retried.
    cgroup.remove().unwrap();
    assert!(matches!(
        hierarchy.open(&parent, "c"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn the_guard_removes_the_cgroup_when_a_run_panics() {
    testkit::require_root!();
    let hierarchy = Hierarchy::system().unwrap();
    let parent = format!("dockyard-test-guard-{}", std::process::id());
    let mut dirs = Vec::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let guard = CgroupGuard::new(hierarchy.create(&parent, "c").unwrap());
        dirs.extend(guard.dirs().iter().map(|d| d.to_path_buf()));
        panic!("a run fails half-way");
    }));
    assert!(result.is_err());
    assert!(!dirs.is_empty());
    for dir in &dirs {
        assert!(!dir.exists(), "{} is left", dir.display());
        std::fs::remove_dir(dir.parent().unwrap()).unwrap();
    }
}

fn controllers(root: &Path) -> String {
    std::fs::read_to_string(root.join("cgroup.controllers")).unwrap()
}

/// The v2 backend on a real cgroup2. On a v1 or hybrid machine the controllers are
/// bound to the v1 hierarchies, so this cgroup2 has none of ours (here: only
/// hugetlb): it checks what v2 does without controllers (moving processes, the
/// freezer, CPU time, `cgroup.kill`) and that a memory limit then fails clearly.
/// On a unified machine the other tests already drive the v2 backend fully.
#[test]
fn the_v2_backend_on_a_mounted_cgroup2() {
    testkit::require_root!();
    if Hierarchy::system().unwrap().setup().version() == Version::V2 {
        eprintln!("note: /sys/fs/cgroup is cgroup v2; the other tests covered the v2 backend");
        return;
    }
    let mount = testkit::Cgroup2Mount::mount();
    let hierarchy = Hierarchy::detect(mount.path()).unwrap();
    assert_eq!(hierarchy.setup(), Setup::Unified);
    let cgroup = TestCgroup::new(&hierarchy, "v2");
    assert!(matches!(*cgroup, Cgroup::V2(_)));

    let mut child = spawn_held(BUSY_LOOP);
    start(&cgroup, &mut child);
    assert_eq!(cgroup.pids().unwrap(), vec![pid(&child)]);
    assert!(cpu_used_during(&cgroup, Duration::from_millis(200)) > Duration::ZERO);

    cgroup.freeze().unwrap();
    assert_eq!(
        cpu_used_during(&cgroup, Duration::from_millis(300)),
        Duration::ZERO
    );
    cgroup.thaw().unwrap();
    assert!(cpu_used_during(&cgroup, Duration::from_millis(300)) > Duration::ZERO);

    let memory = Limits {
        memory: Some(64 << 20),
        ..Limits::default()
    }
    .resources()
    .unwrap();
    if controllers(mount.path())
        .split_whitespace()
        .any(|c| c == "memory")
    {
        eprintln!("note: this cgroup2 has the memory controller; the limit is applied");
        cgroup.apply(&memory).unwrap();
        assert_eq!(cgroup.stats().unwrap().memory_limit, Some(64 << 20));
    } else {
        let err = cgroup.apply(&memory).unwrap_err();
        assert!(
            matches!(
                err,
                Error::ControllerMissing {
                    controller: "memory",
                    ..
                }
            ),
            "{err}"
        );
        eprintln!(
            "note: no memory, cpu or pids controller in this cgroup2 (they are bound to v1): limits not tested on v2 here"
        );
    }
    drop(cgroup);
    assert_eq!(
        child.wait().unwrap().signal(),
        Some(9),
        "cgroup.kill killed the loop"
    );
}
