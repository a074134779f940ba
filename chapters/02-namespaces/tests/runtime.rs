//! The library as the next chapter uses it: `run_with` and its `setup` hook.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use ch02_namespaces::CgroupEntry;
use ch02_namespaces::spec::{self, RunFlags};

fn spec_for(args: &[&str]) -> oci_spec::runtime::Spec {
    let flags = RunFlags {
        args: args.iter().map(|a| a.to_string()).collect(),
        hostname: Some("hook".into()),
        ..Default::default()
    };
    spec::build(&flags, &testkit::fixtures::busybox_rootfs()).unwrap()
}

fn ns(pid: &str, kind: &str) -> std::path::PathBuf {
    std::fs::read_link(Path::new("/proc").join(pid).join("ns").join(kind)).unwrap()
}

/// `setup` runs once the child is in its new namespaces, and before it has
/// unshared its cgroup namespace (chapter 03 moves it into a cgroup there).
#[test]
fn setup_runs_between_clone_and_exec() {
    testkit::require_root!();
    let mut seen = None;
    let code = ch02_namespaces::run_with(
        &spec_for(&["true"]),
        &testkit::fixtures::busybox_rootfs(),
        &mut |pid| {
            let pid = pid.to_string();
            seen = Some((
                ns(&pid, "pid") != ns("self", "pid"),
                ns(&pid, "cgroup") == ns("self", "cgroup"),
            ));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(code, 0);
    assert_eq!(
        seen,
        Some((true, true)),
        "(new pid namespace, cgroup namespace not yet unshared)"
    );
}

/// A failing `setup` stops the container before it runs, with the hook's error.
#[test]
fn a_failing_setup_kills_the_child() {
    testkit::require_root!();
    let mut child = None;
    let err = ch02_namespaces::run_with(
        &spec_for(&["true"]),
        &testkit::fixtures::busybox_rootfs(),
        &mut |pid| {
            child = Some(pid);
            Err("no cgroup for you".into())
        },
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "container setup: no cgroup for you");
    assert_eq!(err.exit_code(), 125);
    let pid = child.expect("setup was called");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the child was left behind"
    );
}

/// `spec` with its `typ` namespace joined at `path` instead of made.
fn joining(
    mut spec: oci_spec::runtime::Spec,
    typ: oci_spec::runtime::LinuxNamespaceType,
    path: &str,
) -> oci_spec::runtime::Spec {
    assert!(spec::join_namespace(&mut spec, typ, Path::new(path)));
    spec
}

/// A new network namespace, kept by the file returned, and a spec for
/// `true` that joins it by the file's `/proc/self/fd/N`, also returned.
fn joining_a_new_netns() -> (oci_spec::runtime::Spec, std::fs::File, String) {
    // unshare(2) moves only the calling thread: one of its own makes it.
    let netns = std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        std::fs::File::open("/proc/thread-self/ns/net").unwrap()
    })
    .join()
    .unwrap();
    let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&netns));
    let network = oci_spec::runtime::LinuxNamespaceType::Network;
    (joining(spec_for(&["true"]), network, &path), netns, path)
}

/// An adopter that waits for its init and exits with its status.
struct Waiter;

impl ch02_namespaces::Adopter for Waiter {
    fn prepare(&self) {}
    fn adopt(&self, init: nix::unistd::Pid) -> ! {
        let code = match nix::sys::wait::waitpid(init, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => code,
            _ => 100,
        };
        // SAFETY: _exit(2) in the forked helper runs none of the test's destructors.
        unsafe { libc::_exit(code) }
    }
}

/// The parent of process `pid`: proc(5)'s stat, where the field after the
/// command's `)` is the state, then the ppid.
fn parent_of(pid: &str) -> std::io::Result<Option<i32>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    Ok(stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|ppid| ppid.parse().ok()))
}

/// A network namespace given by path is joined, not made: the init is born
/// in it, and in new namespaces of the other kinds.
#[test]
fn a_network_namespace_given_by_path_is_joined() {
    testkit::require_root!();
    let (spec, _netns, path) = joining_a_new_netns();
    let mut seen = None;
    let code = ch02_namespaces::run_with(&spec, &testkit::fixtures::busybox_rootfs(), &mut |pid| {
        let pid = pid.to_string();
        seen = Some((ns(&pid, "net"), ns(&pid, "uts") != ns("self", "uts")));
        Ok(())
    })
    .unwrap();
    assert_eq!(code, 0);
    assert_eq!(seen, Some((std::fs::read_link(&path).unwrap(), true)));
}

