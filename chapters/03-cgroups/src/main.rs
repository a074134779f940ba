//! `ch03-cgroups`: run a container with limits, and pause, resume and measure it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use ch01_chroot::cli;
use ch02_namespaces::spec;
use ch03_cgroups::{Hierarchy, Limits, PARENT, Stats, format_bytes};
use clap::{Args, Parser, Subcommand};

/// Run a command in a container with memory, CPU and process limits, and pause,
/// resume or measure it by name (dockyard, chapter 03).
#[derive(Debug, Parser)]
#[command(name = "ch03-cgroups", version)]
struct Cli {
    /// Print each kernel-level step as it happens, with its shell equivalent.
    #[arg(long, global = true)]
    explain: bool,
    /// The cgroup that holds the containers' cgroups, as docker's `--cgroup-parent`
    /// (one directory name).
    #[arg(long, global = true, env = "DOCKYARD_CGROUP_PARENT", default_value = PARENT, value_name = "NAME")]
    cgroup_parent: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command in a new container, limited by its own cgroup.
    Run(Box<RunArgs>),
    /// Show a running container's CPU, memory and process counts, as `docker stats`.
    Stats {
        /// The container's name (its cgroup under the cgroup parent).
        name: String,
    },
    /// Freeze every process of a running container, as `docker pause`.
    Freeze {
        /// The container's name (its cgroup under the cgroup parent).
        name: String,
    },
    /// Let a frozen container run again, as `docker unpause`.
    Thaw {
        /// The container's name (its cgroup under the cgroup parent).
        name: String,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Directory to use as the root filesystem (read, never written by dockyard).
    #[arg(long, required_unless_present = "bundle")]
    rootfs: Option<PathBuf>,
    /// Run DIR/config.json (an OCI runtime spec, limits in linux.resources) on DIR/rootfs.
    #[arg(long, value_name = "DIR", conflicts_with_all = [
        "rootfs", "hostname", "env", "env_file", "workdir", "user", "tty", "userns", "cap_add",
        "cap_drop", "privileged", "security_opt", "read_only", "memory", "memory_swap", "cpus",
        "cpu_shares", "cpuset_cpus", "pids_limit",
    ])]
    bundle: Option<PathBuf>,
    /// The container's name: its cgroup is PARENT/NAME (default: a random 12-digit hex id,
    /// also the host name unless --hostname is given).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    flags: spec::RunFlags,
    #[command(flatten)]
    limits: Limits,
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
    let parent = cli.cgroup_parent.as_str();
    let result = match cli.command {
        Command::Run(args) => run(*args, parent),
        Command::Stats { name } => stats(parent, &name).map(|()| 0),
        Command::Freeze { name } => set_frozen(parent, &name, true).map(|()| 0),
        Command::Thaw { name } => set_frozen(parent, &name, false).map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            eprintln!("ch03-cgroups: {err:#}");
            let code = ch03_cgroups::exit_code_of(err.as_ref());
            ExitCode::from(code as u8)
        }
    }
}

/// Builds the spec (chapter 02's, plus `linux.resources` from the limit flags),
/// makes the cgroup, and runs the container with its first process moved into the
/// cgroup before it execs. The cgroup is removed afterwards, also on failure.
fn run(args: RunArgs, parent: &str) -> anyhow::Result<i32> {
    let name = args.name.clone().unwrap_or_else(spec::short_id);
    let (spec, rootfs) = match &args.bundle {
        Some(bundle) => spec::load_bundle(bundle)?,
        None => {
            let rootfs = args.rootfs.clone().context("--rootfs is required")?;
            let flags = spec::RunFlags {
                args: args.command.clone(),
                hostname: Some(args.flags.hostname.clone().unwrap_or_else(|| name.clone())),
                ..args.flags.clone()
            };
            let mut spec = spec::build(&flags, &rootfs)?;
            ch03_cgroups::set_resources(&mut spec, &args.limits, parent, &name)?;
            (spec, rootfs)
        }
    };
    if args.print_spec {
        print!("{}", spec::to_json(&spec));
        return Ok(0);
    }
    ch02_namespaces::stdin_unless_interactive(args.flags.interactive)?;
    let exit = ch03_cgroups::run(&spec, &rootfs, parent, &name)?;
    if let Some(err) = &exit.cleanup_error {
        eprintln!("ch03-cgroups: warning: the container's cgroup is left: {err}");
    }
    match exit.oom_killed {
        Some(true) => eprintln!("ch03-cgroups: {}", exit.oom_message().unwrap_or_default()),
        Some(false) => {}
        None => eprintln!(
            "ch03-cgroups: warning: cannot tell whether the OOM killer struck: the cgroup is gone"
        ),
    }
    Ok(exit.code)
}

/// How long `stats` watches the CPU time, to turn it into a percentage.
const CPU_SAMPLE: Duration = Duration::from_secs(1);

/// Prints one line of `docker stats --no-stream`: CPU use over the last second (from
/// the cgroup's own CPU accounting), total CPU time, memory, and processes.
fn stats(parent: &str, name: &str) -> anyhow::Result<()> {
    let cgroup = Hierarchy::system()?.open(parent, name)?;
    let before = cgroup.stats()?;
    let start = Instant::now();
    std::thread::sleep(CPU_SAMPLE);
    let after = cgroup.stats()?;
    let elapsed = start.elapsed();
    let cpu_percent = match (before.cpu_usage_ns, after.cpu_usage_ns) {
        (Some(b), Some(a)) => format!(
            "{:.2}%",
            a.saturating_sub(b) as f64 / elapsed.as_nanos() as f64 * 100.0
        ),
        _ => "--".to_string(),
    };
    println!(
        "{:<14} {:>8} {:>10} {:>22} {:>8} {:>5}",
        "NAME", "CPU %", "CPU TIME", "MEM USAGE / LIMIT", "MEM %", "PIDS"
    );
    let Stats {
        memory_usage,
        memory_limit,
        cpu_usage_ns,
        pids_current,
        ..
    } = after;
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "--".to_string());
    let usage = or_dash(memory_usage.map(format_bytes));
    let limit = memory_limit.map_or("unlimited".to_string(), format_bytes);
    let mem_percent = match (memory_usage, memory_limit) {
        (Some(u), Some(l)) if l > 0 => format!("{:.2}%", u as f64 / l as f64 * 100.0),
        _ => "--".to_string(),
    };
    println!(
        "{:<14} {:>8} {:>10} {:>22} {:>8} {:>5}",
        name,
        cpu_percent,
        or_dash(cpu_usage_ns.map(|ns| format!("{:.3}s", ns as f64 / 1e9))),
        format!("{usage} / {limit}"),
        mem_percent,
        or_dash(pids_current.map(|p| p.to_string())),
    );
    Ok(())
}

/// Freezes or thaws the container `name` and prints its name, as `docker pause` does.
fn set_frozen(parent: &str, name: &str, frozen: bool) -> anyhow::Result<()> {
    let cgroup = Hierarchy::system()?.open(parent, name)?;
    if frozen {
        cgroup.freeze()?
    } else {
        cgroup.thaw()?
    }
    println!("{name}");
    Ok(())
}
