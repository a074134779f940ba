//! `cargo xtask demo`: the first thing a newcomer runs.
//!
//! Installs what is missing, builds, makes the busybox rootfs, then runs a
//! command inside it with chapter 01's binary and with `dockyard`, narrated by
//! `--explain`. Only the steps that need root go through sudo.

use std::path::Path;

use crate::{fixtures, setup, sh};

const SCRIPT: &str = "echo \"hello from $(cat /etc/hostname), a busybox root filesystem\"; ls /";

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
    let bin = sh::workspace().join("target").join("debug");
    let rootfs = relative(&fixtures.rootfs);

    let workspace = sh::workspace();
    banner("Chapter 01: chroot(2) gives a command a different /");
    sh::run(
        sh::as_root(bin.join("ch01-chroot"))
            .current_dir(&workspace)
            .arg("--explain")
            .arg(rootfs)
            .args(["sh", "-c", SCRIPT]),
    )?;

    banner("The engine: `dockyard run` does the same through chapter 01's library");
    sh::run(
        sh::as_root(bin.join("dockyard"))
            .current_dir(&workspace)
            .args(["run", "--explain", "--rootfs"])
            .arg(rootfs)
            .args(["/bin/cat", "/etc/hostname"]),
    )?;

    banner("But chroot is not isolation: the command sees the host's hostname");
    sh::run(
        sh::as_root(bin.join("ch01-chroot"))
            .current_dir(&workspace)
            .arg(rootfs)
            .arg("hostname"),
    )?;

    println!(
        "\nThose commands ran inside target/fixtures/busybox-rootfs, but they were not\n\
         isolated: they share the host's processes, hostname and network. The book shows\n\
         why, and how chapter 02's namespaces fix it.\n\n\
         Next:\n\
         - read the book:   cargo xtask book --open   (or open book/src/ch01-chroot.md)\n\
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
