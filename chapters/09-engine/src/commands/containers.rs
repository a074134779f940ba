//! Container commands that work on the stores (no process runs): `ps`, `rm`,
//! `container prune`, `diff`, `commit`, `export`.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use ch04_overlayfs::commit::{commit as commit_layer, write_tar};
use ch04_overlayfs::store::{Container, ContainerError, Status, StoreLock, Summary};
use nix::sys::signal::Signal;

use crate::change;
use crate::cli::{CommitArgs, DiffArgs, ExportArgs, PortArgs, PruneArgs, PsArgs, RmArgs};
use crate::commands::images::{child_config, ellipsis};
use crate::commands::{Columns, confirm, object, print_deleted, print_table};
use crate::details::{HostConfig, Runtime};
use crate::engine::{Engine, cgroup_of, dir_size};
use crate::template::Value;
use crate::{human, labels};

/// The Go template fields of one `docker ps` row, and their column names.
pub const PS_COLUMNS: Columns = &[
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Labels", "LABELS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Mounts", "MOUNTS"),
    ("Names", "NAMES"),
    ("Networks", "NETWORKS"),
    ("Ports", "PORTS"),
    ("RunningFor", "CREATED"),
    ("Size", "SIZE"),
    ("State", "STATE"),
    ("Status", "STATUS"),
];

/// The status words of `docker ps`: "Created", "Up 3 seconds", "Exited (0) 3 seconds ago".
pub fn status(container: &Summary, runtime: &Runtime) -> String {
    let state = &container.state;
    let since = |t: Option<u64>| human::duration(human::now().0.saturating_sub(t.unwrap_or(0)));
    match state.status {
        Status::Created => "Created".into(),
        Status::Running if runtime.paused => {
            format!("Up {} (Paused)", since(state.started_at))
        }
        Status::Running => format!("Up {}", since(state.started_at)),
        Status::Exited if runtime.restarting => format!(
            "Restarting ({}) {} ago",
            state.exit_code.unwrap_or(0),
            since(state.finished_at)
        ),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            state.exit_code.unwrap_or(0),
            since(state.finished_at)
        ),
    }
}

/// The command a container runs (its spec's args), as `docker ps` quotes it
/// (Go's `strconv.Quote`).
pub fn command(args: &[String], no_trunc: bool) -> String {
    let args = args.join(" ");
    let shown = if no_trunc { args } else { ellipsis(&args, 20) };
    format!("{shown:?}")
}

/// The state word of `docker ps --format '{{.State}}'` and `-f status=`.
fn state_word(container: &Summary, runtime: &Runtime) -> &'static str {
    match container.state.status {
        Status::Created => "created",
        Status::Running if runtime.paused => "paused",
        Status::Running => "running",
        Status::Exited if runtime.restarting => "restarting",
        Status::Exited => "exited",
    }
}

/// One container as a `docker ps` row; `size` is (what its upper dir holds,
/// that plus its image), as `ps -s` shows "12B (virtual 4.26MB)".
/// `networks` is computed only when the format shows it (it reads each
/// container's host configuration), as docker's formatter computes a field
/// only when its template asks for it.
fn row(
    container: &Summary,
    runtime: &Runtime,
    no_trunc: bool,
    size: Option<(u64, u64)>,
    (ports, networks): (String, String),
) -> Value {
    let size = match size {
        Some((rw, all)) => format!("{} (virtual {})", human::size(rw, 3), human::size(all, 3)),
        None => "0B".into(),
    };
    let id = if no_trunc {
        container.id.as_str()
    } else {
        container.short_id()
    };
    object([
        ("Command", Value::Str(command(&container.args, no_trunc))),
        ("CreatedAt", Value::Str(human::go_time(container.created))),
        ("ID", Value::Str(id.to_string())),
        ("Image", Value::Str(container.image_name.clone())),
        ("Labels", Value::Str(labels::text(&container.labels))),
        ("LocalVolumes", Value::Str("0".into())),
        ("Mounts", Value::Str(String::new())),
        ("Names", Value::Str(container.name.clone())),
        ("Networks", Value::Str(networks)),
        ("Ports", Value::Str(ports)),
        ("RunningFor", Value::Str(human::ago(container.created))),
        ("Size", Value::Str(size)),
        ("State", Value::Str(state_word(container, runtime).into())),
        ("Status", Value::Str(status(container, runtime))),
    ])
}

