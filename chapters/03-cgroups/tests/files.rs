//! Which file gets which value: docker's limit flags applied by both backends to a
//! fake cgroupfs in a temp dir (plain files holding what the kernel would show), so
//! the book can show v1 and v2 side by side on any machine. No root needed.

use std::path::Path;

use ch03_cgroups::{Hierarchy, Limits, Setup};
use clap::Parser;

/// `ch03-cgroups run`'s limit flags, parsed as the binary parses them.
#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    limits: Limits,
}

const FLAGS: [&str; 12] = [
    "--memory",
    "64m",
    "--memory-swap",
    "100m",
    "--cpus",
    "0.5",
    "--cpu-shares",
    "512",
    "--cpuset-cpus",
    "0",
    "--pids-limit",
    "64",
];

/// What `cat /sys/fs/cgroup/memory/.../memory.limit_in_bytes` shows for "no limit".
const V1_UNLIMITED: &str = "9223372036854771712\n";

/// Writes each `(file, content)` under `root`, making directories as needed.
fn put(root: &Path, files: &[(&str, &str)]) {
    for (file, content) in files {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
    }
}

/// One line per file whose content is no longer what `put` wrote: the file, and
/// what the backend wrote into it.
fn changed(root: &Path, before: &[(&str, &str)]) -> String {
    let width = before.iter().map(|(f, _)| f.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (file, old) in before {
        let now = std::fs::read_to_string(root.join(file)).unwrap();
        if now != *old {
            out.push_str(&format!("  {file:<width$}  {now}\n"));
        }
    }
    out
}

#[test]
fn each_flag_is_written_to_its_file_in_v1_and_in_v2() {
    let limits = Flags::try_parse_from(std::iter::once("run").chain(FLAGS))
        .unwrap()
        .limits;
    let resources = limits.resources().unwrap();

    // cgroup v1: each controller its own hierarchy, a fresh `dockyard/web` in each,
    // holding the kernel's defaults (as on this book's machine).
    let v1 = tempfile::tempdir().unwrap();
    let v1_files = [
        ("memory/dockyard/web/cgroup.procs", ""),
        ("memory/dockyard/web/memory.limit_in_bytes", V1_UNLIMITED),
        (
            "memory/dockyard/web/memory.memsw.limit_in_bytes",
            V1_UNLIMITED,
        ),
        ("cpu/dockyard/web/cgroup.procs", ""),
        ("cpu/dockyard/web/cpu.shares", "1024\n"),
        ("cpu/dockyard/web/cpu.cfs_period_us", "100000\n"),
        ("cpu/dockyard/web/cpu.cfs_quota_us", "-1\n"),
        ("cpuacct/dockyard/web/cgroup.procs", ""),
        ("cpuset/dockyard/web/cgroup.procs", ""),
        ("cpuset/dockyard/web/cpuset.cpus", "0-1\n"),
        ("cpuset/dockyard/web/cpuset.mems", "0\n"),
        ("pids/dockyard/web/cgroup.procs", ""),
        ("pids/dockyard/web/pids.max", "max\n"),
        ("freezer/dockyard/web/cgroup.procs", ""),
        ("freezer/dockyard/web/freezer.state", "THAWED\n"),
    ];
    put(v1.path(), &v1_files);
    Hierarchy::new(Setup::Legacy, v1.path())
        .open("dockyard", "web")
        .unwrap()
        .apply(&resources)
        .unwrap();

    // cgroup v2: one tree; `create` enables the controllers for the cgroups below
    // the root and below `dockyard/`, then the kernel fills `dockyard/web`.
    let v2 = tempfile::tempdir().unwrap();
    let v2_parents = [
        ("cgroup.controllers", "cpuset cpu io memory hugetlb pids\n"),
        ("cgroup.subtree_control", ""),
        ("dockyard/cgroup.controllers", "cpuset cpu io memory pids\n"),
        ("dockyard/cgroup.subtree_control", ""),
    ];
    put(v2.path(), &v2_parents);
    let cgroup = Hierarchy::new(Setup::Unified, v2.path())
        .create("dockyard", "web")
        .unwrap();
    let v2_files = [
        ("dockyard/web/cgroup.procs", ""),
        ("dockyard/web/memory.max", "max\n"),
        ("dockyard/web/memory.swap.max", "max\n"),
        ("dockyard/web/cpu.weight", "100\n"),
        ("dockyard/web/cpu.max", "max 100000\n"),
        ("dockyard/web/cpuset.cpus", "\n"),
        ("dockyard/web/pids.max", "max\n"),
    ];
    put(v2.path(), &v2_files);
    cgroup.apply(&resources).unwrap();

    let mut all_v2 = v2_parents.to_vec();
    all_v2.extend(v2_files);
    let report = format!(
        "ch03-cgroups run {}\n\
         cgroup v1 writes, under /sys/fs/cgroup:\n{}\
         cgroup v2 writes, under /sys/fs/cgroup:\n{}",
        FLAGS.join(" "),
        changed(v1.path(), &v1_files),
        changed(v2.path(), &all_v2),
    );
    insta::assert_snapshot!("v1_and_v2", report);
}