/// An adopting helper joins the namespace only for the init's birth: it
/// lives on as the supervisor, in the runner's namespace, where the host's
/// work is done (chapter 09 tears a network down from there).
#[test]
fn an_adopting_helper_goes_back_to_its_own_network_namespace() {
    testkit::require_root!();
    let (spec, _netns, path) = joining_a_new_netns();
    let mut seen = None;
    let running = ch02_namespaces::spawn_adopted(
        &spec,
        &testkit::fixtures::busybox_rootfs(),
        None,
        &Waiter,
        &mut |pid| {
            let pid = pid.to_string();
            let helper = parent_of(&pid)?.expect("the init has a parent");
            seen = Some((ns(&pid, "net"), ns(&helper.to_string(), "net")));
            Ok(())
        },
    )
    .unwrap();
    drop(running);
    let (init, helper) = seen.expect("the hook ran");
    assert_eq!(init, std::fs::read_link(&path).unwrap());
    assert_eq!(helper, ns("self", "net"));
}

/// A path that names no namespace of its kind is refused, naming the path:
/// by the runner when it cannot be opened, by setns(2) in the helper when it
/// is some other file; and a mount namespace is never joined.
#[test]
fn a_wrong_namespace_path_is_refused_with_the_path() {
    testkit::require_root!();
    let network = oci_spec::runtime::LinuxNamespaceType::Network;
    let refused = |typ, path: &str| {
        ch02_namespaces::run_with(
            &joining(spec_for(&["true"]), typ, path),
            &testkit::fixtures::busybox_rootfs(),
            &mut |_| Ok(()),
        )
        .unwrap_err()
    };
    let missing = refused(network, "/nonexistent/net");
    assert_eq!(
        missing.to_string(),
        "open the network namespace /nonexistent/net: No such file or directory (os error 2)"
    );
    let not_netns = refused(network, "/proc/self/ns/uts");
    assert_eq!(
        not_netns.to_string(),
        "container init: setns(2) /proc/self/ns/uts: EINVAL: Invalid argument"
    );
    assert_eq!(not_netns.exit_code(), 125);
    let mount = refused(
        oci_spec::runtime::LinuxNamespaceType::Mount,
        "/proc/self/ns/mnt",
    );
    assert_eq!(
        mount.to_string(),
        "building the OCI spec: joining an existing mnt namespace (/proc/self/ns/mnt) is not supported"
    );
}

/// A cgroup `dockyard-test-NAME-PID` on a cgroup2 mounted for the test: the
/// mount, the parent (whose drop removes the cgroup, wherever the system
/// mounts cgroup2) and the cgroup's directory under the mount.
fn cgroup2_dir(name: &str) -> (testkit::Cgroup2Mount, testkit::CgroupParent, PathBuf) {
    let mount = testkit::Cgroup2Mount::mount();
    let parent = testkit::CgroupParent::new(name);
    let cgroup = mount.path().join(parent.name());
    std::fs::create_dir(&cgroup).unwrap();
    (mount, parent, cgroup)
}