/// Every container as `ps` shows it, newest first, with its runtime record.
/// Read as summaries (no OCI spec parsed); only a container recorded as
/// running or restarting is loaded in full, to be brought up to date
/// ([`Engine::refresh`]: is its supervisor still there?).
fn listed(engine: &Engine) -> anyhow::Result<Vec<(Summary, Runtime)>> {
    let mut listed = Vec::new();
    let (summaries, unreadable) = engine.containers.summaries()?;
    for err in unreadable {
        eprintln!("dockyard: a container left out, its records unreadable: {err}");
    }
    for summary in summaries {
        // A record it cannot read is taken as the default: `ps` still lists it.
        let runtime = Runtime::load_in(&summary.dir).unwrap_or_default();
        if summary.state.status != Status::Running && !runtime.restarting {
            listed.push((summary, runtime));
            continue;
        }
        let container = match engine.containers.get(&summary.id) {
            Ok(container) => engine.refresh(container)?,
            // Removed since the listing began.
            Err(ContainerError::NotFound(_)) => continue,
            Err(err) => return Err(err.into()),
        };
        let runtime = Runtime::load(&container).unwrap_or_default();
        listed.push((container.summary(), runtime));
    }
    Ok(listed)
}

/// docker's `name` filter (`filters.Args.Match`): the value is a regular
/// expression searched for in the name as the daemon keeps it, with a
/// leading `/` (so `web` matches `my-web-1`, and `^/web$` only `web`). A
/// value that is no valid expression matches nothing (docker's exact-match
/// fallback could only match a name no container can have).
fn name_matches(filter: &str, name: &str) -> bool {
    regex::Regex::new(filter).is_ok_and(|re| re.is_match(&format!("/{name}")))
}

