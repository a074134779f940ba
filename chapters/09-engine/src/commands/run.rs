//! `dockyard run`: chapter 01's chroot runner, for now.

use ch01_chroot::{Run, default_env};

use crate::cli::RunArgs;

/// Runs the command in the foreground and returns its exit status.
pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let run = Run {
        rootfs: args.rootfs,
        argv: args.command,
        env: default_env(),
    };
    Ok(ch01_chroot::run(&run)?)
}
