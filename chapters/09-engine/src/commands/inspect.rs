//! `inspect` and `container inspect`: docker's JSON for containers (and, for
//! the top-level `inspect`, images too), or a `--format` template over it.

use std::path::Path;

use ch04_overlayfs::store::{Container, ContainerError, ImageError, Status};

use dockyard_shim::restart::Policy;

use crate::cli::{ContainerInspectArgs, InspectAnyArgs};
use crate::commands::images::inspect_value;
use crate::commands::{object, print_inspect};
use crate::details::{HostConfig, MountPoint, Runtime};
use crate::engine::{Engine, init_pid};
use crate::human;
use crate::template::Value;

/// Go's zero time, what docker shows for a time that never was.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `container inspect`.
pub fn containers(root: &Path, args: ContainerInspectArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for reference in &args.containers {
        match engine.container(reference) {
            Ok(container) => found.push(container_value(&engine, &container)?),
            Err(err) => missing.push(err),
        }
    }
    finish(args.format.as_deref(), &found, missing)
}

/// `inspect`: each name is looked up as a container, then as an image (with
/// `--type`, as that only), as docker's CLI does.
pub fn any(root: &Path, args: InspectAnyArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let kind = args.kind.as_deref();
    if let Some(other) = kind.filter(|k| !matches!(*k, "container" | "image")) {
        anyhow::bail!("\"{other}\" is not a valid value for --type");
    }
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for reference in &args.names {
        if kind != Some("image") {
            match engine.container(reference) {
                Ok(container) => {
                    found.push(container_value(&engine, &container)?);
                    continue;
                }
                Err(err) if not_found(&err) && kind.is_none() => {}
                Err(err) => {
                    missing.push(err);
                    continue;
                }
            }
        }
        match engine.images.get(reference) {
            Ok(image) => found.push(inspect_value(&engine, &image)?),
            Err(ImageError::NotFound(_)) if kind.is_none() => {
                missing.push(anyhow::anyhow!("No such object: {reference}"))
            }
            Err(err) => missing.push(err.into()),
        }
    }
    finish(args.format.as_deref(), &found, missing)
}

/// Whether `err` says that no container has that name or ID.
fn not_found(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<ContainerError>(),
        Some(ContainerError::NotFound(_))
    )
}

/// Prints what was found (`[]` if nothing), then each error as docker's CLI
/// does (`Error: No such container: x`), failing with status 1 if any.
fn finish(
    format: Option<&str>,
    found: &[Value],
    missing: Vec<anyhow::Error>,
) -> anyhow::Result<i32> {
    if format.is_none() || !found.is_empty() {
        print_inspect(format, found)?;
    }
    for err in &missing {
        eprintln!("Error: {err:#}");
    }
    Ok(if missing.is_empty() { 0 } else { 1 })
}

/// docker's `State.Status`: `created`, `running`, `paused`, `exited`.
pub fn status_word(container: &Container, runtime: &Runtime) -> &'static str {
    match container.state.status {
        Status::Created => "created",
        Status::Running if runtime.paused => "paused",
        Status::Exited if runtime.restarting => "restarting",
        Status::Running => "running",
        Status::Exited => "exited",
    }
}

fn strings(list: &[String]) -> Value {
    Value::List(list.iter().cloned().map(Value::Str).collect())
}

fn optional_strings(list: &Option<Vec<String>>) -> Value {
    list.as_deref().map_or(Value::Null, strings)
}

fn time(t: Option<u64>) -> Value {
    Value::Str(t.map_or(ZERO_TIME.into(), |t| human::rfc3339(t, 0)))
}

/// One entry of `Mounts`, with docker's fields for its type.
fn mount_value(m: &MountPoint) -> Value {
    let mode = |default: &str| {
        Value::Str(match m.rw {
            true => default.into(),
            false => "ro".into(),
        })
    };
    let source = Value::Str(m.source.display().to_string());
    let destination = Value::Str(m.destination.clone());
    match m.kind.as_str() {
        "volume" => object([
            ("Type", Value::Str("volume".into())),
            ("Name", Value::Str(m.name.clone().unwrap_or_default())),
            ("Source", source),
            ("Destination", destination),
            ("Driver", Value::Str("local".into())),
            ("Mode", mode("z")),
            ("RW", Value::Bool(m.rw)),
            ("Propagation", Value::Str(String::new())),
        ]),
        kind => object([
            ("Type", Value::Str(kind.into())),
            ("Source", source),
            ("Destination", destination),
            ("Mode", mode("")),
            ("RW", Value::Bool(m.rw)),
            (
                "Propagation",
                Value::Str(if kind == "bind" { "rprivate" } else { "" }.into()),
            ),
        ]),
    }
}

