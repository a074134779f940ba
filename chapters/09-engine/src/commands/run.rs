//! `dockyard run` and `create`: a container from an image's layers, isolated
//! (chapter 02), limited (chapter 03), on a copy-on-write root (chapter 04).

use std::path::{Path, PathBuf};

use anyhow::Context;

use ch02_namespaces::spec;
use ch04_overlayfs::Mounted;
use ch04_overlayfs::io::Durability;
use ch04_overlayfs::store::{Container, ContainerError, ImageError, StoreLock, names};
use dockyard_shim::restart::Policy;
use dockyard_shim::supervise::{ExitWatch, Finisher};
use oci_spec::image::Config;

use crate::ahead::Ahead;
use crate::cli::{CreateArgs, RunArgs};
use crate::commands::attach;
use crate::commands::containers::remove_anonymous_volumes;
use crate::commands::cp::copy_tree;
use crate::commands::lifecycle::exit_status;
use crate::commands::lifecycle::parse_signal;
use crate::commands::logs::follow_run;
use crate::details::{HostConfig, MountPoint, Runtime};
use crate::engine::Engine;
use crate::mounts;
use crate::signals;
use crate::supervisor;

/// Runs a container in the foreground and returns its exit status.
pub fn run(root: &Path, args: RunArgs) -> anyhow::Result<i32> {
    if let Some(rootfs) = args.create.rootfs.clone() {
        return run_rootfs(&rootfs, args.create);
    }
    if args.detach && !args.attach.is_empty() {
        anyhow::bail!("Conflicting options: -a and -d");
    }
    if let Some(stream) = args
        .attach
        .iter()
        .find(|a| !matches!(a.as_str(), "stdin" | "stdout" | "stderr"))
    {
        anyhow::bail!(
            "invalid argument \"{stream}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
        );
    }
    // A container removed at its exit cannot be restarted: docker's CLI
    // refuses the pair before anything is made.
    if args.rm
        && args
            .create
            .restart
            .parse()
            .is_ok_and(|p: Policy| p != Policy::No)
    {
        anyhow::bail!("conflicting options: cannot specify both --restart and --rm");
    }
    let (engine, container, ready, host) = create_ready(root, &args)?;
    if args.detach {
        supervisor::start(&engine, root, &container, Some(ready), None)?;
        println!("{}", container.config.id);
        return Ok(0);
    }
    let code = run_attached(&engine, root, &container, &args, &host, ready);
    // `--rm` is docker's AutoRemove: the supervisor removes the container
    // when its run is over, even if we are gone by then. If no supervisor
    // took it on, it is ours to remove (our error comes first).
    if let Err(err) = code {
        if args.rm && container.dir.exists() {
            let idle = StoreLock::try_exclusive(&Engine::run_lock(&container));
            if let Ok(Some(_idle)) = idle {
                let removed = engine
                    .containers
                    .remove(&container.config.id)
                    .map_err(anyhow::Error::from)
                    .and_then(|()| remove_anonymous_volumes(&engine, &host));
                if let Err(cleanup) = removed {
                    eprintln!(
                        "dockyard: removing container {}: {cleanup:#}",
                        container.short_id()
                    );
                }
            }
        }
        return Err(err);
    }
    Ok(code?.unwrap_or(0))
}

