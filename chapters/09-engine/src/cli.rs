//! The command tree, shaped like docker's: `dockyard container run` with
//! `dockyard run` as its shortcut, global `--root` and `--explain`.

use std::path::PathBuf;

use ch02_namespaces::spec::RunFlags;
use ch03_cgroups::Limits;
use clap::{ArgAction, Args, Parser, Subcommand};

/// A docker-compatible container engine, built chapter by chapter.
#[derive(Debug, Parser)]
#[command(name = "dockyard", version = concat!("version ", env!("CARGO_PKG_VERSION")))]
#[command(disable_version_flag = true)]
pub struct Cli {
    /// Where dockyard keeps its state: images, containers, volumes.
    #[arg(
        long,
        global = true,
        env = "DOCKYARD_ROOT",
        default_value = "/var/lib/dockyard"
    )]
    pub root: PathBuf,
    /// Print each kernel-level step as it happens, with its shell equivalent.
    #[arg(long, global = true)]
    pub explain: bool,
    /// Print version information and quit.
    #[arg(short = 'v', long, action = ArgAction::Version)]
    version: Option<bool>,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands. As in docker, common ones are shortcuts for a management
/// command (`run` = `container run`).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Create and run a new container (shortcut for `container run`).
    Run(RunArgs),
}

/// `dockyard container ...`
#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create and run a new container.
    Run(RunArgs),
}

/// `dockyard run`: for now from a root filesystem directory; images arrive in chapter 04.
/// The flags are chapter 02's (what the container is) and chapter 03's (what it may use).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Root filesystem directory to run the command in.
    #[arg(long, value_name = "DIR")]
    pub rootfs: PathBuf,
    #[command(flatten)]
    pub flags: RunFlags,
    #[command(flatten)]
    pub limits: Limits,
    /// The cgroup that holds the containers' cgroups.
    #[arg(long, value_name = "NAME", env = "DOCKYARD_CGROUP_PARENT", default_value = ch03_cgroups::PARENT)]
    pub cgroup_parent: String,
    /// Command to run, and its arguments.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        default_value = "/bin/sh"
    )]
    pub command: Vec<String>,
}
