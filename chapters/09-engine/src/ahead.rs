//! A container's cgroup made on a thread of its own while `run` prepares
//! the rest. The cgroup needs only the container's ID and limits, which
//! `run` knows once its flags are checked: it picks the ID itself before
//! it opens the stores. Making the cgroup (a directory in each v1
//! hierarchy, seven here, and the limits written) took about half a
//! millisecond of the start, which opening the stores, the overlay mount
//! and the store's writes on the main thread now hide. Chapter 03's own
//! `run` has nothing to do meanwhile, so it makes its cgroup in line.

use std::os::unix::thread::JoinHandleExt;
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
        if let Ok(thread) = &thread {
            elsewhere(thread);
        }
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

/// Lets `thread` run on any CPU we may use but the one we are on. A new
/// thread is often queued on its creator's CPU (about half the time on the
/// book's two-CPU VM), where it waits until the main thread sleeps or its
/// time slice ends: 2 ms at the median, longer than the main thread's work
/// meanwhile. Moved (sched_setaffinity(2) of a queued thread migrates it),
/// it starts at once on the other CPU. With one CPU to use, it stays.
fn elsewhere<T>(thread: &JoinHandle<T>) {
    // SAFETY: cpu_set_t is a plain bit mask, for which all zeros is empty.
    let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: sched_getaffinity(2) of this thread (0) into a mask of `size` bytes.
    if unsafe { libc::sched_getaffinity(0, size, &mut allowed) } != 0 {
        return;
    }
    // SAFETY: sched_getcpu(3) takes nothing and returns a number or -1.
    let Ok(here) = usize::try_from(unsafe { libc::sched_getcpu() }) else {
        return;
    };
    // SAFETY: CPU_COUNT reads the whole mask; CPU_CLR writes one bit of
    // it, `here` being below its size (CPU_SETSIZE).
    unsafe {
        if libc::CPU_COUNT(&allowed) < 2 || here >= libc::CPU_SETSIZE as usize {
            return;
        }
        libc::CPU_CLR(here, &mut allowed);
    }
    // SAFETY: the handle's pthread_t is valid until it is joined, which
    // takes the handle; a thread that has ended already gets ESRCH, and a
    // failed move only leaves it where it is.
    unsafe { libc::pthread_setaffinity_np(thread.as_pthread_t(), size, &allowed) };
}

impl Drop for CgroupAhead {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take() {
            // The guard it made removes the cgroup as it drops here.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPUs `sched_getaffinity(2)` allows the calling thread.
    fn allowed_here() -> Vec<usize> {
        let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).unwrap();
        (0..nix::sched::CpuSet::count())
            .filter(|&cpu| set.is_set(cpu).unwrap())
            .collect()
    }

    #[test]
    fn a_thread_moved_elsewhere_may_run_on_every_cpu_but_one() {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            wait.recv().unwrap();
            allowed_here()
        });
        let before = allowed_here();
        elsewhere(&thread);
        go.send(()).unwrap();
        let after = thread.join().unwrap();
        if before.len() < 2 {
            assert_eq!(after, before, "with one CPU, the thread stays");
            return;
        }
        assert_eq!(after.len(), before.len() - 1, "{before:?} -> {after:?}");
        assert!(after.iter().all(|cpu| before.contains(cpu)));
    }
}
