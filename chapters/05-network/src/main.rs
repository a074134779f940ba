//! `ch05-network`: run a container with a network (dockyard, chapters 01-05).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use ch01_chroot::cli;
use ch02_namespaces::spec;
use ch03_cgroups::{Limits, PARENT};
use ch05_network::subnet::Subnet;
use ch05_network::{BridgeDefaults, CreateOptions, NetworkFlags, NetworkMode, Networks};
use clap::{Args, Parser, Subcommand};

/// Run a command in a container with its own network: an address on a bridge,
/// NAT to the outside, published ports and user networks (dockyard, chapter 05).
#[derive(Debug, Parser)]
#[command(name = "ch05-network", version)]
struct Cli {
    /// Print each kernel-level step as it happens, with its shell equivalent.
    #[arg(long, global = true)]
    explain: bool,
    /// Where networks, addresses and published ports are recorded.
    #[arg(
        long,
        global = true,
        env = "DOCKYARD_NETWORK_STATE",
        default_value = "/var/lib/dockyard/network",
        value_name = "DIR"
    )]
    state: PathBuf,
    /// The default `bridge` network's device, when this state first uses it.
    #[arg(
        long,
        global = true,
        env = "DOCKYARD_DEFAULT_BRIDGE",
        default_value = "dy0",
        value_name = "NAME"
    )]
    default_bridge: String,
    /// The default `bridge` network's subnet, when this state first uses it.
    #[arg(
        long,
        global = true,
        env = "DOCKYARD_DEFAULT_SUBNET",
        default_value = "172.17.0.0/16",
        value_name = "CIDR"
    )]
    default_subnet: Subnet,
    /// The cgroup that holds the containers' cgroups (chapter 03).
    #[arg(long, global = true, env = "DOCKYARD_CGROUP_PARENT", default_value = PARENT, value_name = "NAME")]
    cgroup_parent: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command in a new container with a network; its network is removed after.
    Run(Box<RunArgs>),
    /// Manage networks.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Remove every container network, network, bridge and rule this state recorded.
    Cleanup,
}

#[derive(Debug, Subcommand)]
enum NetworkCommand {
    /// Create a bridge network with its own bridge and subnet; prints its id.
    Create {
        /// Subnet in CIDR form (default: the first free 172.18-31.0.0/16).
        #[arg(long)]
        subnet: Option<Subnet>,
        /// The bridge's address, the containers' gateway (default: the subnet's first).
        #[arg(long)]
        gateway: Option<Ipv4Addr>,
        /// Hand out container addresses from this part of the subnet only.
        #[arg(long)]
        ip_range: Option<Subnet>,
        /// Driver options: com.docker.network.bridge.name=NAME names the bridge.
        #[arg(short = 'o', long = "opt", value_name = "K=V")]
        opt: Vec<String>,
        /// The network's name.
        name: String,
    },
    /// Remove networks with no containers on them.
    #[command(alias = "remove")]
    Rm {
        /// The networks' names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// List networks.
    #[command(alias = "list")]
    Ls,
    /// Show networks in docker's JSON shape.
    Inspect {
        /// The networks' names.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Directory to use as the root filesystem (read, never written by dockyard).
    #[arg(long)]
    rootfs: PathBuf,
    /// The container's name (default: its id), resolved by others on user networks.
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    net: NetworkFlags,
    #[command(flatten)]
    flags: spec::RunFlags,
    #[command(flatten)]
    limits: Limits,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse();
    ch01_chroot::explain::enable(cli.explain);
    let defaults = BridgeDefaults {
        device: cli.default_bridge.clone(),
        subnet: cli.default_subnet,
    };
    let result = Networks::open(&cli.state, defaults)
        .map_err(anyhow::Error::from)
        .and_then(|networks| match cli.command {
            Command::Run(args) => run(*args, &networks, &cli.cgroup_parent),
            Command::Network(command) => network(command, &networks).map(|()| 0),
            Command::Cleanup => networks.cleanup().map(|()| 0).map_err(Into::into),
        });
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            eprintln!("ch05-network: {err:#}");
            let code = ch03_cgroups::exit_code_of(err.as_ref());
            ExitCode::from(code as u8)
        }
    }
}

