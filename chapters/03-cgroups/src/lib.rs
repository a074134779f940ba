//! Chapter 03: cgroups.
//!
//! Namespaces (chapter 02) decide what a process can *see*; control groups decide
//! how much it can *use*. A cgroup is a directory in a special filesystem: write a
//! process's PID into its `cgroup.procs` and the process (and every child it forks)
//! is counted and limited by the numbers written into the other files there.
//!
//! Linux has two versions of that filesystem, and machines still run both:
//! [`detect`] tells them apart, [`Hierarchy`] makes and finds cgroups in either, and
//! [`Cgroup`] is one interface with a backend per version (`v1`, `v2`): limits from
//! an OCI spec ([`Cgroup::apply`]), freeze and thaw (`docker pause`), usage
//! ([`Cgroup::stats`], `docker stats`), OOM kills ([`Cgroup::oom_killed`]) and
//! removal. [`Limits`] reads `docker run`'s flags (`--memory 64m --cpus 0.5`) with
//! docker's meanings and turns them into the OCI spec's resources.

mod cgroup;
mod container;
mod error;
mod files;
mod hierarchy;
mod limits;
#[cfg(test)]
mod testing;
mod v1;
mod v2;
mod view;

pub use cgroup::{BlockIo, Cgroup, CgroupGuard, Stats};
pub use container::{
    Exit, RunError, Running, cgroups_path, exit_code_of, finish, make_cgroup, outcome, run,
    run_with_setup, set_resources, spawn_adopted, spawn_adopted_in, spawn_on, spawn_with_setup,
};
pub use error::{Error, Result};
pub use hierarchy::{DEFAULT_ROOT, Hierarchy, PARENT, Setup, Version, detect};
pub use limits::{
    CPU_PERIOD_US, Limits, MIN_MEMORY, cpu_quota, format_bytes, parse_bytes, parse_cpus,
    parse_cpuset, parse_swap,
};
pub use v1::V1Cgroup;
pub use v2::{V2Cgroup, shares_to_weight};
pub use view::add_cgroup_mounts;
