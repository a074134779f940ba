//! Running commands: echoed, checked, and as root through sudo when needed.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

/// The workspace root (xtask's parent directory).
///
/// Read at run time: `cargo run` sets `CARGO_MANIFEST_DIR` for the workspace it
/// was started in. The compile-time value would be wrong in a copy of the
/// workspace that shares a target directory (and so an xtask binary) with the
/// original: `lab reset` there must rewrite the copy, never the original.
pub fn workspace() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .expect("xtask has a parent")
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` if set (relative to the
/// workspace, where `cargo` runs), else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    workspace()
        .join(std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), PathBuf::from))
}

/// Whether we run as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// `cargo`, the one that runs us (cargo sets `$CARGO`).
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace());
    cmd
}

/// A command that runs as root: as it is when we are root, else through `sudo`.
/// Only the steps that need root use it, so `cargo` itself never runs under sudo
/// (it usually lives in the user's ~/.cargo/bin, which sudo's PATH lacks).
pub fn as_root(program: impl AsRef<std::ffi::OsStr>) -> Command {
    if is_root() {
        Command::new(program)
    } else {
        let mut cmd = Command::new("sudo");
        cmd.arg("--").arg(program);
        cmd
    }
}

/// Runs `cmd`, echoing it first, and fails if it does not exit 0.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("$ {}", show(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {}", show(cmd)))?;
    if !status.success() {
        bail!("`{}` failed: {status}", show(cmd));
    }
    Ok(())
}

/// Whether `program` is on PATH.
pub fn has(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A command line as a person would type it, quoted where needed.
pub fn show(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    ch01_chroot::explain::shell_words(&words)
}
