//! `cargo xtask demo`: the first thing a newcomer runs.
//!
//! Installs what is missing, builds, makes the busybox rootfs, then runs a
//! command inside it twice, narrated by `--explain`: with chapter 01's chroot,
//! which is not isolation, and with `dockyard run`, which is (chapters 02 and
//! 03: namespaces, hardening, cgroups). Only the steps that need root go
//! through sudo.

use std::path::Path;

use crate::{bench, fixtures, setup, sh};

/// The cgroup parent `dockyard run` puts containers under by default.
const ENGINE_CGROUP_PARENT: &str = "dockyard";

/// What the command inside shows: whose hostname it sees, and which processes.
const SCRIPT: &str =
    "echo \"hostname: $(hostname)\"; echo processes: $(ls /proc | grep -c '^[0-9]')";

pub fn run() -> anyhow::Result<()> {
    setup::run()?;
    sh::run(sh::cargo().args([
        "build",
        "--quiet",
        "--package",
        "ch01-chroot",
        "--package",
        "dockyard",
    ]))?;
    let fixtures = fixtures::run()?;
    let bin = sh::target_dir().join("debug");
    let rootfs = relative(&fixtures.rootfs);
    let workspace = sh::workspace();

    banner("Chapter 01: chroot(2) gives a command a different / (and nothing else)");
    sh::run(
        sh::as_root(bin.join("ch01-chroot"))
            .current_dir(&workspace)
            .arg("--explain")
            .arg(rootfs)
            .args([
                "sh",
                "-c",
                &format!("mount -t proc proc /proc; {SCRIPT}; umount /proc"),
            ]),
    )?;
    println!("The host's hostname, and every process on the host: chroot is not isolation.");

    banner("The engine: `dockyard run` makes it a container (namespaces, hardening, cgroups)");
    // The engine keeps its cgroup parent once made, as dockerd keeps
    // `docker`; the demo leaves the machine as it found it.
    let had_parent = bench::cgroup_parent_dirs(ENGINE_CGROUP_PARENT)
        .iter()
        .any(|dir| dir.exists());
    let ran = sh::run(
        sh::as_root(bin.join("dockyard"))
            .current_dir(&workspace)
            .args([
                "run",
                "--explain",
                "--hostname",
                "demo",
                "--memory",
                "64m",
                "--rootfs",
            ])
            .arg(rootfs)
            .args(["sh", "-c", SCRIPT]),
    );
    if !had_parent {
        bench::remove_cgroup_parent(ENGINE_CGROUP_PARENT);
    }
    ran?;

    println!(
        "\nThe same root filesystem, now with a hostname of its own, its own process tree\n\
         (the shell is PID 1), its own network and mounts, docker's capabilities and\n\
         seccomp filter, and a 64 MiB memory limit. The book explains every step above.\n\n\
         Next:\n\
         - read the book:   cargo xtask book --open   (or start at book/src/introduction.md)\n\
         - do the labs:     cargo xtask lab list\n\
         - run everything:  cargo xtask test"
    );
    Ok(())
}

fn banner(title: &str) {
    println!("\n== {title}");
}

/// The rootfs as a reader would type it from the workspace.
fn relative(path: &Path) -> &Path {
    path.strip_prefix(sh::workspace()).unwrap_or(path)
}
