//! A container with limits: chapter 02's runtime with the first process in its
//! own cgroup before it execs. `ch03-cgroups run` and `dockyard run` both use it.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use ch01_chroot::explain;

use nix::unistd::Pid;
use oci_spec::runtime::{LinuxResources, Spec};

use crate::{Cgroup, CgroupGuard, Hierarchy, Limits, format_bytes};

/// Why a limited container could not run: its cgroup, or chapter 02's runtime.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Making, limiting or removing the cgroup failed.
    #[error(transparent)]
    Cgroup(#[from] crate::Error),
    /// Chapter 02's runtime failed (its errors carry docker's 125/126/127).
    #[error(transparent)]
    Runtime(#[from] ch02_namespaces::Error),
}

impl RunError {
    /// The exit status docker would give for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Runtime(err) => err.exit_code(),
            RunError::Cgroup(_) => ch01_chroot::exit::ENGINE_ERROR,
        }
    }
}

/// The exit status docker gives for an error that ended a run, wherever it sits
/// in the chain of causes: 126 or 127 when the command could not be run (the
/// errors of chapters 01 to 03 know which), 125 for anything else.
pub fn exit_code_of(err: &(dyn std::error::Error + 'static)) -> i32 {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(err) = err.downcast_ref::<RunError>() {
            return err.exit_code();
        }
        if let Some(err) = err.downcast_ref::<ch02_namespaces::Error>() {
            return err.exit_code();
        }
        if let Some(err) = err.downcast_ref::<ch01_chroot::Error>() {
            return err.exit_code();
        }
        next = err.source();
    }
    ch01_chroot::exit::ENGINE_ERROR
}

/// How a limited container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The command's exit status (128+N when killed by signal N).
    pub code: i32,
    /// Whether the OOM killer struck in the container's cgroup, as `docker inspect`
    /// shows `OOMKilled`; `None` when the cgroup could no longer be read.
    pub oom_killed: Option<bool>,
    /// The memory limit that was in force, if any.
    pub memory_limit: Option<u64>,
    /// Why the cgroup could not be removed after the command ended, if it could
    /// not (it is tried again when the guard drops). The command's own status
    /// still stands: a runner warns with this, it does not fail.
    pub cleanup_error: Option<String>,
}

impl Exit {
    /// "the process was OOM-killed (memory limit 32MiB)" when it was.
    pub fn oom_message(&self) -> Option<String> {
        (self.oom_killed == Some(true)).then(|| {
            let limit = self.memory_limit.map_or(String::new(), |l| {
                format!(" (memory limit {})", format_bytes(l))
            });
            format!("the process was OOM-killed{limit}")
        })
    }
}

/// Puts `limits` into the spec as `linux.resources`, and names the container's
/// cgroup `/PARENT/NAME` in `linux.cgroupsPath`, as runc reads it.
pub fn set_resources(
    spec: &mut Spec,
    limits: &Limits,
    parent: &str,
    name: &str,
) -> crate::Result<()> {
    let resources = limits.resources()?;
    let mut linux = spec.linux().clone().unwrap_or_default();
    linux.set_resources(Some(resources));
    linux.set_cgroups_path(Some(cgroups_path(parent, name)));
    spec.set_linux(Some(linux));
    Ok(())
}

/// The spec's `linux.cgroupsPath` for cgroup NAME under PARENT: `/PARENT/NAME`.
pub fn cgroups_path(parent: &str, name: &str) -> PathBuf {
    PathBuf::from(format!("/{parent}/{name}"))
}

// ANCHOR: run
/// Runs the container `spec` describes in the cgroup PARENT/NAME: the cgroup is
/// made and limited from `linux.resources` first, the container's first process
/// is in it before it does anything else (see [`Entrance`]), and the cgroup is
/// removed after, also when anything fails.
pub fn run(spec: &Spec, rootfs: &Path, parent: &str, name: &str) -> Result<Exit, RunError> {
    run_with_setup(spec, rootfs, parent, name, &mut |_| Ok(()))
}

/// Like [`run`], calling `setup` with the container's host pid before it goes
/// on to exec, so later chapters add their own step to chapter 02's set-up
/// hook (chapter 05 plugs in the container's network there). On v1 the child
/// is not in its cgroup yet then: it moves itself in once it goes on.
pub fn run_with_setup(
    spec: &Spec,
    rootfs: &Path,
    parent: &str,
    name: &str,
    setup: &mut ch02_namespaces::Setup<'_>,
) -> Result<Exit, RunError> {
    spawn_with_setup(spec, rootfs, parent, name, setup)?.wait()
}

/// [`run_with_setup`]'s first half: the cgroup made and limited, the
/// container started in it; returns once its command runs.
pub fn spawn_with_setup(
    spec: &Spec,
    rootfs: &Path,
    parent: &str,
    name: &str,
    setup: &mut ch02_namespaces::Setup<'_>,
) -> Result<Running, RunError> {
    spawn_on(&Hierarchy::system()?, spec, rootfs, parent, name, setup)
}