/// `spawn_into` has the init born in the given cgroup2 directory: it is there
/// when the set-up hook first sees it, and nobody moved it (chapter 03's
/// cgroups on a v2 machine).
#[test]
fn spawn_into_has_the_init_born_in_its_cgroup() {
    testkit::require_root!();
    let (_mount, parent, cgroup) = cgroup2_dir("born");
    let dir = std::fs::File::open(&cgroup).unwrap();
    let mut seen = None;
    let running = ch02_namespaces::spawn_into(
        &spec_for(&["true"]),
        &testkit::fixtures::busybox_rootfs(),
        Some(CgroupEntry::BornIn(dir.as_fd())),
        &mut |pid| {
            let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
            let procs = std::fs::read_to_string(cgroup.join("cgroup.procs"))?;
            seen = Some((cgroups, procs, pid.to_string()));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(running.wait().unwrap(), 0);
    let (cgroups, procs, pid) = seen.expect("the hook ran");
    let v2 = cgroups
        .lines()
        .find(|l| l.starts_with("0::"))
        .unwrap_or_default();
    assert_eq!(
        v2,
        format!("0::/{}", parent.name()),
        "in /proc/{pid}/cgroup:\n{cgroups}"
    );
    assert_eq!(procs.trim(), pid, "the cgroup's only process is the init");
}

/// With `CgroupEntry::MovesItself`, the init moves itself into its cgroup
/// v1 hierarchies through the `tasks` files the runner opened, after the
/// go-ahead: not there when the set-up hook sees it, there when its command
/// runs (chapter 03's cgroups on a v1 machine, here in a hierarchy of the
/// test's own).
#[test]
fn spawn_into_has_the_init_move_itself_into_its_v1_cgroup() {
    use nix::sys::signal::{Signal, kill};

    testkit::require_root!();
    let hierarchy = testkit::Cgroup1Mount::mount("moves-itself");
    let cgroup = hierarchy.path().join("container");
    std::fs::create_dir(&cgroup).unwrap();
    let tasks = std::fs::OpenOptions::new()
        .write(true)
        .open(cgroup.join("tasks"))
        .unwrap();
    let tasks = [std::os::fd::OwnedFd::from(tasks)];
    let procs = || std::fs::read_to_string(cgroup.join("cgroup.procs")).unwrap();
    let mut at_hook = None;
    let running = ch02_namespaces::spawn_into(
        &spec_for(&["sleep", "60"]),
        &testkit::fixtures::busybox_rootfs(),
        Some(CgroupEntry::MovesItself(&tasks)),
        &mut |_| {
            at_hook = Some(procs());
            Ok(())
        },
    )
    .unwrap();
    let pid = running.pid();
    let running_in = procs();
    let _ = kill(pid, Signal::SIGKILL);
    assert_eq!(running.wait().unwrap(), 128 + libc::SIGKILL);
    assert_eq!(at_hook.as_deref(), Some(""), "moved before the go-ahead");
    assert_eq!(
        running_in.trim(),
        pid.to_string(),
        "the init is not in its cgroup"
    );
}

/// Where a seccomp filter refuses clone3(2) with EPERM, `spawn_into` falls
/// back to clone(2): the container runs, born where the runner is (and
/// chapter 03 moves it). The filter is installed on a thread of the test's
/// own, which it leaves with.
#[test]
fn spawn_into_falls_back_to_clone_where_clone3_is_refused() {
    use seccompiler::{BpfProgram, SeccompAction, SeccompFilter};

    testkit::require_root!();
    let (_mount, _parent, cgroup) = cgroup2_dir("born-refused");
    let seen = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let refuse_clone3 = SeccompFilter::new(
                    [(libc::SYS_clone3, vec![])].into_iter().collect(),
                    SeccompAction::Allow,
                    SeccompAction::Errno(libc::EPERM as u32),
                    std::env::consts::ARCH.try_into().unwrap(),
                )
                .unwrap();
                let refuse_clone3: BpfProgram = refuse_clone3.try_into().unwrap();
                seccompiler::apply_filter(&refuse_clone3).unwrap();
                let dir = std::fs::File::open(&cgroup).unwrap();
                let mut seen = None;
                let running = ch02_namespaces::spawn_into(
                    &spec_for(&["true"]),
                    &testkit::fixtures::busybox_rootfs(),
                    Some(CgroupEntry::BornIn(dir.as_fd())),
                    &mut |_| {
                        seen = Some(std::fs::read_to_string(cgroup.join("cgroup.procs"))?);
                        Ok(())
                    },
                )
                .unwrap();
                assert_eq!(running.wait().unwrap(), 0);
                seen
            })
            .join()
            .unwrap()
    });
    assert_eq!(
        seen.as_deref(),
        Some(""),
        "the init was not born in the cgroup"
    );
}

/// A helper that keeps the init (`spawn_adopted`): the init is the helper's
/// child, not the runner's, and the helper, which here waits for it and
/// exits with its status, sees it end.
#[test]
fn spawn_adopted_leaves_the_init_with_the_helper() {
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::Pid;

    testkit::require_root!();
    let mut parent_of_init = None;
    let running = ch02_namespaces::spawn_adopted(
        &spec_for(&["sh", "-c", "exit 7"]),
        &testkit::fixtures::busybox_rootfs(),
        None,
        &Waiter,
        &mut |pid| {
            parent_of_init = parent_of(&pid.to_string())?;
            Ok(())
        },
    )
    .unwrap();
    let helper = Pid::from_raw(parent_of_init.expect("the hook ran"));
    assert_ne!(helper, Pid::this(), "the init is not the runner's child");
    // The helper is ours, and ends with what its init ended with.
    assert_eq!(
        waitpid(helper, None).unwrap(),
        WaitStatus::Exited(helper, 7)
    );
    drop(running);
}
