//! `ch02-namespaces`: run a command isolated by namespaces, as docker does.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ch01_chroot::{cli, exit};
use ch02_namespaces::{Error, spec};
use clap::{Args, Parser, Subcommand};

/// Run a command in its own namespaces, with its own root filesystem and
/// docker's default hardening (dockyard, chapter 02).
#[derive(Debug, Parser)]
#[command(name = "ch02-namespaces", version)]
struct Cli {
    /// Print each kernel-level step as it happens, with its shell equivalent.
    #[arg(long, global = true)]
    explain: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command in a new container.
    Run(RunArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Directory to use as the root filesystem (read, never written by dockyard).
    #[arg(long, required_unless_present = "bundle")]
    rootfs: Option<PathBuf>,
    /// Run DIR/config.json (an OCI runtime spec) on DIR/rootfs, as `runc run` would.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["rootfs", "hostname", "env", "env_file", "workdir", "user", "tty", "userns", "cap_add", "cap_drop", "privileged", "security_opt", "read_only", "print_spec"])]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    flags: spec::RunFlags,
    /// Print the OCI runtime spec (config.json) instead of running it.
    #[arg(long)]
    print_spec: bool,
    /// The command and its arguments.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required_unless_present = "bundle"
    )]
    command: Vec<String>,
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse();
    ch01_chroot::explain::enable(cli.explain);
    let Command::Run(args) = cli.command;
    match run(args) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            eprintln!("ch02-namespaces: {err:#}");
            let code = err
                .downcast_ref::<Error>()
                .map_or(exit::ENGINE_ERROR, Error::exit_code);
            ExitCode::from(code as u8)
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<i32> {
    let (spec, rootfs) = match &args.bundle {
        Some(bundle) => spec::load_bundle(bundle)?,
        None => {
            let rootfs = args.rootfs.clone().context("--rootfs is required")?;
            let flags = spec::RunFlags {
                args: args.command.clone(),
                ..args.flags.clone()
            };
            (spec::build(&flags, &rootfs)?, rootfs)
        }
    };
    if args.print_spec {
        print!("{}", spec::to_json(&spec));
        return Ok(0);
    }
    ch02_namespaces::stdin_unless_interactive(args.flags.interactive)?;
    Ok(ch02_namespaces::run(&spec, &rootfs)?)
}
