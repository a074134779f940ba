//! One interface over both cgroup versions: what a container engine asks of a cgroup.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use crate::error::Result;
use crate::v1::V1Cgroup;
use crate::v2::V2Cgroup;

/// How long freezing or thawing may take before we give up. Freezing waits for
/// every task to reach a safe point; a task in an uninterruptible sleep (say, on a
/// hung NFS server) can hold it up.
pub(crate) const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

// ANCHOR: cgroup
/// A container's cgroup, in whichever version the machine uses. Each method does
/// the same thing on both, through that version's files.
///
/// Made by [`Hierarchy::create`](crate::Hierarchy::create) or found by
/// [`Hierarchy::open`](crate::Hierarchy::open). Dropping it leaves the cgroup in
/// place (so `stats` and `freeze` can act on a running container); wrap it in a
/// [`CgroupGuard`] to have it removed whatever happens.
#[derive(Debug, Clone)]
pub enum Cgroup {
    /// One directory per controller.
    V1(V1Cgroup),
    /// One directory.
    V2(V2Cgroup),
}
// ANCHOR_END: cgroup

/// What `docker stats` shows for a container, read from its cgroup.
///
/// Each is `None` when the controller that counts it is not available here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Memory in use, in bytes, counted as docker counts it: the cgroup's usage minus
    /// its inactive file cache, which the kernel can drop at any time.
    pub memory_usage: Option<u64>,
    /// The memory limit in bytes; `None` also when there is no limit.
    pub memory_limit: Option<u64>,
    /// CPU time used by every process that ever ran in the cgroup, in nanoseconds.
    pub cpu_usage_ns: Option<u64>,
    /// How many processes (and threads) are in the cgroup now.
    pub pids_current: Option<u64>,
    /// Bytes read from and written to block devices, every device summed:
    /// docker's `BLOCK I/O`. `None` without the io (v2) or blkio (v1) controller.
    pub block_io: Option<BlockIo>,
}

/// Bytes a cgroup's processes read from and wrote to block devices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockIo {
    /// Bytes read.
    pub read: u64,
    /// Bytes written.
    pub write: u64,
}

// ANCHOR: docker_memory_usage
/// docker's memory usage: the usage minus the inactive file cache (docker's CLI
/// `calculateMemUsageUnixNoCache`), or the usage when there is no such figure.
pub(crate) fn docker_memory_usage(usage: u64, inactive_file: Option<u64>) -> u64 {
    match inactive_file {
        Some(inactive) if inactive < usage => usage - inactive,
        _ => usage,
    }
}
// ANCHOR_END: docker_memory_usage

impl Cgroup {
    /// Moves a process (all its threads) into the cgroup; its future children are
    /// born there. The runner calls it after the child exists, before it execs.
    pub fn add_task(&self, pid: Pid) -> Result<()> {
        match self {
            Cgroup::V1(c) => c.add_task(pid),
            Cgroup::V2(c) => c.add_task(pid),
        }
    }

    // ANCHOR: entry_files
    /// The files a process writes `0` ("the writer") into to move itself in:
    /// v1's `tasks`, one per hierarchy, which move just the writing thread;
    /// v2's `cgroup.procs`, which moves its whole process. A thread moving
    /// only itself is the one move that need not wait for an RCU grace
    /// period (`cgroup_procs_write_start` in kernel/cgroup/cgroup.c), so on
    /// v1 a single-threaded process enters at no cost; on v2 a new process is
    /// better born in the cgroup ([`Cgroup::birthplace`]).
    pub fn entry_files(&self) -> Vec<PathBuf> {
        match self {
            Cgroup::V1(c) => c.unique_dirs().iter().map(|d| d.join("tasks")).collect(),
            Cgroup::V2(c) => vec![c.dir().join("cgroup.procs")],
        }
    }
    // ANCHOR_END: entry_files

    /// Moves the calling process, which must have one thread, into the
    /// cgroup through its [`entry_files`](Cgroup::entry_files): how
    /// `docker exec`'s process joins a running container's cgroup.
    pub fn enter(&self) -> Result<()> {
        for file in self.entry_files() {
            crate::files::write(
                &file,
                "0",
                format_args!("move this process into {}", file.display()),
            )?;
        }
        Ok(())
    }