/// `run` in the foreground, as docker's CLI does it: the container under a
/// supervisor, our terminal attached with `-t` (the detach keys leave it
/// running: `None`), else its log followed from the start and our stdin
/// passed on with `-i`; signals we get passed on (`--sig-proxy`). Returns
/// its exit status once recorded: by us, as the supervisor's finisher
/// ([`supervisor::finish`]), unless a restart policy may start it again
/// (the supervisor's exit program decides that, and we wait for it).
fn run_attached(
    engine: &Engine,
    root: &Path,
    container: &Container,
    args: &RunArgs,
    host: &HostConfig,
    ready: supervisor::Ready,
) -> anyhow::Result<Option<i32>> {
    let since = std::time::SystemTime::now();
    // With `--rm` the container, its log with it, goes as soon as its run is
    // over: we hold the output until we have read it (and learn the status
    // from the supervisor's exit file, which this makes).
    let exit = match args.rm {
        true => {
            let dir = supervisor::supervisor_dir(container);
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
            Some(ExitWatch::hold(&dir)?)
        }
        false => None,
    };
    let (finisher, theirs) = match host.restart_policy() {
        Policy::No => {
            let (ours, theirs) = Finisher::pair()?;
            (Some(ours), Some(theirs))
        }
        _ => (None, None),
    };
    // Docker's CLI starts its signal proxy before the start too; ours is
    // ready by the time the container runs, not competing with its command
    // for the CPU as it starts.
    let (proxy, pid) =
        supervisor::start_meanwhile(engine, root, container, Some(ready), theirs, || {
            (args.sig_proxy && !args.create.flags.tty)
                .then(signals::Proxy::start)
                .transpose()
        })?;
    let id = &container.config.id;
    let run = Attached {
        pid,
        exit: exit.as_ref(),
        finisher,
        proxy,
    };
    match attached_until_exit(engine, container, args, host, since, run) {
        // Gone while we were attached: only `rm -f` removes a running container,
        // and it kills with SIGKILL first, so docker's `run` reports 137. Any step
        // above may notice first (reading its state, following its log, waiting for its end).
        Err(_) if matches!(engine.containers.get(id), Err(ContainerError::NotFound(_))) => {
            Ok(Some(128 + libc::SIGKILL))
        }
        result => result,
    }
}

/// What [`run_attached`] holds on the run's end.
struct Attached<'a> {
    /// The host pid of the container's PID 1.
    pid: nix::unistd::Pid,
    /// With `--rm`: the supervisor's exit file, holding the output.
    exit: Option<&'a ExitWatch>,
    /// Unless a restart policy is set: we record the end.
    finisher: Option<Finisher>,
    /// With `--sig-proxy` and no terminal: where the signals we get go.
    proxy: Option<signals::Proxy>,
}

/// The attached part of [`run_attached`], once the supervisor has started it.
fn attached_until_exit(
    engine: &Engine,
    container: &Container,
    args: &RunArgs,
    host: &HostConfig,
    since: std::time::SystemTime,
    run: Attached<'_>,
) -> anyhow::Result<Option<i32>> {
    let Attached {
        pid,
        exit,
        finisher,
        proxy,
    } = run;
    // `container` is as we made it: its records are not read again (the
    // start recorded nothing we do not know, and the log it made is all
    // this run's).
    if let Some(proxy) = proxy {
        proxy.forward_to(pid);
    }
    let code = if args.create.flags.tty {
        attach::session(
            engine,
            container,
            args.detach_keys.as_deref(),
            true,
            true,
            exit,
            finisher,
        )?
    } else {
        let attached =
            |stream: &str| args.attach.is_empty() || args.attach.iter().any(|a| a == stream);
        if args.create.flags.interactive || args.attach.iter().any(|a| a == "stdin") {
            attach::forward_stdin(container)?;
        }
        follow_run(
            container,
            Some(since),
            (attached("stdout"), attached("stderr")),
        )?;
        Some(exit_status(engine, container, exit, finisher)?)
    };
    // Auto-removed by now, it left its OOMKilled in the exit file.
    let oom_killed = match exit {
        Some(exit) => exit.oom_killed(),
        None => Runtime::load(container).is_ok_and(|r| r.oom_killed),
    };
    if code.is_some() && oom_killed {
        let limit = match host.memory {
            0 => String::new(),
            limit => format!(
                " (memory limit {})",
                ch03_cgroups::format_bytes(limit as u64)
            ),
        };
        eprintln!("dockyard: the process was OOM-killed{limit}");
    }
    Ok(code)
}

/// Creates a container and prints its ID, as `docker create` does.
pub fn create(root: &Path, args: CreateArgs) -> anyhow::Result<i32> {
    if args.rootfs.is_some() {
        anyhow::bail!("--rootfs runs a directory at once: use it with `run`, not `create`");
    }
    let checked = Checked::flags(&args)?;
    let engine = Engine::open(root)?;
    let id = names::new_id();
    let (container, mounted, _) = create_mounted(&engine, &args, None, checked, id)?;
    drop(mounted);
    println!("{}", container.config.id);
    Ok(0)
}

