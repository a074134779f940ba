//! The command tree, shaped like docker's: management commands (`container`,
//! `image`, `system`) with the common ones also at the top (`run` =
//! `container run`, `images` = `image ls`), global `--root` and `--explain`.
//!
//! Every subcommand enum is `#[command(defer = true)]`: clap builds a
//! command's arguments only when the command line names it, not the whole
//! tree of ~80 commands on every start (which cost each `run` about 1 ms).
//! That is why the `Args` structs below carry plain comments, not doc
//! comments: clap applies a deferred struct's doc comment last, as the help
//! line of every command that takes it, over the enum variant's (the help
//! line that `--help` of the parent lists).

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
    /// Made absolute at once: a container's supervisor works from `/`.
    #[arg(
        long,
        global = true,
        env = "DOCKYARD_ROOT",
        default_value = "/var/lib/dockyard",
        value_parser = |s: &str| std::path::absolute(s)
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
#[command(defer = true)]
pub enum Command {
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage dockyard.
    #[command(subcommand)]
    System(SystemCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// The container commands docker has at the top level too.
    #[command(flatten)]
    Shortcut(ContainerShortcut),
    /// List containers.
    Ps(PsArgs),
    /// Remove one or more containers.
    Rm(RmArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(ImportArgs),
    /// List images.
    Images(ImagesArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(TagArgs),
    /// Remove one or more images.
    Rmi(RmiArgs),
    /// Show the history of an image.
    History(HistoryArgs),
    /// Return low-level information on dockyard objects.
    Inspect(InspectAnyArgs),
}

/// `dockyard container ...`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once per process; boxing would only add noise"
)]
pub enum ContainerCommand {
    #[command(flatten)]
    Shortcut(ContainerShortcut),
    /// List containers.
    #[command(visible_alias = "ps", visible_alias = "list")]
    Ls(PsArgs),
    /// Remove one or more containers.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all stopped containers.
    Prune(PruneArgs),
    /// Display detailed information on one or more containers.
    Inspect(ContainerInspectArgs),
}

/// The container commands that docker offers both as `docker NAME` and as
/// `docker container NAME`: one enum, flattened into [`Command`] and
/// [`ContainerCommand`], so each is declared and dispatched once.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ContainerShortcut {
    /// Create and run a new container from an image.
    Run(RunArgs),
    /// Create a new container.
    Create(CreateArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(DiffArgs),
    /// Create a new image from a container's changes.
    Commit(CommitArgs),
    /// Export a container's filesystem as a tar archive.
    Export(ExportArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(CpArgs),
    /// Rename a container.
    Rename(RenameArgs),
    /// Pause all processes within one or more containers.
    Pause(ContainersArgs),
    /// Unpause all processes within one or more containers.
    Unpause(ContainersArgs),
    /// Display the running processes of a container.
    Top(TopArgs),
    /// List port mappings or a specific mapping for the container.
    Port(PortArgs),
    /// Execute a command in a running container.
    Exec(ExecArgs),
    /// Start one or more stopped containers.
    Start(StartArgs),
    /// Stop one or more running containers.
    Stop(StopArgs),
    /// Restart one or more containers.
    Restart(StopArgs),
    /// Kill one or more running containers.
    Kill(KillArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(ContainersArgs),
    /// Fetch the logs of a container.
    Logs(LogsArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(AttachArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(StatsArgs),
}

/// `dockyard image ...`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ImageCommand {
    /// Import the contents from a tarball to create a filesystem image.
    Import(ImportArgs),
    /// List images.
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(TagArgs),
    /// Remove one or more images.
    #[command(visible_alias = "remove")]
    Rm(RmiArgs),
    /// Remove unused images.
    Prune(ImagePruneArgs),
    /// Show the history of an image.
    History(HistoryArgs),
    /// Display detailed information on one or more images.
    Inspect(InspectArgs),
}

/// `dockyard volume ...`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum VolumeCommand {
    /// Create a volume.
    Create(VolumeCreateArgs),
    /// List volumes.
    #[command(visible_alias = "list")]
    Ls(VolumeLsArgs),
    /// Display detailed information on one or more volumes.
    Inspect(VolumeInspectArgs),
    /// Remove one or more volumes.
    #[command(visible_alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove unused local volumes.
    Prune(VolumePruneArgs),
}

// `dockyard volume create`
#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    /// The volume's name (a random one if not given).
    pub name: Option<String>,
}

// `dockyard volume ls`
#[derive(Debug, Args)]
pub struct VolumeLsArgs {
    /// Only display volume names.
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output using a Go template, or `table`, or `json`.
    #[arg(long)]
    pub format: Option<String>,
}

// `dockyard volume inspect`
#[derive(Debug, Args)]
pub struct VolumeInspectArgs {
    /// Format output using a Go template, or `json`.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Volumes to inspect.
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

// `dockyard volume rm`
#[derive(Debug, Args)]
pub struct VolumeRmArgs {
    /// Force the removal of one or more volumes.
    #[arg(short, long)]
    pub force: bool,
    /// Volumes to remove.
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

// `dockyard volume prune`
#[derive(Debug, Args)]
pub struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

/// `dockyard system ...`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SystemCommand {
    /// Show dockyard disk usage.
    Df(DfArgs),
    /// Remove unused data.
    Prune(SystemPruneArgs),
}

// `dockyard system prune`
#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Prune anonymous volumes.
    #[arg(long)]
    pub volumes: bool,
}

// `dockyard port`
#[derive(Debug, Args)]
pub struct PortArgs {
    /// The container.
    pub container: String,
    /// Only this port: PRIVATE_PORT[/PROTO].
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

// `dockyard create`: a container from an image (or, as podman's `--rootfs`,
// from a directory). The flags are chapter 02's (what the container is),
// chapter 03's (what it may use) and chapter 05's (its network). Their structs'
// doc comments would each claim the help line; this one, applied after them,
// restores the variant's.
#[derive(Debug, Args)]
#[command(about = "Create a new container")]
pub struct CreateArgs {
    /// Assign a name to the container.
    // As docker's flag parser, the next word is the value, `-bad` too (for
    // the name check to refuse).
    #[arg(long, allow_hyphen_values = true)]
    pub name: Option<String>,
    /// Set meta data on a container: KEY=VALUE (or KEY, with an empty value).
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Read in a line delimited file of labels.
    #[arg(long, value_name = "FILE")]
    pub label_file: Vec<PathBuf>,
    /// Run from this root filesystem directory instead of an image (as podman's
    /// `--rootfs`): every argument is then the command; its only network is `lo`.
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    #[command(flatten)]
    pub flags: RunFlags,
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub net: ch05_network::NetworkFlags,
    /// Bind mount a volume: /HOST:/CTR[:ro|rw], NAME:/CTR[:ro|rw], or /CTR.
    #[arg(short = 'v', long = "volume", value_name = "VOLUME")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount: type=bind|volume|tmpfs,source=...,target=...[,readonly].
    #[arg(long = "mount", value_name = "MOUNT")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs directory: /PATH[:OPTIONS].
    #[arg(long, value_name = "PATH")]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s): CONTAINER[:ro|rw].
    #[arg(long, value_name = "CONTAINER")]
    pub volumes_from: Vec<String>,
    /// Restart policy to apply when a container exits: no, always,
    /// on-failure[:max-retries], unless-stopped.
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Signal to stop the container.
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub stop_timeout: Option<i64>,
    /// Log driver options (json-file: max-size, max-file).
    #[arg(long, value_name = "KEY=VALUE")]
    pub log_opt: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long, value_name = "COMMAND")]
    pub entrypoint: Option<String>,
    /// The cgroup that holds the containers' cgroups.
    #[arg(long, value_name = "NAME", env = "DOCKYARD_CGROUP_PARENT", default_value = ch03_cgroups::PARENT)]
    pub cgroup_parent: String,
    /// IMAGE [COMMAND] [ARG...]
    #[arg(value_name = "IMAGE [COMMAND] [ARG...]", trailing_var_arg = true)]
    pub args: Vec<String>,
}

// `dockyard run`: create, then run in the foreground, or under a
// supervisor with `-d`. The help line again, over the flattened structs'.
#[derive(Debug, Args)]
#[command(about = "Create and run a new container from an image")]
pub struct RunArgs {
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Run container in background and print container ID.
    #[arg(short, long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container (`-it`).
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Attach to STDIN, STDOUT or STDERR (default: STDOUT and STDERR).
    #[arg(short, long, value_name = "STREAM", value_parser = |s: &str| anyhow::Ok(s.to_ascii_lowercase()))]
    pub attach: Vec<String>,
    /// Proxy received signals to the process (without -t).
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

// `dockyard ps`
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter output based on conditions provided (name=, id=, status=, ancestor=).
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a Go template, or `table`, or `json`.
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Show n last created containers (includes all states).
    #[arg(short = 'n', long, value_name = "N")]
    pub last: Option<usize>,
    /// Show the latest created container (includes all states).
    #[arg(short, long)]
    pub latest: bool,
    /// Display total file sizes.
    #[arg(short, long)]
    pub size: bool,
}

// `dockyard rm`
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container.
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short, long)]
    pub volumes: bool,
    /// Containers to remove.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

