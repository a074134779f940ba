//! A container with limits: chapter 02's runtime with the first process moved into
//! its own cgroup before it execs. `ch03-cgroups run` and `dockyard run` both use it.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use ch01_chroot::explain;

use nix::unistd::Pid;
use oci_spec::runtime::Spec;

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
    linux.set_cgroups_path(Some(PathBuf::from(format!("/{parent}/{name}"))));
    spec.set_linux(Some(linux));
    Ok(())
}

// ANCHOR: run
/// Runs the container `spec` describes in the cgroup PARENT/NAME: the cgroup is
/// made and limited from `linux.resources` first, the container's first process
/// joins it before it execs (chapter 02's set-up hook), and the cgroup is removed
/// after, also when anything fails.
pub fn run(spec: &Spec, rootfs: &Path, parent: &str, name: &str) -> Result<Exit, RunError> {
    run_with_setup(spec, rootfs, parent, name, &mut |_| Ok(()))
}

/// Like [`run`], calling `setup` with the container's host pid after it joined
/// its cgroup and before it execs, so later chapters add their own step to
/// chapter 02's set-up hook (chapter 05 plugs in the container's network there).
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
    let hierarchy = Hierarchy::system()?;
    spawn_in_cgroup(&hierarchy, spec, rootfs, parent, name, setup, Some(adopter))
}

/// Makes and limits the cgroup, then starts the container (its init kept by
/// chapter 02's helper if an `adopter` is given). Chapter 02's set-up hook
/// moves the child into the cgroup, unless it was [`born_in`] it, then runs
/// the caller's `setup`.
fn spawn_in_cgroup(
    hierarchy: &Hierarchy,
    spec: &Spec,
    rootfs: &Path,
    parent: &str,
    name: &str,
    setup: &mut ch02_namespaces::Setup<'_>,
    adopter: Option<&dyn ch02_namespaces::Adopter>,
) -> Result<Running, RunError> {
    let resources = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let cgroup = CgroupGuard::new(hierarchy.create(parent, name)?);
    cgroup.apply(&resources)?;
    let mut spec = spec.clone();
    crate::add_cgroup_mounts(&mut spec, &cgroup);
    let birthplace = match cgroup.birthplace() {
        Some(dir) => {
            explain!(
                "clone3(2) with CLONE_INTO_CGROUP: the child will be born in {}, not moved there",
                dir.display()
            );
            let open = std::fs::File::open(dir);
            Some(open.map_err(|cause| crate::files::io_error("open", dir, cause))?)
        }
        None => None,
    };
    let birthplace = birthplace.as_ref().map(|dir| dir.as_fd());
    let hook = &mut |pid| {
        if !born_in(&cgroup, pid)? {
            cgroup.add_task(pid)?;
        }
        setup(pid)
    };
    let running = match adopter {
        Some(adopter) => ch02_namespaces::spawn_adopted(&spec, rootfs, birthplace, adopter, hook),
        None => ch02_namespaces::spawn_into(&spec, rootfs, birthplace, hook),
    }?;
    Ok(Running {
        running,
        cgroup,
        spec,
    })
}

// ANCHOR_END: run

// ANCHOR: born_in
/// Whether the child `pid` is in `cgroup` already: born there, on v2, by
/// clone3(2) with CLONE_INTO_CGROUP (chapter 02's `spawn_into`). Then it
/// need not be moved, and a move is what is slow: it waits for an RCU grace
/// period (`cgroup_attach_lock` in kernel/cgroup/cgroup.c), while a birth takes the
/// cgroups' threadgroup lock only for reading, as every fork(2) does.
fn born_in(cgroup: &Cgroup, pid: Pid) -> Result<bool, crate::Error> {
    if cgroup.birthplace().is_none() {
        return Ok(false);
    }
    // A kernel older than 5.7, or a seccomp filter refusing clone3, has the
    // child born where we are.
    Ok(cgroup.pids()?.contains(&pid))
}
// ANCHOR_END: born_in

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
        cleanup_error: cgroup.remove().err().map(|err| err.to_string()),
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