/// [`create_mounted`] for `run`, which starts the container next: its ID
/// is chosen as soon as the flags are checked, before the stores are even
/// opened, and its cgroup and network namespace made on a thread from then
/// on (see `ahead.rs`). Returns the engine too.
fn create_ready(
    root: &Path,
    args: &RunArgs,
) -> anyhow::Result<(Engine, Container, supervisor::Ready, HostConfig)> {
    let create = &args.create;
    let checked = Checked::flags(create)?;
    let id = names::new_id();
    // The root's mount needs a mount namespace of our own, which unshare(2)
    // refuses to a process with threads (EINVAL): ours before the thread.
    crate::engine::private_mounts()?;
    // With --userns, a namespace made here would belong to the host's user
    // namespace, where the container's root has no say: the runtime makes
    // it at the init's birth then, inside the container's user namespace.
    let netns = crate::network::mode(&create.net).own_namespace() && !create.flags.userns;
    let ahead = Ahead::start(&create.limits, &create.cgroup_parent, &id, netns)?;
    let engine = Engine::open(root)?;
    let (container, root, host) = create_mounted(&engine, create, Some(args), checked, id)?;
    Ok((engine, container, supervisor::Ready { root, ahead }, host))
}

/// What [`Checked::flags`] made of the arguments that can be wrong
/// without the stores' help.
struct Checked<'a> {
    /// The image, as named.
    reference: &'a str,
    /// The command given after it, if any.
    command: &'a [String],
    restart: Policy,
    /// `--init`'s program on the host.
    init: Option<PathBuf>,
    labels: std::collections::HashMap<String, String>,
    /// `-v`, `--mount` and `--tmpfs`, parsed.
    requests: Vec<mounts::Request>,
}

impl Checked<'_> {
    /// Bad flags are refused before anything is made.
    fn flags(args: &CreateArgs) -> anyhow::Result<Checked<'_>> {
        let Some((reference, command)) = args.args.split_first() else {
            anyhow::bail!("\"create\" requires at least 1 argument: IMAGE [COMMAND] [ARG...]");
        };
        let restart: Policy = args.restart.parse()?;
        let init = args.init.then(find_init).transpose()?;
        HostConfig {
            log_opts: args.log_opt.clone(),
            ..HostConfig::default()
        }
        .log_config()?;
        if let Some(signal) = &args.stop_signal {
            parse_signal(signal)?;
        }
        let labels = labels_of(args)?;
        let mut requests = Vec::new();
        for spec in &args.volumes {
            requests.push(mounts::parse_volume(spec)?);
        }
        for spec in &args.mounts {
            requests.push(mounts::parse_mount(spec)?);
        }
        for spec in &args.tmpfs {
            requests.push(mounts::parse_tmpfs(spec)?);
        }
        Ok(Checked {
            reference,
            command,
            restart,
            init,
            labels,
            requests,
        })
    }
}