// `dockyard container prune`
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

// `dockyard image prune`
#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

// `dockyard diff`
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The container.
    pub container: String,
}

// `dockyard commit`
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Commit message.
    #[arg(short, long)]
    pub message: Option<String>,
    /// The container.
    pub container: String,
    /// REPOSITORY[:TAG] to name the new image.
    pub repository: Option<String>,
}

// `dockyard export`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The container.
    pub container: String,
}

// `dockyard cp CONTAINER:SRC_PATH DEST_PATH` or `cp SRC_PATH CONTAINER:DEST_PATH`.
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH or a local SRC_PATH.
    pub source: String,
    /// A local DEST_PATH or CONTAINER:DEST_PATH.
    pub destination: String,
}

// `dockyard import`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image.
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Set commit message for imported image.
    #[arg(short, long)]
    pub message: Option<String>,
    /// A tar file, `-` for stdin, or an http:// URL.
    pub source: String,
    /// REPOSITORY[:TAG] to name the image.
    pub repository: Option<String>,
}

// `dockyard images`
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images).
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (dangling=true|false, reference=).
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a Go template, or `table`, or `json`.
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only images of this repository.
    pub repository: Option<String>,
}

// `dockyard tag`
#[derive(Debug, Args)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG]
    pub source: String,
    /// TARGET_IMAGE[:TAG]
    pub target: String,
}

