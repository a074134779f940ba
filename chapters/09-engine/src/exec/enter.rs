//! Entering a running container: what `exec` does before it runs anything.
//!
//! A container is a process's view of the system: its namespaces, its
//! cgroup, its capabilities. Another process gets the same view by joining
//! each of them: setns(2) on the namespace files in /proc/PID/ns, and a
//! write to the cgroup's `cgroup.procs`. Two rules shape the order:
//!
//! - every namespace file is opened first: after joining the mount
//!   namespace, /proc is the container's, where the host pid means nothing;
//! - the user namespace comes first (when the container has one): it owns
//!   the others, and joining it gives the capabilities to join them;
//! - joining a PID namespace changes only where the caller's *children* are
//!   born: the caller must fork after setns(2) for a process inside it.

use std::fs::File;
use std::os::fd::AsFd;

use anyhow::Context;
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

// ANCHOR: order
/// The namespaces to join, in the order they must be joined, with their
/// names under /proc/PID/ns.
const ORDER: [(LinuxNamespaceType, &str, CloneFlags); 7] = [
    (LinuxNamespaceType::User, "user", CloneFlags::CLONE_NEWUSER),
    (LinuxNamespaceType::Mount, "mnt", CloneFlags::CLONE_NEWNS),
    (LinuxNamespaceType::Uts, "uts", CloneFlags::CLONE_NEWUTS),
    (LinuxNamespaceType::Ipc, "ipc", CloneFlags::CLONE_NEWIPC),
    (LinuxNamespaceType::Network, "net", CloneFlags::CLONE_NEWNET),
    (LinuxNamespaceType::Pid, "pid", CloneFlags::CLONE_NEWPID),
    (
        LinuxNamespaceType::Cgroup,
        "cgroup",
        CloneFlags::CLONE_NEWCGROUP,
    ),
];
// ANCHOR_END: order

/// The namespaces of container process `pid`, opened (not yet joined).
#[derive(Debug)]
pub struct Namespaces {
    files: Vec<(&'static str, CloneFlags, File)>,
}

impl Namespaces {
    /// Opens /proc/PID/ns/* for each namespace the container's spec made.
    pub fn open(pid: Pid, spec: &Spec) -> anyhow::Result<Namespaces> {
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
    }

    // ANCHOR: join
    /// Joins them all, in order (`nsenter --target PID --all`). Call it in a
    /// single-threaded process (setns(2) of a user or mount namespace
    /// refuses a multithreaded caller), then fork for the PID namespace.
    pub fn join(&self) -> anyhow::Result<()> {
        for (name, flag, file) in &self.files {
            ch01_chroot::explain!("setns(2) into the container's {name} namespace";
                "nsenter --{name}=/proc/PID/ns/{name}");
            nix::sched::setns(file.as_fd(), *flag)
                .with_context(|| format!("setns(2) into the {name} namespace"))?;
        }
        Ok(())
    }
    // ANCHOR_END: join
}

/// Moves this process into the container's cgroup (so its limits and
/// `docker stats` count it), before it joins the cgroup namespace.
pub fn join_cgroup(cgroup: &ch03_cgroups::Cgroup) -> anyhow::Result<()> {
    cgroup
        .add_task(Pid::this())
        .context("join the container's cgroup")
}