/// Makes the container record (with ID `id`), mounts its root, and builds
/// its OCI spec from the image config and the flags (the root must be
/// mounted to resolve `-u`). If anything fails, the container is removed
/// again. `run` is the `run` command's flags (`None` for `create`);
/// `checked`, what [`Checked::flags`] made of the flags. Returns the
/// container, its mounted root and the host config it recorded.
fn create_mounted(
    engine: &Engine,
    args: &CreateArgs,
    run: Option<&RunArgs>,
    checked: Checked<'_>,
    id: String,
) -> anyhow::Result<(Container, Mounted, HostConfig)> {
    let Checked {
        reference,
        command,
        restart,
        init,
        mut labels,
        mut requests,
    } = checked;
    let image = engine.images.get(reference).map_err(|err| match err {
        ImageError::NotFound(name) => {
            eprintln!("Unable to find image '{name}' locally");
            anyhow::Error::from(ImageError::NotFound(name))
        }
        err => err.into(),
    })?;
    let exposed = image
        .config
        .config()
        .as_ref()
        .and_then(|c| c.exposed_ports().clone())
        .unwrap_or_default();
    let network =
        crate::network::checked(engine, &args.net, args.flags.hostname.is_some(), &exposed)?;
    // The image's labels, under the container's own (docker's merge).
    let image_labels = image
        .config
        .config()
        .as_ref()
        .and_then(|c| c.labels().clone());
    for (key, value) in image_labels.unwrap_or_default() {
        labels.entry(key).or_insert(value);
    }
    // A container `run --rm` removes after its one run need not outlive a
    // power cut: its records are not synced, nor is its root on unmount.
    let durability = match run {
        Some(run) if run.rm => Durability::Volatile,
        _ => Durability::Durable,
    };
    // Made where no one sees it, and put in place whole once its spec and
    // host config are written: a crash on the way leaves nothing in sight.
    let creating = engine.containers.begin(
        id.clone(),
        &image.id,
        reference,
        args.name.as_deref(),
        durability,
    )?;
    let container = &creating.draft().clone();
    let mounted = engine.mount_from(container, &image)?;
    let (spec, host) = (|| {
        let mut config = image.config.config().clone().unwrap_or_default();
        if let Some(entrypoint) = &args.entrypoint {
            // As docker: the new entrypoint also drops the image's CMD.
            config
                .set_entrypoint(Some(vec![entrypoint.clone()]).filter(|_| !entrypoint.is_empty()));
            config.set_cmd(None);
        }
        let mut flags = run_flags(&args.flags, &config, command, container.short_id());
        if flags.args.is_empty() {
            // Neither the image nor the flags: docker's daemon words it so.
            anyhow::bail!("No command specified");
        }
        if let Some(init) = &init {
            flags
                .args
                .splice(0..0, [INIT_PATH.to_string(), "--".to_string()]);
            requests.push(mounts::Request::Bind {
                source: init.clone(),
                target: INIT_PATH.into(),
                rw: false,
            });
        }
        let mut spec = spec::build(&flags, &container.merged_dir())?;
        spec.set_annotations(Some(labels.clone()).filter(|l| !l.is_empty()));
        if let Some(root) = spec.root_mut() {
            // What the draft's merged dir will be once in place.
            root.set_path(creating.final_merged_dir());
        }
        crate::network::mode(&network).apply(&mut spec);
        ch03_cgroups::set_resources(&mut spec, &args.limits, &args.cgroup_parent, &id)?;
        let mut host = host_config(args, &config, command);
        host.restart = restart.to_string();
        host.init = init.is_some();
        host.network = network;
        if let Some(run) = run {
            host.auto_remove = run.rm;
            // docker's StdinOnce: our end of stdin closes the container's.
            host.stdin_once = args.flags.interactive && !run.detach;
        }
        host.mounts = mount_points(engine, container, requests, args, &config)?;
        make_mount_points(container, &host.mounts)?;
        mounts::add_to_spec(&mut spec, &host.mounts)?;
        anyhow::Ok((spec, host))
    })()?;
    // On an error before this, the draft went (its root unmounted first).
    let (file, bytes) = host.file()?;
    let container = creating.finish(spec, &[(file, &bytes)])?;
    // The root was mounted in the draft's directory and moved with it.
    mounted.hand_over();
    let mounted = Mounted::adopt(&container.merged_dir())
        .context("the container's root is not mounted after its move into place")?;
    Ok((container, mounted, host))
}

/// The container's mounts: what the flags ask for, then `--volumes-from`,
/// then an anonymous volume for each of the image's `VOLUME`s that nothing
/// else mounts. A missing host directory is made (as docker does); a new
/// volume is filled with what the image has at its path.
fn mount_points(
    engine: &Engine,
    container: &Container,
    mut requests: Vec<mounts::Request>,
    args: &CreateArgs,
    config: &Config,
) -> anyhow::Result<Vec<MountPoint>> {
    let mut points = Vec::new();
    for from in &args.volumes_from {
        let (reference, mode) = match from.rsplit_once(':') {
            Some((r, mode @ ("ro" | "rw"))) => (r, Some(mode)),
            Some((_, mode)) => anyhow::bail!("invalid mode: {mode}"),
            None => (from.as_str(), None),
        };
        let source = engine.container(reference)?;
        for mut m in HostConfig::load(&source)?.mounts {
            if m.kind == "tmpfs" {
                continue;
            }
            m.rw = mode.map_or(m.rw, |mode| mode == "rw");
            m.anonymous = false;
            points.push(m);
        }
    }
    for target in config.volumes().iter().flatten() {
        let taken = requests.iter().any(|r| r.target() == target)
            || points.iter().any(|p: &MountPoint| &p.destination == target);
        if !taken {
            requests.push(mounts::Request::Volume {
                name: None,
                target: target.clone(),
                rw: true,
            });
        }
    }
    for request in requests {
        points.retain(|p| p.destination != request.target());
        points.push(match request {
            mounts::Request::Bind { source, target, rw } => {
                if !source.exists() {
                    std::fs::create_dir_all(&source).with_context(|| {
                        format!(
                            "create mountpoint for {target} mount: mkdir {}",
                            source.display()
                        )
                    })?;
                }
                MountPoint::bind(source, target, rw)
            }
            mounts::Request::Volume { name, target, rw } => {
                let (volume, new) = engine.volumes()?.get_or_create(name.as_deref())?;
                if new {
                    let in_image = ch04_overlayfs::scoped::resolve_in_root(
                        &container.merged_dir(),
                        Path::new(&target),
                        true,
                    )?;
                    if in_image.is_dir() {
                        copy_tree(&in_image, &volume.data(), true, false).with_context(|| {
                            format!("copy the image's {target} into volume {}", volume.name)
                        })?;
                    }
                }
                MountPoint {
                    kind: "volume".into(),
                    name: Some(volume.name.clone()),
                    source: volume.data(),
                    destination: target,
                    rw,
                    options: Vec::new(),
                    anonymous: volume.anonymous,
                }
            }
            mounts::Request::Tmpfs { target, options } => MountPoint {
                kind: "tmpfs".into(),
                name: None,
                source: PathBuf::new(),
                destination: target,
                rw: true,
                options,
                anonymous: false,
            },
        });
    }
    Ok(points)
}