/// `ps` / `container ls`.
pub fn list(root: &Path, args: PsArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let mut filters = Vec::new();
    for filter in &args.filter {
        match filter.split_once('=') {
            Some((key @ ("name" | "id" | "status" | "ancestor" | "label"), value)) => {
                filters.push((key, value.to_string()))
            }
            _ => anyhow::bail!("invalid filter '{filter}'"),
        }
    }
    let status_filter = filters.iter().any(|(k, _)| *k == "status");
    let latest = if args.latest { Some(1) } else { args.last };
    let network_state = engine.networks()?.state()?;
    let shows_networks = args
        .format
        .as_deref()
        .is_some_and(|f| f.contains("Networks"));
    let mut rows = Vec::new();
    for (container, runtime) in listed(&engine)? {
        // As docker: values of one key are alternatives, keys must all match.
        let matches = |key: &str, value: &String| match key {
            "name" => name_matches(value, &container.name),
            "id" => container.id.starts_with(value.as_str()),
            "status" => state_word(&container, &runtime) == value,
            // `label=KEY` (the container has it) or `label=KEY=VALUE`.
            "label" => labels::matches(&container.labels, value),
            _ => {
                container.image_name == *value
                    || engine
                        .images
                        .get(value)
                        .is_ok_and(|i| i.id == container.image)
            }
        };
        let wanted = filters.iter().all(|(key, _)| {
            filters
                .iter()
                .any(|(other, value)| other == key && matches(key, value))
        });
        let running = container.state.status == Status::Running;
        // -n and -l look at every container, as -a does.
        if !wanted || !(args.all || running || status_filter || latest.is_some()) {
            continue;
        }
        if latest.is_some_and(|n| rows.len() >= n) {
            break;
        }
        let size = match args.size {
            true => {
                let rw = dir_size(&container.dir.join("upper"))?;
                let image = engine.images.get(&container.image.to_string());
                let base = match image {
                    Ok(image) => engine.image_size(&image)?,
                    Err(_) => 0,
                };
                Some((rw, rw + base))
            }
            false => None,
        };
        let ports = match container.state.status {
            Status::Running => crate::network::ps_ports(&network_state, &container.id),
            _ => String::new(),
        };
        let networks = match shows_networks {
            true => crate::network::ps_networks(&network_state, &container)?,
            false => String::new(),
        };
        rows.push(row(
            &container,
            &runtime,
            args.no_trunc,
            size,
            (ports, networks),
        ));
    }
    let default = if args.size {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    let format = if args.quiet {
        Some("{{.ID}}")
    } else {
        args.format.as_deref()
    };
    print_table(format, default, PS_COLUMNS, &rows)?;
    Ok(0)
}

/// `rm` of a container whose records cannot be read: nothing says what it
/// was, but it can still go, with what the engine keeps for it elsewhere,
/// unless it runs. Its supervisor holds its run lock while it lives (see
/// [`Engine::run_lock`]); without its records no one can stop it.
fn remove_unreadable(engine: &Engine, reference: &str) -> anyhow::Result<()> {
    let id = engine.containers.id_of(reference)?;
    let run_lock = Engine::run_lock_in(&engine.containers.dir_of(&id));
    if StoreLock::try_exclusive(&run_lock)?.is_none() {
        anyhow::bail!(
            "cannot remove container {}: its records are unreadable and its supervisor still runs it",
            &id[..12]
        );
    }
    engine.containers.remove(&id)?;
    crate::supervisor::remove_supervisor_dir_of(&id)?;
    engine.networks()?.forget(&id)?;
    Ok(())
}

/// Whether `err` is a container's records that cannot be read.
fn is_unreadable(err: &anyhow::Error) -> bool {
    err.downcast_ref::<ContainerError>()
        .is_some_and(ContainerError::is_unreadable)
}

/// `rm`: removes each container, printing what it was given; a running one
/// only with `-f`.
pub fn remove(root: &Path, args: RmArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let mut code = 0;
    for reference in &args.containers {
        let result = (|| {
            let container = match engine.container(reference) {
                Ok(container) => container,
                Err(err) if is_unreadable(&err) => return remove_unreadable(&engine, reference),
                Err(err) => return Err(err),
            };
            if container.state.status == Status::Running {
                if !args.force {
                    anyhow::bail!(
                        "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                        container.config.name
                    );
                }
                kill_all(&container)?;
            }
            // Needed for `-v` only: unreadable, it keeps no one from removing.
            let host = HostConfig::load(&container);
            match engine.containers.remove(&container.config.id) {
                // Its `run --rm` removed it as it exited.
                Err(ContainerError::NotFound(_)) => {}
                result => result?,
            }
            crate::supervisor::remove_supervisor_dir(&container)?;
            // Its supervisor tore its network down; this covers one that could
            // not, and forgets the networks `network connect` put it on.
            engine.networks()?.forget(&container.config.id)?;
            if args.volumes {
                remove_anonymous_volumes(&engine, &host?)?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => println!("{reference}"),
            Err(err) => {
                eprintln!("Error response from daemon: {err:#}");
                code = 1;
            }
        }
    }
    Ok(code)
}

// ANCHOR: port
/// `port`: the container's published ports, `80/tcp -> 127.0.0.1:8080`, or
/// only where one port is published, `127.0.0.1:8080`, as docker's CLI prints
/// them (a missing one is its error, status 1).
pub fn port(root: &Path, args: PortArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let container = engine.container(&args.container)?;
    let published = crate::network::published(&engine, &container)?;
    let Some(wanted) = &args.port else {
        for (port, proto, ip, host_port) in published {
            println!("{port}/{proto} -> {ip}:{host_port}");
        }
        return Ok(0);
    };
    // docker's nat.SplitProtoPort and NewPort: `80` is `80/tcp`.
    let (port, proto) = wanted.split_once('/').unwrap_or((wanted, "tcp"));
    let key = format!("{port}/{proto}");
    let mut found = false;
    for (_, _, ip, host_port) in published
        .iter()
        .filter(|(p, pr, _, _)| format!("{p}/{pr}") == key)
    {
        println!("{ip}:{host_port}");
        found = true;
    }
    if !found {
        eprintln!(
            "Error: No public port '{key}' published for {}",
            args.container
        );
        return Ok(1);
    }
    Ok(0)
}
// ANCHOR_END: port

/// Removes the anonymous volumes of a removed container that no other
/// container uses (`rm -v`, `run --rm`).
pub fn remove_anonymous_volumes(engine: &Engine, host: &HostConfig) -> anyhow::Result<()> {
    for m in host.mounts.iter().filter(|m| m.anonymous) {
        let Some(name) = &m.name else { continue };
        if let Ok(volume) = engine.volumes()?.get(name)
            && engine.volume_users(name)?.is_empty()
        {
            engine.volumes()?.remove(&volume, &[])?;
        }
    }
    Ok(())
}

/// Kills a running container (SIGKILL to every process in its cgroup) and
/// waits for the `run` in charge of it to record the exit and let go of its
/// [`run_lock`](Engine::run_lock), as `rm -f` does. A container whose `run`
/// died (`kill -9`) holds no lock, and is taken as exited at once.
pub fn kill_all(container: &Container) -> anyhow::Result<()> {
    // No restart policy brings it back.
    let mut runtime = Runtime::load(container)?;
    runtime.stopped_by_user = true;
    if container.dir.exists() {
        runtime.save(container)?;
    }
    // A paused container's processes die only once thawed (cgroup v1).
    let _ = cgroup_of(container).and_then(|cgroup| Ok(cgroup.thaw()?));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Its run makes the cgroup just after recording "running", and removes
        // it once the processes are gone: look again each time.
        let pids = cgroup_of(container)
            .and_then(|cgroup| Ok(cgroup.pids()?))
            .unwrap_or_default();
        for pid in &pids {
            let _ = nix::sys::signal::kill(*pid, Signal::SIGKILL);
        }
        if !container.dir.exists()
            || StoreLock::try_exclusive(&Engine::run_lock(container))?.is_some()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "container {} did not exit after SIGKILL",
                container.short_id()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `container prune`: removes every container that is not running.
pub fn prune(root: &Path, args: PruneArgs) -> anyhow::Result<i32> {
    if !args.force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(0);
    }
    let engine = Engine::open(root)?;
    let (removed, reclaimed) = prune_stopped(&engine)?;
    print_deleted("Containers", &removed);
    println!("Total reclaimed space: {}", human::size(reclaimed, 4));
    Ok(0)
}

/// Removes every container that is not running; returns their IDs and the
/// bytes their writable layers held.
pub fn prune_stopped(engine: &Engine) -> anyhow::Result<(Vec<String>, u64)> {
    let mut removed = Vec::new();
    let mut reclaimed = 0;
    for container in engine.all_containers()? {
        if container.state.status == Status::Running {
            continue;
        }
        reclaimed += dir_size(&container.upper_dir())?;
        engine.containers.remove(&container.config.id)?;
        removed.push(container.config.id);
    }
    Ok((removed, reclaimed))
}

/// `diff`: the container's changes to its image (chapter 04's `changes`).
pub fn diff(root: &Path, args: DiffArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let container = engine.container(&args.container)?;
    let lowers = engine.container_lowers(&container)?;
    let mut out = std::io::stdout().lock();
    for change in ch04_overlayfs::changes(&lowers, &container.upper_dir())? {
        writeln!(out, "{change}")?;
    }
    Ok(0)
}

/// `commit`: the container's upper dir becomes a layer on top of its image's,
/// and a new image config (the container's command as CMD, `--change`s
/// applied, a history entry with the message) names the stack. Prints its ID.
pub fn commit(root: &Path, args: CommitArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let container = engine.container(&args.container)?;
    let image = engine.images.get(&container.config.image.to_string())?;
    if let Some(name) = &args.repository {
        ch04_overlayfs::store::images::normalize_name(name)?;
    }
    let mut config = image.config.config().clone().unwrap_or_default();
    let argv = container
        .config
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.args().clone())
        .unwrap_or_default();
    let entrypoint = config.entrypoint().clone().unwrap_or_default();
    let cmd: Vec<String> = match argv.strip_prefix(entrypoint.as_slice()) {
        Some(rest) => rest.to_vec(),
        None => argv,
    };
    config.set_cmd(Some(cmd.clone()));
    for instruction in &args.change {
        change::apply(&mut config, instruction)?;
    }
    let layer = commit_layer(&container.upper_dir(), engine.content()?)
        .with_context(|| format!("commit container {}", container.short_id()))?;
    let child = child_config(
        &image.config,
        config,
        &layer.diff_id,
        cmd.join(" "),
        args.message.clone(),
        args.author.clone(),
    )?;
    let holder = Engine::temporary_holder();
    let blob = engine
        .content()?
        .open_blob(&layer.digest, Some(layer.size))?;
    let parent = image.top_layer()?;
    engine
        .layers
        .create(parent.as_ref(), blob, Some(&layer.diff_id), &holder)?;
    let new = engine.put_image(&child, args.repository.as_deref(), Some(&holder))?;
    println!("{}", new.id);
    Ok(0)
}

/// `export`: the container's whole filesystem as a tar, to stdout or `-o FILE`.
pub fn export(root: &Path, args: ExportArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let container = engine.container(&args.container)?;
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("failed to export container: open {}", path.display()))?,
        ),
        None => {
            if nix::unistd::isatty(std::io::stdout()).unwrap_or(false) {
                anyhow::bail!(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect"
                );
            }
            Box::new(std::io::stdout().lock())
        }
    };
    let mounted = engine.mount(&container)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    write_tar(&container.merged_dir(), &mut out)
        .with_context(|| format!("export container {}", container.short_id()))?;
    out.flush()?;
    mounted.unmount()?;
    Ok(0)
}