    // ANCHOR: apply
    /// Sets the limits the OCI spec asks for: memory and memory+swap, CPU shares,
    /// quota and period, cpuset CPUs and memory nodes, pids. Other resources in the
    /// spec (devices, block I/O, huge pages, network) are not this chapter's and are
    /// left as they are.
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        match self {
            Cgroup::V1(c) => c.apply(resources),
            Cgroup::V2(c) => c.apply(resources),
        }
    }
    // ANCHOR_END: apply

    /// Stops every process in the cgroup where it is (`docker pause`), returning
    /// once they all are frozen.
    pub fn freeze(&self) -> Result<()> {
        match self {
            Cgroup::V1(c) => c.freeze(),
            Cgroup::V2(c) => c.freeze(),
        }
    }

    /// Lets frozen processes run again (`docker unpause`).
    pub fn thaw(&self) -> Result<()> {
        match self {
            Cgroup::V1(c) => c.thaw(),
            Cgroup::V2(c) => c.thaw(),
        }
    }

    /// The usage figures `docker stats` shows.
    pub fn stats(&self) -> Result<Stats> {
        match self {
            Cgroup::V1(c) => c.stats(),
            Cgroup::V2(c) => c.stats(),
        }
    }

    /// Whether the kernel's OOM killer killed a process in this cgroup: what
    /// `docker inspect` reports as `OOMKilled`. A process killed at its memory limit
    /// just dies of SIGKILL; only the cgroup's counters tell it was the OOM killer.
    pub fn oom_killed(&self) -> Result<bool> {
        match self {
            Cgroup::V1(c) => c.oom_killed(),
            Cgroup::V2(c) => c.oom_killed(),
        }
    }

    /// The processes in the cgroup now, in ascending order.
    pub fn pids(&self) -> Result<Vec<Pid>> {
        match self {
            Cgroup::V1(c) => c.pids(),
            Cgroup::V2(c) => c.pids(),
        }
    }

    /// Kills every process left in the cgroup and removes it. Removing a cgroup
    /// that is already gone succeeds, so cleaning up can always be retried.
    pub fn remove(&self) -> Result<()> {
        match self {
            Cgroup::V1(c) => c.remove(),
            Cgroup::V2(c) => c.remove(),
        }
    }

    /// The directory a process can be born in (clone3(2)'s CLONE_INTO_CGROUP,
    /// Linux 5.7): v2's. clone3 takes one cgroup2 directory, and a v1 cgroup
    /// is one per hierarchy, so there a process is moved in after it exists.
    pub fn birthplace(&self) -> Option<&Path> {
        match self {
            Cgroup::V1(_) => None,
            Cgroup::V2(c) => Some(c.dir()),
        }
    }

    /// The cgroup's directories: one per controller hierarchy on v1, one on v2.
    pub fn dirs(&self) -> Vec<&Path> {
        match self {
            Cgroup::V1(c) => c.unique_dirs(),
            Cgroup::V2(c) => vec![c.dir()],
        }
    }
}

/// Removes its cgroup when dropped, so a run that fails half-way (or a test that
/// panics) leaves no cgroup behind. [`CgroupGuard::remove`] does it early and
/// reports errors, which a drop can only print.
#[derive(Debug)]
pub struct CgroupGuard {
    cgroup: Option<Cgroup>,
}

impl CgroupGuard {
    /// Takes charge of removing `cgroup`.
    pub fn new(cgroup: Cgroup) -> CgroupGuard {
        CgroupGuard {
            cgroup: Some(cgroup),
        }
    }

    /// Removes the cgroup now, killing what is left in it.
    pub fn remove(mut self) -> Result<()> {
        self.cgroup.take().map_or(Ok(()), |cgroup| cgroup.remove())
    }

    /// Takes charge back: the cgroup is no longer removed on drop.
    pub fn keep(mut self) -> Cgroup {
        self.cgroup.take().expect("present until removed")
    }
}

impl std::ops::Deref for CgroupGuard {
    type Target = Cgroup;

    fn deref(&self) -> &Cgroup {
        self.cgroup.as_ref().expect("present until removed")
    }
}

// ANCHOR: guard_drop
impl Drop for CgroupGuard {
    fn drop(&mut self) {
        if let Some(cgroup) = self.cgroup.take()
            && let Err(err) = cgroup.remove()
        {
            eprintln!("warning: could not remove a cgroup: {err}");
        }
    }
}
// ANCHOR_END: guard_drop