/// Makes the directory (or, for a file bind, the empty file) each mount
/// lands on in the container's root, as docker's daemon does: chapter 02's
/// runtime never writes into a rootfs, and this one is the container's own
/// (its writable layer keeps them).
fn make_mount_points(container: &Container, points: &[MountPoint]) -> anyhow::Result<()> {
    let root = container.merged_dir();
    for point in points {
        let path =
            ch04_overlayfs::scoped::resolve_in_root(&root, Path::new(&point.destination), true)?;
        if path.exists() {
            continue;
        }
        let context = || format!("create mountpoint {}", point.destination);
        if point.kind == "bind" && point.source.is_file() {
            std::fs::create_dir_all(ch04_overlayfs::io::parent_dir(&path)).with_context(context)?;
            std::fs::File::create(&path).with_context(context)?;
        } else {
            std::fs::create_dir_all(&path).with_context(context)?;
        }
    }
    Ok(())
}

/// Where `--init`'s init appears in the container, as docker mounts its
/// `docker-init`.
const INIT_PATH: &str = "/sbin/docker-init";

/// The init `--init` runs as PID 1 (it reaps orphans and passes signals on):
/// `docker-init` as docker names it, else Debian's `tini-static` (the same
/// tini). It must be static: the image may have no C library.
fn find_init() -> anyhow::Result<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    ["docker-init", "tini-static"]
        .iter()
        .find_map(|name| ch01_chroot::find_command(name, &path))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "exec: \"docker-init\": executable file not found in $PATH (install Debian's tini for tini-static)"
            )
        })
}

/// What docker keeps in `HostConfig` (and `Config.Cmd`/`Entrypoint`) for these flags.
/// The container's labels from `--label-file`s, then `-l`s (a later one wins),
/// as docker reads them: `KEY=VALUE`, or `KEY` alone for an empty value; a
/// file has one per line, `#` starting a comment line. docker keeps them in
/// the container's `Config.Labels`; dockyard in its OCI spec's
/// `annotations`, the spec's own place for metadata the runtime does not act on.
fn labels_of(args: &CreateArgs) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let mut lines = Vec::new();
    for file in &args.label_file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("open {}", file.display()))?;
        lines.extend(
            text.lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(str::to_string),
        );
    }
    lines.extend(args.labels.iter().cloned());
    Ok(lines
        .iter()
        .map(|line| crate::labels::parse(line))
        .collect())
}

fn host_config(args: &CreateArgs, config: &Config, command: &[String]) -> HostConfig {
    let flags = &args.flags;
    let cmd = match command.is_empty() {
        true => config.cmd().clone(),
        false => Some(command.to_vec()),
    };
    HostConfig {
        memory: args.limits.memory.unwrap_or(0) as i64,
        nano_cpus: args.limits.cpus.unwrap_or(0) as i64,
        pids_limit: args.limits.pids_limit.filter(|&l| l > 0),
        privileged: flags.privileged,
        readonly_rootfs: flags.read_only,
        cap_add: flags.cap_add.clone(),
        cap_drop: flags.cap_drop.clone(),
        open_stdin: flags.interactive,
        entrypoint: config.entrypoint().clone(),
        cmd,
        binds: args.volumes.clone(),
        log_opts: args.log_opt.clone(),
        // The image's STOPSIGNAL unless the flag says otherwise, as docker's Config.StopSignal.
        stop_signal: args
            .stop_signal
            .clone()
            .or_else(|| config.stop_signal().clone()),
        stop_timeout: args.stop_timeout,
        ..HostConfig::default()
    }
}