/// One container as `docker container inspect` shows it.
pub fn container_value(engine: &Engine, container: &Container) -> anyhow::Result<Value> {
    let host = HostConfig::load(container)?;
    let runtime = Runtime::load(container)?;
    let config = &container.config;
    let state = &container.state;
    let process = config.spec.process().clone().unwrap_or_default();
    let args = process.args().clone().unwrap_or_default();
    let running = state.status == Status::Running;
    let user = process.user();
    let user = match (user.uid(), user.gid()) {
        (0, 0) => String::new(),
        (uid, 0) => uid.to_string(),
        (uid, gid) => format!("{uid}:{gid}"),
    };
    let state_value = object([
        (
            "Status",
            Value::Str(status_word(container, &runtime).into()),
        ),
        ("Running", Value::Bool(running)),
        ("Paused", Value::Bool(running && runtime.paused)),
        ("Restarting", Value::Bool(runtime.restarting)),
        ("OOMKilled", Value::Bool(runtime.oom_killed)),
        ("Dead", Value::Bool(false)),
        (
            "Pid",
            Value::Int(match running {
                true => state
                    .pid
                    .or_else(|| init_pid(container).map(|p| p.as_raw()))
                    .unwrap_or(0)
                    .into(),
                false => 0,
            }),
        ),
        ("ExitCode", Value::Int(state.exit_code.unwrap_or(0).into())),
        ("Error", Value::Str(runtime.error.clone())),
        ("StartedAt", time(state.started_at)),
        ("FinishedAt", time(state.finished_at)),
    ]);
    let (policy_name, retries) = match host.restart_policy() {
        Policy::No => ("no", 0),
        Policy::Always => ("always", 0),
        Policy::UnlessStopped => ("unless-stopped", 0),
        Policy::OnFailure { max } => ("on-failure", max.unwrap_or(0)),
    };
    let log_opts = Value::Object(
        host.log_opts
            .iter()
            .map(|o| {
                let (k, v) = o.split_once('=').unwrap_or((o.as_str(), ""));
                (k.to_string(), Value::Str(v.to_string()))
            })
            .collect(),
    );
    let host_value = object([
        (
            "Binds",
            optional_strings(&Some(host.binds.clone()).filter(|b| !b.is_empty())),
        ),
        (
            "LogConfig",
            object([
                ("Type", Value::Str("json-file".into())),
                ("Config", log_opts),
            ]),
        ),
        (
            "RestartPolicy",
            object([
                ("Name", Value::Str(policy_name.into())),
                ("MaximumRetryCount", Value::Uint(retries.into())),
            ]),
        ),
        ("AutoRemove", Value::Bool(host.auto_remove)),
        ("Init", Value::Bool(host.init)),
        (
            "CapAdd",
            optional_strings(&Some(host.cap_add.clone()).filter(|c| !c.is_empty())),
        ),
        (
            "CapDrop",
            optional_strings(&Some(host.cap_drop.clone()).filter(|c| !c.is_empty())),
        ),
        ("Privileged", Value::Bool(host.privileged)),
        ("ReadonlyRootfs", Value::Bool(host.readonly_rootfs)),
        ("Memory", Value::Int(host.memory)),
        ("NanoCpus", Value::Int(host.nano_cpus)),
        ("PidsLimit", host.pids_limit.map_or(Value::Null, Value::Int)),
        (
            "NetworkMode",
            Value::Str(crate::network::mode_name(&host.network).into()),
        ),
        ("PortBindings", crate::network::port_bindings(&host.network)),
        ("PublishAllPorts", Value::Bool(host.network.publish_all)),
        (
            "Dns",
            Value::List(
                host.network
                    .dns
                    .iter()
                    .map(|ip| Value::Str(ip.to_string()))
                    .collect(),
            ),
        ),
        (
            "ExtraHosts",
            optional_strings(&Some(host.network.add_host.clone()).filter(|h| !h.is_empty())),
        ),
        (
            "Links",
            optional_strings(&Some(host.network.link.clone()).filter(|l| !l.is_empty())),
        ),
    ]);
    let config_value = object([
        (
            "Hostname",
            Value::Str(config.spec.hostname().clone().unwrap_or_default()),
        ),
        ("Domainname", Value::Str(String::new())),
        ("User", Value::Str(user)),
        ("Tty", Value::Bool(process.terminal().unwrap_or(false))),
        ("OpenStdin", Value::Bool(host.open_stdin)),
        ("Env", optional_strings(process.env())),
        ("Cmd", optional_strings(&host.cmd)),
        ("Image", Value::Str(config.image_name.clone())),
        (
            "WorkingDir",
            Value::Str(match process.cwd().to_string_lossy() {
                cwd if cwd == "/" => String::new(),
                cwd => cwd.into_owned(),
            }),
        ),
        ("Entrypoint", optional_strings(&host.entrypoint)),
        (
            "Labels",
            crate::labels::value(config.spec.annotations().iter().flatten()),
        ),
    ]);
    let [resolv_conf, hostname, hosts] = crate::etc::paths(engine, container)?;
    Ok(object([
        ("Id", Value::Str(config.id.clone())),
        ("Created", time(Some(config.created))),
        (
            "Path",
            Value::Str(args.first().cloned().unwrap_or_default()),
        ),
        ("Args", strings(args.get(1..).unwrap_or_default())),
        ("State", state_value),
        ("Image", Value::Str(config.image.to_string())),
        ("ResolvConfPath", Value::Str(resolv_conf)),
        ("HostnamePath", Value::Str(hostname)),
        ("HostsPath", Value::Str(hosts)),
        (
            "LogPath",
            Value::Str(crate::supervisor::log_path(container).display().to_string()),
        ),
        ("Name", Value::Str(format!("/{}", config.name))),
        ("RestartCount", Value::Uint(runtime.restart_count.into())),
        ("Driver", Value::Str("overlay2".into())),
        ("Platform", Value::Str("linux".into())),
        ("HostConfig", host_value),
        (
            "Mounts",
            Value::List(host.mounts.iter().map(mount_value).collect()),
        ),
        ("Config", config_value),
        (
            "NetworkSettings",
            crate::network::settings(engine, container)?,
        ),
    ]))
}
