//! What `run` makes on a thread of its own while the main thread prepares
//! the rest: the container's cgroup and, if it gets one of its own, its
//! network namespace. Both need only what `run` knows once its flags are
//! checked (the container's ID, limits and network mode): it picks the ID
//! itself before it opens the stores. Making the cgroup (a directory in
//! each v1 hierarchy, seven here, and the limits written) took about half a
//! millisecond of the start, and the network namespace, made by clone(2) at
//! the init's birth, almost as long again; opening the stores, the overlay
//! mount and the store's writes on the main thread now hide both. Docker
//! also makes the network namespace before the runtime starts the container
//! in it. Chapter 03's own `run` has nothing to do meanwhile, so it makes
//! its cgroup in line, and its init's network namespace at birth.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::thread::JoinHandleExt;
use std::thread::JoinHandle;

use anyhow::Context;
use ch01_chroot::explain;
use ch03_cgroups::{CgroupGuard, Limits, RunError};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// What is being made, to be [`take`](Ahead::take)n for the start. Dropped
/// untaken (the start never came), it waits for the thread and removes the
/// cgroup; the network namespace goes with its file.
pub struct Ahead(Option<JoinHandle<Made>>);

/// What [`Ahead::take`] gives the start.
pub struct Made {
    /// The cgroup, or why it could not be made, which the start reports
    /// as its own failure.
    pub cgroup: Result<CgroupGuard, RunError>,
    /// The container's network namespace ([`new_netns`]), which the start
    /// has the init join ([`join_netns`]). `None` where the
    /// container shares one, or where it could not be made here: then the
    /// runtime makes it at the init's birth, as for a restart, and reports
    /// what fails there.
    pub netns: Option<File>,
}

impl Ahead {
    /// Starts making container `id`'s cgroup under `parent`, with `limits`,
    /// and, if `netns`, its network namespace. Where no thread can be
    /// started, the start makes both itself.
    pub fn start(limits: &Limits, parent: &str, id: &str, netns: bool) -> anyhow::Result<Ahead> {
        let resources = limits.resources()?;
        let (parent, name) = crate::engine::cgroup_place(&ch03_cgroups::cgroups_path(parent, id))
            .context("the container's cgroup has no parent")?;
        let thread = std::thread::Builder::new()
            .name("run-ahead".into())
            .spawn(move || {
                let netns = netns.then(new_netns).and_then(Result::ok);
                Made {
                    cgroup: ch03_cgroups::make_cgroup(&resources, &parent, &name),
                    netns,
                }
            });
        if let Ok(thread) = &thread {
            elsewhere(thread);
        }
        Ok(Ahead(thread.ok()))
    }

    /// Waits for the thread. Returns once the thread is gone from the
    /// kernel's count of our threads too: the start asks it whether we have
    /// one thread, and a join returns a moment before that count drops (the
    /// joiner wakes in `exit_mm`, the count drops in `exit_notify`,
    /// kernel/exit.c). `None`: no thread was started.
    pub fn take(mut self) -> anyhow::Result<Option<Made>> {
        let Some(thread) = self.0.take() else {
            return Ok(None);
        };
        let made = thread.join().map_err(|_| {
            anyhow::anyhow!(
                "the thread making the container's cgroup and network namespace panicked"
            )
        })?;
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

impl Drop for Ahead {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take() {
            // The guard it made removes the cgroup as it drops here.
            let _ = thread.join();
        }
    }
}

// ANCHOR: new_netns
/// A new network namespace with its loopback up, kept by the open file
/// returned: what docker's engine makes for a container (its "sandbox")
/// before the runtime starts the container in it, by path. unshare(2)
/// moves the calling thread only, and this one ends once its work is done;
/// the namespace lives on while a process in it or a file for it does.
fn new_netns() -> anyhow::Result<File> {
    explain!("make the container's network namespace, before its start"; "ip netns add NAME");
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .context("unshare(2) a network namespace")?;
    ch02_namespaces::namespaces::loopback_up().context("bring up lo")?;
    File::open("/proc/thread-self/ns/net").context("open /proc/thread-self/ns/net")
}

/// Has the init of `spec` (the spec of one start, never the one recorded)
/// join `netns` rather than make its network namespace: the spec names it
/// by the open file's `/proc/self/fd/N`, which the runtime opens in this
/// process, so `netns` must stay open until the start returns.
pub fn join_netns(spec: &mut Spec, netns: &File) {
    let path = format!("/proc/self/fd/{}", netns.as_raw_fd());
    ch02_namespaces::spec::join_namespace(spec, LinuxNamespaceType::Network, path.as_ref());
}
// ANCHOR_END: new_netns

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
    fn the_network_namespace_made_ahead_is_new_with_lo_up_and_a_start_joins_it() {
        testkit::require_root!();
        // On a thread of its own, as `run`'s: new_netns moves its caller.
        let netns = std::thread::spawn(new_netns).join().unwrap().unwrap();
        let inode = |file: &File| std::os::unix::fs::MetadataExt::ino(&file.metadata().unwrap());
        assert_ne!(
            inode(&netns),
            inode(&File::open("/proc/self/ns/net").unwrap())
        );
        // Its loopback carries a datagram to itself: it is up.
        let echoed = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                    socket.send_to(b"up", socket.local_addr().unwrap()).unwrap();
                    let mut buf = [0; 2];
                    socket.recv(&mut buf).unwrap();
                    buf
                })
                .join()
                .unwrap()
        });
        assert_eq!(&echoed, b"up");
        let flags = ch02_namespaces::spec::RunFlags {
            args: vec!["true".into()],
            ..Default::default()
        };
        let mut spec = ch02_namespaces::spec::build(&flags, "/nonexistent".as_ref()).unwrap();
        join_netns(&mut spec, &netns);
        let joined = spec
            .linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .as_ref()
            .unwrap();
        let net = joined
            .iter()
            .find(|ns| ns.typ() == LinuxNamespaceType::Network);
        let path = net.and_then(|ns| ns.path().clone()).unwrap();
        let named = std::fs::metadata(path).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::ino(&named), inode(&netns));
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
