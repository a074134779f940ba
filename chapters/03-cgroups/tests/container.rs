//! The library's containers on this machine's real cgroups: the start with a
//! set-up hook of the caller's, as the engine starts a container. Each
//! test's cgroups live under a parent of its own (`dockyard-test-NAME-PID`),
//! removed when the test ends.

use ch02_namespaces::spec::{self, RunFlags};
use ch03_cgroups::{Hierarchy, Limits, RunError, Running};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::CgroupParent;

/// Starts `sleep 30` on the busybox fixture, limited to 20 processes, in
/// `parent`'s cgroup `c`, the engine's way: `hook` runs once the child
/// exists, before it execs.
fn start_sleep(
    parent: &CgroupParent,
    hook: &mut ch02_namespaces::Setup<'_>,
) -> Result<Running, RunError> {
    let rootfs = testkit::fixtures::busybox_rootfs();
    let flags = RunFlags {
        args: vec!["sleep".into(), "30".into()],
        ..RunFlags::default()
    };
    let mut spec = spec::build(&flags, &rootfs).unwrap();
    let limits = Limits {
        pids_limit: Some(20),
        ..Limits::default()
    };
    ch03_cgroups::set_resources(&mut spec, &limits, parent.name(), "c").unwrap();
    ch03_cgroups::spawn_with_setup(&spec, &rootfs, parent.name(), "c", hook)
}

#[test]
fn the_hook_runs_before_the_child_execs_in_its_cgroup() {
    testkit::require_root!();
    let parent = CgroupParent::new("hook");
    let cgroup = || {
        Hierarchy::system()
            .unwrap()
            .open(parent.name(), "c")
            .unwrap()
    };
    let mut hooked = None;
    let mut running = start_sleep(&parent, &mut |pid| {
        hooked = Some((pid, cgroup().pids()?));
        Ok(())
    })
    .unwrap();
    let pid = running.container().pid();
    // Born in it on v2; on v1 it moves itself in once it goes on, and
    // nobody else moves it.
    let v2 = cgroup().birthplace().is_some();
    let in_cgroup = if v2 { vec![pid] } else { vec![] };
    assert_eq!(
        hooked,
        Some((pid, in_cgroup)),
        "the hook saw the child's pid, and its cgroup's processes"
    );
    // Its command runs now (spawn returns after the execve): it got there in
    // its cgroup, under its limit.
    let cgroup = cgroup();
    assert!(
        cgroup.pids().unwrap().contains(&pid),
        "{pid} is not in {:?}",
        cgroup.dirs()
    );
    assert_eq!(cgroup.stats().unwrap().pids_current, Some(1));
    kill(pid, Signal::SIGKILL).unwrap();
    let exit = running.wait().unwrap();
    assert_eq!(exit.code, 128 + Signal::SIGKILL as i32);
}

#[test]
fn a_failing_hook_stops_the_start_and_leaves_nothing() {
    testkit::require_root!();
    let parent = CgroupParent::new("hook-fails");
    let mut child = None;
    let result = start_sleep(&parent, &mut |pid: Pid| {
        child = Some(pid);
        Err("the hook refuses".into())
    });
    let Err(RunError::Runtime(err)) = result else {
        panic!("the start went on: {result:?}");
    };
    assert!(err.to_string().contains("the hook refuses"), "{err}");
    // The child was killed and reaped, and its cgroup removed.
    let child = child.expect("the hook ran");
    assert!(!std::path::Path::new(&format!("/proc/{child}")).exists());
    assert!(
        Hierarchy::system()
            .unwrap()
            .open(parent.name(), "c")
            .is_err()
    );
}

/// On cgroup v2 (here, a cgroup2 mounted for the test: on a v1 machine it
/// holds none of our controllers, so the container has no limits), the child
/// is born in its cgroup: it is the cgroup's one process when the hook first
/// sees it, and the cgroup goes when the run ends.
#[test]
fn on_cgroup_v2_the_child_is_born_in_its_cgroup() {
    testkit::require_root!();
    let mount = testkit::Cgroup2Mount::mount();
    let hierarchy = Hierarchy::detect(mount.path()).unwrap();
    let parent = CgroupParent::new("born-v2");
    let rootfs = testkit::fixtures::busybox_rootfs();
    let flags = RunFlags {
        args: vec!["true".into()],
        ..RunFlags::default()
    };
    let spec = spec::build(&flags, &rootfs).unwrap();
    let mut seen = None;
    let running =
        ch03_cgroups::spawn_on(&hierarchy, &spec, &rootfs, parent.name(), "c", &mut |pid| {
            seen = Some((pid, hierarchy.open(parent.name(), "c")?.pids()?));
            Ok(())
        })
        .unwrap();
    assert_eq!(running.wait().unwrap().code, 0);
    let (pid, pids) = seen.expect("the hook ran");
    assert_eq!(pids, vec![pid]);
    assert!(!mount.path().join(parent.name()).join("c").exists());
}