/// [`spawn_with_setup`] on `hierarchy` rather than the machine's own: a
/// cgroup2 mounted elsewhere, as the tests mount one on a v1 machine.
pub fn spawn_on(
    hierarchy: &Hierarchy,
    spec: &Spec,
    rootfs: &Path,
    parent: &str,
    name: &str,
    setup: &mut ch02_namespaces::Setup<'_>,
) -> Result<Running, RunError> {
    spawn_in_cgroup(hierarchy, spec, rootfs, parent, name, setup, None)
}

/// [`spawn_with_setup`], with the init kept by chapter 02's helper, which
/// `adopter` makes its supervisor (see `ch02_namespaces::Adopter`): the
/// engine's CLI starts a container this way, and does not stay. The
/// [`Running`] is not ours to wait for: the caller
/// [`leave`](Running::leave)s it.
pub fn spawn_adopted(
    spec: &Spec,
    rootfs: &Path,
    parent: &str,
    name: &str,
    adopter: &dyn ch02_namespaces::Adopter,
    setup: &mut ch02_namespaces::Setup<'_>,
) -> Result<Running, RunError> {
    let cgroup = make_cgroup(&resources_of(spec), parent, name)?;
    spawn_adopted_in(cgroup, spec, rootfs, adopter, setup)
}

/// [`spawn_adopted`] in a cgroup made ahead with [`make_cgroup`], with the
/// limits `spec` asks for.
pub fn spawn_adopted_in(
    cgroup: CgroupGuard,
    spec: &Spec,
    rootfs: &Path,
    adopter: &dyn ch02_namespaces::Adopter,
    setup: &mut ch02_namespaces::Setup<'_>,
) -> Result<Running, RunError> {
    spawn_in(cgroup, spec, rootfs, setup, Some(adopter))
}

/// Makes the cgroup PARENT/NAME in the machine's hierarchy and sets its
/// limits: the first step of every start here. It needs nothing of the
/// container but its name and limits, so an engine that knows them before
/// the rest is ready makes it ahead, on a thread of its own, while it
/// prepares the root (chapter 09), and starts the container in it with
/// [`spawn_adopted_in`].
pub fn make_cgroup(
    resources: &LinuxResources,
    parent: &str,
    name: &str,
) -> Result<CgroupGuard, RunError> {
    make_cgroup_on(&Hierarchy::system()?, resources, parent, name)
}

fn make_cgroup_on(
    hierarchy: &Hierarchy,
    resources: &LinuxResources,
    parent: &str,
    name: &str,
) -> Result<CgroupGuard, RunError> {
    let cgroup = CgroupGuard::new(hierarchy.create(parent, name)?);
    cgroup.apply(resources)?;
    Ok(cgroup)
}

/// The limits `spec` asks for (`linux.resources`), none if it has none.
fn resources_of(spec: &Spec) -> LinuxResources {
    spec.linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default()
}

/// Makes and limits the cgroup, then starts the container in it.
fn spawn_in_cgroup(
    hierarchy: &Hierarchy,
    spec: &Spec,
    rootfs: &Path,
    parent: &str,
    name: &str,
    setup: &mut ch02_namespaces::Setup<'_>,
    adopter: Option<&dyn ch02_namespaces::Adopter>,
) -> Result<Running, RunError> {
    let cgroup = make_cgroup_on(hierarchy, &resources_of(spec), parent, name)?;
    spawn_in(cgroup, spec, rootfs, setup, adopter)
}

/// Starts the container in `cgroup` (its init kept by chapter 02's helper
/// if an `adopter` is given). Chapter 02's set-up hook moves the child into
/// the cgroup only if it was not born there where it should have been (see
/// [`Entrance`]), then runs the caller's `setup`.
fn spawn_in(
    cgroup: CgroupGuard,
    spec: &Spec,
    rootfs: &Path,
    setup: &mut ch02_namespaces::Setup<'_>,
    adopter: Option<&dyn ch02_namespaces::Adopter>,
) -> Result<Running, RunError> {
    let mut spec = spec.clone();
    crate::add_cgroup_mounts(&mut spec, &cgroup);
    let entrance = Entrance::open(&cgroup)?;
    let hook = &mut |pid| {
        if !entrance.took(&cgroup, pid)? {
            cgroup.add_task(pid)?;
        }
        setup(pid)
    };
    let entry = Some(entrance.entry());
    let running = match adopter {
        Some(adopter) => ch02_namespaces::spawn_adopted(&spec, rootfs, entry, adopter, hook),
        None => ch02_namespaces::spawn_into(&spec, rootfs, entry, hook),
    }?;
    Ok(Running {
        running,
        cgroup,
        spec,
    })
}

// ANCHOR_END: run

