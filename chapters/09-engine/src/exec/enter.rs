//! Entering a running container: what `exec` does before it runs anything.
//!
//! A container is a process's view of the system: its namespaces, its
//! cgroup, its capabilities. Another process gets the same view by joining
//! each of them: setns(2) on the namespace files in /proc/PID/ns, and a
//! write to the cgroup's `cgroup.procs`. Three rules shape the order:
//!
//! - every namespace file is opened first: after joining the mount
//!   namespace, /proc is the container's, where the host pid means nothing;
//! - the user namespace comes first (when the container has one): it owns
//!   the others, and joining it gives the capabilities to join them; the
//!   mount namespace comes last, as in nsenter(1) and runc: setns(2) into it
//!   also moves the caller's root and working directory into the container;
//! - joining a PID namespace changes only where the caller's *children* are
//!   born: the caller must fork after setns(2) for a process inside it.

use std::fs::File;
use std::os::fd::AsFd;

use anyhow::Context;
use nix::sched::CloneFlags;
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

// ANCHOR: order
/// The namespaces to join, in the order they must be joined (nsenter(1)'s),
/// with their names under /proc/PID/ns and their setns(2) flags.
pub const ORDER: [(LinuxNamespaceType, &str, CloneFlags); 7] = [
    (LinuxNamespaceType::User, "user", CloneFlags::CLONE_NEWUSER),
    (
        LinuxNamespaceType::Cgroup,
        "cgroup",
        CloneFlags::CLONE_NEWCGROUP,
    ),
    (LinuxNamespaceType::Ipc, "ipc", CloneFlags::CLONE_NEWIPC),
    (LinuxNamespaceType::Uts, "uts", CloneFlags::CLONE_NEWUTS),
    (LinuxNamespaceType::Network, "net", CloneFlags::CLONE_NEWNET),
    (LinuxNamespaceType::Pid, "pid", CloneFlags::CLONE_NEWPID),
    (LinuxNamespaceType::Mount, "mnt", CloneFlags::CLONE_NEWNS),
];
// ANCHOR_END: order

/// The namespaces of container process `pid`, opened (not yet joined), in
/// the order of [`ORDER`].
#[derive(Debug)]
pub struct Namespaces {
    files: Vec<(&'static str, CloneFlags, File)>,
}

impl Namespaces {
    // ANCHOR: open
    /// Opens /proc/PID/ns/* for each namespace the container's spec made.
    pub fn open(pid: Pid, spec: &Spec) -> anyhow::Result<Namespaces> {
        // LAB: for each (type, name, flag) of ORDER (in that order, not the spec's) whose type the spec's linux.namespaces has, open /proc/{pid}/ns/{name} now, all of them before any is joined (context on failure: "open {path}"), and keep (name, flag, file) in `files`
        let wanted: Vec<LinuxNamespaceType> = spec
            .linux()
            .iter()
            .flat_map(|l| l.namespaces().iter().flatten())
            .map(|ns| ns.typ())
            .collect();
        let mut files = Vec::new();
        for (typ, name, flag) in ORDER {
            if wanted.contains(&typ) {
                let path = format!("/proc/{pid}/ns/{name}");
                let file = File::open(&path).with_context(|| format!("open {path}"))?;
                files.push((name, flag, file));
            }
        }
        Ok(Namespaces { files })
        // LAB: END
    }
    // ANCHOR_END: open

    // ANCHOR: join
    /// Joins them all, in order (`nsenter --target PID --all`). Call it in a
    /// single-threaded process (setns(2) of a user or mount namespace
    /// refuses a multithreaded caller), then [`fork_into_pid_namespace`].
    pub fn join(&self) -> anyhow::Result<()> {
        // LAB: setns(2) into each opened namespace, in the order open() kept them (nix::sched::setns(file.as_fd(), flag), context "setns(2) into the {name} namespace"); narrate each with ch01_chroot::explain!("setns(2) into the container's {name} namespace"; "nsenter --{name}=/proc/PID/ns/{name}")
        for (name, flag, file) in &self.files {
            ch01_chroot::explain!("setns(2) into the container's {name} namespace";
                "nsenter --{name}=/proc/PID/ns/{name}");
            nix::sched::setns(file.as_fd(), *flag)
                .with_context(|| format!("setns(2) into the {name} namespace"))?;
        }
        Ok(())
        // LAB: END
    }
    // ANCHOR_END: join
}

// ANCHOR: fork
/// After [`Namespaces::join`]: forks, and the child is the first process of
/// this exec inside the container's PID namespace. A process never changes
/// its PID, so setns(2) with CLONE_NEWPID cannot move the caller itself; it
/// only decides where the caller's next children are born (setns(2),
/// pid_namespaces(7)). The caller, still outside, is the child's parent and
/// waits for it.
pub fn fork_into_pid_namespace() -> anyhow::Result<ForkResult> {
    // LAB: fork(2) (nix::unistd::fork, unsafe: say why it is sound here in a SAFETY comment), with the context "fork(2) into the PID namespace": the child is born in the PID namespace joined above, the caller is not and never will be
    ch01_chroot::explain!("fork(2): the child is born in the container's PID namespace");
    // SAFETY: exec's child is single-threaded; the new process execs or exits.
    unsafe { nix::unistd::fork() }.context("fork(2) into the PID namespace")
    // LAB: END
}
// ANCHOR_END: fork

/// Moves this process (single-threaded: exec's forked child) into the
/// container's cgroup, so its limits and `docker stats` count it, before it
/// joins the cgroup namespace. It moves itself, which on v1 waits for no
/// RCU grace period (see `Cgroup::entry_files`).
pub fn join_cgroup(cgroup: &ch03_cgroups::Cgroup) -> anyhow::Result<()> {
    cgroup.enter().context("join the container's cgroup")
}
