//! `ch01-chroot`: run a command inside a root filesystem, with chroot(2) alone.

use std::path::PathBuf;
use std::process::ExitCode;

use ch01_chroot::{Run, cli, default_env};
use clap::Parser;

/// Run a command inside a root filesystem with chroot(2) (dockyard, chapter 01).
///
/// This is not isolation yet: the command shares the host's processes, hostname,
/// network and mounts. Chapter 02 adds namespaces.
#[derive(Debug, Parser)]
#[command(name = "ch01-chroot", version)]
struct Cli {
    /// Print each kernel-level step as it happens, with its shell equivalent.
    #[arg(long)]
    explain: bool,
    /// Directory to use as the root filesystem.
    rootfs: PathBuf,
    /// Command to run inside it, and its arguments.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        default_value = "/bin/sh"
    )]
    command: Vec<String>,
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse();
    ch01_chroot::explain::enable(cli.explain);
    let run = Run {
        rootfs: cli.rootfs,
        argv: cli.command,
        env: default_env(),
    };
    match ch01_chroot::run(&run) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            eprintln!("ch01-chroot: {err}");
            ExitCode::from(err.exit_code() as u8)
        }
    }
}