// `dockyard rmi`
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image.
    #[arg(short, long)]
    pub force: bool,
    /// Images to remove.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

// `dockyard history`
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output using a Go template, or `table`, or `json`.
    #[arg(long)]
    pub format: Option<String>,
    /// The image.
    pub image: String,
}

// `dockyard image inspect`
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a Go template, or `json`.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Images to inspect.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

// `dockyard system df`
#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show detailed information on space usage.
    #[arg(short, long)]
    pub verbose: bool,
    /// Format output using a Go template, or `table`, or `json`.
    #[arg(long, conflicts_with = "verbose")]
    pub format: Option<String>,
}

// `dockyard inspect`: containers or images.
#[derive(Debug, Args)]
pub struct InspectAnyArgs {
    /// Format output using a Go template, or `json`.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Return JSON for specified type (container or image).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Containers or images to inspect.
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

// `dockyard container inspect`
#[derive(Debug, Args)]
pub struct ContainerInspectArgs {
    /// Format output using a Go template, or `json`.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Containers to inspect.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

// `dockyard rename CONTAINER NEW_NAME`
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The container: its name, ID or a unique ID prefix.
    pub container: String,
    /// Its new name.
    pub new_name: String,
}

// Commands that take only containers: `pause`, `unpause`, `wait`.
#[derive(Debug, Args)]
pub struct ContainersArgs {
    /// The containers.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

// `dockyard top CONTAINER [ps OPTIONS]`
#[derive(Debug, Args)]
pub struct TopArgs {
    /// The container.
    pub container: String,
    /// Options for ps (default -ef).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ps OPTIONS"
    )]
    pub ps_args: Vec<String>,
}

// `dockyard exec`
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container (`-it`).
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Set environment variables.
    #[arg(short, long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    pub interactive: bool,
    /// Give extended privileges to the command (every capability).
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]").
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// The container.
    pub container: String,
    /// COMMAND [ARG...]
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

// `dockyard start`
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN.
    #[arg(short, long)]
    pub interactive: bool,
    /// The containers.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

// `dockyard stop` and `restart`
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Signal to send to the container.
    #[arg(short, long)]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container.
    #[arg(
        short = 't',
        long = "time",
        visible_alias = "timeout",
        allow_negative_numbers = true
    )]
    pub time: Option<i64>,
    /// The containers.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

// `dockyard kill`
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    /// The containers.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

// `dockyard logs`
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Show extra details provided to logs.
    #[arg(long)]
    pub details: bool,
    /// Follow log output.
    #[arg(short, long)]
    pub follow: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m").
    #[arg(long)]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs.
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m").
    #[arg(long)]
    pub until: Option<String>,
    /// The container.
    pub container: String,
}

// `dockyard attach`
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container.
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Do not attach STDIN.
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process.
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub sig_proxy: bool,
    /// The container.
    pub container: String,
}

