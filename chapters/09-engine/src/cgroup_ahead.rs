//! A container's cgroup made on a thread of its own while `run` prepares
//! the rest. The cgroup needs only the container's ID and limits, known as
//! soon as the store has begun the container; making it (a directory in
//! each v1 hierarchy, seven here, and the limits written) took about half
//! a millisecond of the start, which the overlay mount and the store's
//! writes on the main thread now hide. Chapter 03's own `run` has nothing
//! to do meanwhile, so it makes its cgroup in line.

use std::thread::JoinHandle;

use anyhow::Context;
use ch03_cgroups::{CgroupGuard, Limits, RunError};

/// The cgroup being made, to be [`take`](CgroupAhead::take)n for the
/// start. Dropped untaken (the start never came), it waits for the thread
/// and removes the cgroup.
pub struct CgroupAhead(Option<JoinHandle<Result<CgroupGuard, RunError>>>);

/// What [`CgroupAhead::take`] gives the start: the cgroup, or why it
/// could not be made, which the start reports as its own failure.
pub type Made = Result<CgroupGuard, RunError>;

impl CgroupAhead {
    /// Starts making container `id`'s cgroup under `parent`, with `limits`.
    /// Where no thread can be started, the start makes the cgroup itself.
    pub fn start(limits: &Limits, parent: &str, id: &str) -> anyhow::Result<CgroupAhead> {
        let resources = limits.resources()?;
        let (parent, name) = crate::engine::cgroup_place(&ch03_cgroups::cgroups_path(parent, id))
            .context("the container's cgroup has no parent")?;
        let thread = std::thread::Builder::new()
            .name("cgroup-ahead".into())
            .spawn(move || ch03_cgroups::make_cgroup(&resources, &parent, &name));
        Ok(CgroupAhead(thread.ok()))
    }

    /// Waits for the cgroup. Returns once the thread is gone from the
    /// kernel's count of our threads too: the start asks it whether we have
    /// one thread, and a join returns a moment before that count drops (the
    /// joiner wakes in `exit_mm`, the count drops in `exit_notify`,
    /// kernel/exit.c). `None`: no thread was started.
    pub fn take(mut self) -> anyhow::Result<Option<Made>> {
        let Some(thread) = self.0.take() else {
            return Ok(None);
        };
        let made = thread
            .join()
            .map_err(|_| anyhow::anyhow!("the thread making the container's cgroup panicked"))?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
        while !crate::supervisor::single_threaded() && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        Ok(Some(made))
    }
}

impl Drop for CgroupAhead {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take() {
            // The guard it made removes the cgroup as it drops here.
            let _ = thread.join();
        }
    }
}