/// Removes a container's network when dropped: after it ran, and also when
/// anything on the way failed or panicked.
struct Teardown<'a> {
    networks: &'a Networks,
    id: String,
}

impl Drop for Teardown<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.networks.teardown(&self.id) {
            eprintln!(
                "ch05-network: warning: tearing down the network of {}: {err}",
                self.id
            );
        }
    }
}

/// Builds the spec (chapters 02 and 03), gives the container its network
/// (prepared before, plumbed in the set-up hook), runs it, and tears the
/// network down after.
fn run(args: RunArgs, networks: &Networks, parent: &str) -> anyhow::Result<i32> {
    let id = spec::short_id();
    let name = args.name.clone().unwrap_or_else(|| id.clone());
    let hostname = args.flags.hostname.clone().unwrap_or_else(|| id.clone());
    let flags = spec::RunFlags {
        args: args.command.clone(),
        hostname: Some(hostname.clone()),
        ..args.flags.clone()
    };
    let mut spec = spec::build(&flags, &args.rootfs)?;
    ch03_cgroups::set_resources(&mut spec, &args.limits, parent, &id)?;
    let mode: NetworkMode = args.net.network.parse()?;
    mode.apply(&mut spec);
    mode.join()?;
    ch02_namespaces::stdin_unless_interactive(args.flags.interactive)?;

    let NetworkMode::Bridge(network) = mode else {
        if !args.net.publish.is_empty() || args.net.publish_all {
            eprintln!(
                "ch05-network: warning: published ports are discarded when using {} network mode",
                args.net.network
            );
        }
        return finish(ch03_cgroups::run(&spec, &args.rootfs, parent, &id)?);
    };
    let attach = args.net.attach(id.clone(), name, hostname, network)?;
    let _teardown = Teardown {
        networks,
        id: id.clone(),
    };
    let prepared = networks.prepare(&attach)?;
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.extend(prepared.mounts);
    spec.set_mounts(Some(mounts));
    let exit = ch03_cgroups::run_with_setup(&spec, &args.rootfs, parent, &id, &mut |pid| {
        networks.connect(&id, pid.as_raw() as u32)?;
        Ok(())
    })?;
    finish(exit)
}

/// The container's status, after chapter 03's warnings.
fn finish(exit: ch03_cgroups::Exit) -> anyhow::Result<i32> {
    if let Some(err) = &exit.cleanup_error {
        eprintln!("ch05-network: warning: the container's cgroup is left: {err}");
    }
    if let Some(message) = exit.oom_message() {
        eprintln!("ch05-network: {message}");
    }
    Ok(exit.code)
}

/// `network create|rm|ls|inspect`, printing what docker prints.
fn network(command: NetworkCommand, networks: &Networks) -> anyhow::Result<()> {
    match command {
        NetworkCommand::Create {
            subnet,
            gateway,
            ip_range,
            opt,
            name,
        } => {
            let mut bridge = None;
            for o in &opt {
                match o.split_once('=') {
                    Some(("com.docker.network.bridge.name", value)) => {
                        bridge = Some(value.to_string())
                    }
                    _ => bail!(
                        "unsupported driver option {o:?} (only com.docker.network.bridge.name=NAME)"
                    ),
                }
            }
            let options = CreateOptions {
                subnet,
                gateway,
                ip_range,
                bridge,
                ..CreateOptions::default()
            };
            println!("{}", networks.create(&name, &options)?.id);
        }
        NetworkCommand::Rm { names } => {
            for name in names {
                networks.remove(&name)?;
                println!("{name}");
            }
        }
        NetworkCommand::Ls => {
            println!("{:<14} {:<20} {:<8} SCOPE", "NETWORK ID", "NAME", "DRIVER");
            for n in networks.list()? {
                let id = n["Id"].as_str().unwrap_or_default();
                println!(
                    "{:<14} {:<20} {:<8} {}",
                    &id[..id.len().min(12)],
                    n["Name"].as_str().unwrap_or_default(),
                    n["Driver"].as_str().unwrap_or_default(),
                    n["Scope"].as_str().unwrap_or_default()
                );
            }
        }
        NetworkCommand::Inspect { names } => {
            let all = names
                .iter()
                .map(|name| networks.inspect(name))
                .collect::<Result<Vec<_>, _>>()?;
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
    }
    Ok(())
}