// ANCHOR: entrance
/// How the container's init gets into its cgroup without the runner moving
/// it, which is what is slow: moving another process waits for an RCU grace
/// period (`cgroup_attach_lock` in kernel/cgroup/cgroup.c). On v2 it is born
/// there, clone3(2) with CLONE_INTO_CGROUP taking the cgroups' threadgroup
/// lock only for reading, as every fork(2) does; on v1 it moves itself,
/// which takes no such lock (see [`Cgroup::entry_files`]).
enum Entrance {
    /// v2: the cgroup's directory, open for clone3(2).
    BornIn(std::fs::File),
    /// v1: its `tasks` files, open for the init to write `0` into.
    MovesItself(Vec<OwnedFd>),
}

impl Entrance {
    fn open(cgroup: &Cgroup) -> Result<Entrance, crate::Error> {
        let open = |path: &Path, write: bool| {
            std::fs::OpenOptions::new()
                .read(!write)
                .write(write)
                .open(path)
                .map_err(|cause| crate::files::io_error("open", path, cause))
        };
        if let Some(dir) = cgroup.birthplace() {
            explain!(
                "clone3(2) with CLONE_INTO_CGROUP: the child will be born in {}, not moved there",
                dir.display()
            );
            return Ok(Entrance::BornIn(open(dir, false)?));
        }
        let tasks: Result<Vec<_>, _> = cgroup
            .entry_files()
            .iter()
            .map(|f| open(f, true).map(OwnedFd::from))
            .collect();
        Ok(Entrance::MovesItself(tasks?))
    }

    /// What chapter 02's runner passes on to the init.
    fn entry(&self) -> ch02_namespaces::CgroupEntry<'_> {
        match self {
            Entrance::BornIn(dir) => ch02_namespaces::CgroupEntry::BornIn(dir.as_fd()),
            Entrance::MovesItself(tasks) => ch02_namespaces::CgroupEntry::MovesItself(tasks),
        }
    }

    /// Whether the child `pid` is in `cgroup`, or will be before it does
    /// anything else: if not, the runner has to move it after all. A kernel
    /// older than 5.7, or a seccomp filter refusing clone3, has the child
    /// born where we are.
    fn took(&self, cgroup: &Cgroup, pid: Pid) -> Result<bool, crate::Error> {
        match self {
            Entrance::BornIn(_) => Ok(cgroup.pids()?.contains(&pid)),
            Entrance::MovesItself(_) => Ok(true),
        }
    }
}
// ANCHOR_END: entrance

/// A limited container whose command runs, in its cgroup.
#[derive(Debug)]
pub struct Running {
    running: ch02_namespaces::Running,
    cgroup: CgroupGuard,
    spec: Spec,
}

impl Running {
    /// Chapter 02's handle: the pid, the terminal.
    pub fn container(&mut self) -> &mut ch02_namespaces::Running {
        &mut self.running
    }

    /// Waits for the command, then reads the OOM verdict and removes the cgroup.
    pub fn wait(self) -> Result<Exit, RunError> {
        let Running {
            running,
            cgroup,
            spec,
        } = self;
        let code = running.wait()?;
        Ok(finish(&spec, cgroup.keep(), code))
    }

    /// Lets go of the container without waiting for it: its cgroup stays,
    /// for whoever waits instead to [`finish`] (the engine's supervisor,
    /// after it handed the wait to a program of its own).
    pub fn leave(self) -> ch02_namespaces::Running {
        self.cgroup.keep();
        self.running
    }
}

/// After the command of a container made from `spec` ended with `code`:
/// whether the OOM killer struck in `cgroup`, and the cgroup removed.
pub fn finish(spec: &Spec, cgroup: Cgroup, code: i32) -> Exit {
    let mut exit = outcome(spec, &cgroup, code);
    exit.cleanup_error = cgroup.remove().err().map(|err| err.to_string());
    exit
}

/// [`finish`] but for the removal, which the caller does later: an engine
/// whose user waits for the status, not for the clean-up, removes the cgroup
/// after answering (rmdir(2) in each v1 hierarchy is most of what `finish`
/// costs).
pub fn outcome(spec: &Spec, cgroup: &Cgroup, code: i32) -> Exit {
    // The command's status matters more than the OOM check: if the cgroup cannot be
    // read any more (someone removed it), the status is still reported.
    let oom_killed = cgroup.oom_killed().ok();
    let memory_limit = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit())
        .filter(|&l| l > 0);
    Exit {
        code,
        oom_killed,
        memory_limit: memory_limit.map(|l| l as u64),
        cleanup_error: None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn exit_codes_are_found_anywhere_in_the_chain() {
        let not_found = || ch01_chroot::Error::NotFound {
            cmd: "x".into(),
            rootfs: PathBuf::from("/r"),
        };
        let wrapped = RunError::Runtime(ch02_namespaces::Error::Exec(not_found()));
        assert_eq!(exit_code_of(&wrapped), 127);
        assert_eq!(exit_code_of(&not_found()), 127);
        assert_eq!(exit_code_of(&ch02_namespaces::Error::NoCommand), 125);
        assert_eq!(exit_code_of(&std::io::Error::other("elsewhere")), 125);
    }
}