// `dockyard stats`
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Format output using a Go template, or `table`, or `json`.
    #[arg(long)]
    pub format: Option<String>,
    /// Disable streaming stats and only pull the first result.
    #[arg(long)]
    pub no_stream: bool,
    /// The containers (default: all running).
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

// `dockyard network ...`: its arguments, kept together here.

/// `dockyard network ...`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NetworkCommand {
    /// Connect a container to a network.
    Connect(NetworkConnectArgs),
    /// Create a network.
    Create(NetworkCreateArgs),
    /// Disconnect a container from a network.
    Disconnect(NetworkDisconnectArgs),
    /// Display detailed information on one or more networks.
    Inspect(NetworkInspectArgs),
    /// List networks.
    #[command(visible_alias = "list")]
    Ls(NetworkLsArgs),
    /// Remove all unused networks.
    Prune(NetworkPruneArgs),
    /// Remove one or more networks.
    #[command(visible_alias = "remove")]
    Rm(NetworkRmArgs),
}

// `dockyard network create`
#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    /// Driver to manage the network (dockyard has `bridge`).
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment.
    #[arg(long)]
    pub subnet: Option<String>,
    /// Allocate container IPs from a sub-range.
    #[arg(long)]
    pub ip_range: Option<String>,
    /// IPv4 gateway for the subnet.
    #[arg(long)]
    pub gateway: Option<String>,
    /// Set metadata on a network: KEY=VALUE.
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options: com.docker.network.bridge.name=NAME.
    #[arg(short, long = "opt", value_name = "KEY=VALUE")]
    pub opt: Vec<String>,
    /// The network's name.
    pub name: String,
}

// `dockyard network ls`
#[derive(Debug, Args)]
pub struct NetworkLsArgs {
    /// Only display network IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate the output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Provide filter values (e.g. `driver=bridge`).
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a Go template, or `table`, or `json`.
    #[arg(long)]
    pub format: Option<String>,
}

// `dockyard network inspect`
#[derive(Debug, Args)]
pub struct NetworkInspectArgs {
    /// Format output using a Go template, or `json`.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Networks to inspect.
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

// `dockyard network rm`
#[derive(Debug, Args)]
pub struct NetworkRmArgs {
    /// Do not error if the network does not exist.
    #[arg(short, long)]
    pub force: bool,
    /// Networks to remove.
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

// `dockyard network prune`
#[derive(Debug, Args)]
pub struct NetworkPruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

// `dockyard network connect`
#[derive(Debug, Args)]
pub struct NetworkConnectArgs {
    /// IPv4 address.
    #[arg(long)]
    pub ip: Option<std::net::Ipv4Addr>,
    /// Add network-scoped alias for the container.
    #[arg(long)]
    pub alias: Vec<String>,
    /// The network.
    pub network: String,
    /// The container.
    pub container: String,
}

// `dockyard network disconnect`
#[derive(Debug, Args)]
pub struct NetworkDisconnectArgs {
    /// Force the container to disconnect from a network.
    #[arg(short, long)]
    pub force: bool,
    /// The network.
    pub network: String,
    /// The container.
    pub container: String,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Each command's help line, by its path, as the unbuilt tree has it:
    /// what the enum variants say, and what `--help` of a parent lists.
    fn help_lines(cmd: &clap::Command, path: &str, lines: &mut Vec<(String, String)>) {
        // Building adds a `help` command to each parent; it has no deferred part.
        for sub in cmd.get_subcommands().filter(|sub| sub.get_name() != "help") {
            let path = format!("{path} {}", sub.get_name());
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            lines.push((path.clone(), about));
            help_lines(sub, &path, lines);
        }
    }

    #[test]
    fn a_command_built_when_named_keeps_its_help_line() {
        let mut cmd = Cli::command();
        let mut unbuilt = Vec::new();
        help_lines(&cmd, "dockyard", &mut unbuilt);
        // Building runs each command's deferred arguments, as naming it on
        // the command line does: no flattened struct may take over its line.
        cmd.build();
        let mut built = Vec::new();
        help_lines(&cmd, "dockyard", &mut built);
        assert_eq!(built, unbuilt);
        assert!(unbuilt.len() > 70, "only {} commands", unbuilt.len());
        let missing: Vec<_> = unbuilt
            .iter()
            .filter(|(_, about)| about.is_empty())
            .collect();
        assert!(
            missing.is_empty(),
            "commands without a help line: {missing:?}"
        );
    }
}