/// The flags with the image's defaults filled in, as docker merges them: the
/// command is the entrypoint + (the given command, else the image's CMD); the
/// image's ENV comes before `-e`; its WORKDIR and USER unless flags say otherwise.
fn run_flags(
    flags: &spec::RunFlags,
    config: &Config,
    command: &[String],
    short_id: &str,
) -> spec::RunFlags {
    let mut args = config.entrypoint().clone().unwrap_or_default();
    if command.is_empty() {
        args.extend(config.cmd().clone().unwrap_or_default());
    } else {
        args.extend(command.iter().cloned());
    }
    let mut env = config.env().clone().unwrap_or_default();
    env.extend(flags.env.iter().cloned());
    spec::RunFlags {
        args,
        env,
        hostname: Some(
            flags
                .hostname
                .clone()
                .unwrap_or_else(|| short_id.to_string()),
        ),
        workdir: flags
            .workdir
            .clone()
            .or_else(|| config.working_dir().clone().filter(|w| !w.is_empty())),
        user: flags
            .user
            .clone()
            .or_else(|| config.user().clone().filter(|u| !u.is_empty())),
        ..flags.clone()
    }
}

/// `run --rootfs DIR`: podman's way to run a directory that is not an image;
/// nothing is recorded in the stores.
fn run_rootfs(rootfs: &Path, args: CreateArgs) -> anyhow::Result<i32> {
    // It runs here and now, with no supervisor to tear a network down after
    // it: its network namespace has only `lo`, as with `--network none`.
    let plain = ch05_network::NetworkFlags {
        network: args.net.network.clone(),
        ..Default::default()
    };
    if !matches!(args.net.network.as_str(), "bridge" | "none") || args.net != plain {
        anyhow::bail!(
            "--rootfs runs a container with no network but its loopback (as --network none): network flags need an image"
        );
    }
    // As in docker, a container is named after its id until it has a name.
    let id = spec::short_id();
    let command = if args.args.is_empty() {
        vec!["/bin/sh".to_string()]
    } else {
        args.args
    };
    let flags = spec::RunFlags {
        args: command,
        hostname: Some(args.flags.hostname.clone().unwrap_or_else(|| id.clone())),
        ..args.flags
    };
    let mut spec = spec::build(&flags, rootfs)?;
    ch03_cgroups::set_resources(&mut spec, &args.limits, &args.cgroup_parent, &id)?;
    ch02_namespaces::stdin_unless_interactive(flags.interactive)?;
    let exit = ch03_cgroups::run(&spec, rootfs, &args.cgroup_parent, &id)?;
    if let Some(message) = exit.oom_message() {
        eprintln!("dockyard: {message}");
    }
    Ok(exit.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_defaults_merge_with_flags_as_docker_merges_them() {
        let mut config = Config::default();
        config.set_entrypoint(Some(vec!["/bin/app".into()]));
        config.set_cmd(Some(vec!["--serve".into()]));
        config.set_env(Some(vec!["A=image".into(), "B=image".into()]));
        config.set_working_dir(Some("/srv".into()));
        let flags = spec::RunFlags {
            env: vec!["A=flag".into()],
            ..Default::default()
        };
        let merged = run_flags(&flags, &config, &[], "0123456789ab");
        assert_eq!(merged.args, ["/bin/app", "--serve"]);
        assert_eq!(merged.env, ["A=image", "B=image", "A=flag"]);
        assert_eq!(merged.workdir.as_deref(), Some("/srv"));
        assert_eq!(merged.hostname.as_deref(), Some("0123456789ab"));
        assert_eq!(merged.user, None);

        let flags = spec::RunFlags {
            workdir: Some("/tmp".into()),
            hostname: Some("web".into()),
            ..Default::default()
        };
        let merged = run_flags(&flags, &config, &["--check".into()], "0123456789ab");
        assert_eq!(merged.args, ["/bin/app", "--check"]);
        assert_eq!(merged.workdir.as_deref(), Some("/tmp"));
        assert_eq!(merged.hostname.as_deref(), Some("web"));
    }
}
