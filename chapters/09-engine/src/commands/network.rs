//! `network create / ls / inspect / rm / prune / connect / disconnect`:
//! chapter 05's networks ([`ch05_network::Networks`], the engine's
//! [`Engine::networks`]) shown and changed as docker does.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::UNIX_EPOCH;

use anyhow::bail;
use ch04_overlayfs::store::Status;
use ch05_network::store::{NetworkRecord, State};
use ch05_network::subnet::Subnet;
use ch05_network::{Attach, CreateOptions, NetworkError, NetworkMode, Networks};

use crate::cli::{
    NetworkCommand, NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs,
    NetworkInspectArgs, NetworkLsArgs, NetworkPruneArgs, NetworkRmArgs,
};
use crate::commands::{confirm, object, print_deleted, print_inspect, print_table};
use crate::details::HostConfig;
use crate::engine::{Engine, init_pid};
use crate::template::Value;
use crate::{human, labels};

/// The predefined networks that have no bridge: docker's `host` and `none`,
/// with the drivers it lists them with.
const NO_BRIDGE: [(&str, &str); 2] = [("host", "host"), ("none", "null")];

/// Runs a `network` subcommand.
pub fn dispatch(root: &Path, command: NetworkCommand) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let networks = engine.networks()?;
    match command {
        NetworkCommand::Create(args) => create(&networks, args),
        NetworkCommand::Ls(args) => list(&networks, args),
        NetworkCommand::Inspect(args) => inspect(&networks, args),
        NetworkCommand::Rm(args) => remove(&networks, args),
        NetworkCommand::Prune(args) => prune(&networks, args),
        NetworkCommand::Connect(args) => connect(&engine, &networks, args),
        NetworkCommand::Disconnect(args) => disconnect(&engine, &networks, args),
    }
}

/// One network as the commands see it: a bridge network's record, or one of
/// the predefined `host` and `none`.
struct Network<'a> {
    name: &'a str,
    id: &'a str,
    driver: &'static str,
    record: Option<&'a NetworkRecord>,
}

/// Every network, sorted by name as `docker network ls` sorts them.
fn all(state: &State) -> Vec<Network<'_>> {
    let mut all: Vec<Network> = NO_BRIDGE
        .iter()
        .filter_map(|(name, driver)| {
            Some(Network {
                name,
                id: state.predefined_ids.get(*name)?,
                driver,
                record: None,
            })
        })
        .chain(state.networks.values().map(|record| Network {
            name: &record.name,
            id: &record.id,
            driver: "bridge",
            record: Some(record),
        }))
        .collect();
    all.sort_by(|a, b| a.name.cmp(b.name));
    all
}

/// The network `reference` names: a name, a full id, or a unique id prefix.
fn find<'a>(state: &'a State, reference: &str) -> anyhow::Result<Network<'a>> {
    let mut all = all(state);
    if let Some(at) = all
        .iter()
        .position(|n| n.name == reference || n.id == reference)
    {
        return Ok(all.swap_remove(at));
    }
    let mut matches: Vec<Network> = all
        .into_iter()
        .filter(|n| !reference.is_empty() && n.id.starts_with(reference))
        .collect();
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => Err(NetworkError::NotFound(reference.into()).into()),
        _ => bail!(
            "network {reference} is ambiguous ({} matches found based on ID prefix)",
            matches.len()
        ),
    }
}

fn create(networks: &Networks, args: NetworkCreateArgs) -> anyhow::Result<i32> {
    match args.driver.as_str() {
        "bridge" => {}
        "overlay" | "macvlan" | "ipvlan" | "host" | "null" => {
            bail!(
                "dockyard has only the bridge network driver, not {:?}",
                args.driver
            )
        }
        other => bail!("plugin \"{other}\" not found"),
    }
    let subnet = args
        .subnet
        .as_deref()
        .map(str::parse::<Subnet>)
        .transpose()?;
    if subnet.is_none() && (args.gateway.is_some() || args.ip_range.is_some()) {
        bail!("every ip-range or gateway must have a corresponding subnet");
    }
    let gateway = match args.gateway.as_deref() {
        Some(text) => Some(
            text.parse::<Ipv4Addr>()
                .map_err(|_| anyhow::anyhow!("invalid gateway address {text:?}"))?,
        ),
        None => None,
    };
    let ip_range = args
        .ip_range
        .as_deref()
        .map(str::parse::<Subnet>)
        .transpose()?;
    let mut options = CreateOptions {
        subnet,
        gateway,
        ip_range,
        ..CreateOptions::default()
    };
    options
        .labels
        .extend(args.label.iter().map(|l| labels::parse(l)));
    for opt in &args.opt {
        match opt.split_once('=') {
            Some(("com.docker.network.bridge.name", name)) => options.bridge = Some(name.into()),
            _ => bail!(
                "unsupported driver option {opt:?} (dockyard has com.docker.network.bridge.name=NAME)"
            ),
        }
    }
    println!("{}", networks.create(&args.name, &options)?.id);
    Ok(0)
}

/// Seconds and nanoseconds of a record's creation (0 if it has none).
fn created(record: Option<&NetworkRecord>) -> (u64, u32) {
    record
        .and_then(|r| r.created)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or((0, 0), |d| (d.as_secs(), d.subsec_nanos()))
}

/// `KEY=VALUE,...`, as `{{.Labels}}` shows them.
/// Whether `network` passes every `--filter` (values of one key are OR'ed,
/// keys AND'ed, as docker combines them).
fn matches(network: &Network, filters: &BTreeMap<String, Vec<String>>) -> bool {
    filters.iter().all(|(key, values)| {
        values.iter().any(|value| match key.as_str() {
            "driver" => network.driver == value,
            "name" => network.name.contains(value.as_str()),
            "id" => network.id.starts_with(value.as_str()),
            "scope" => value == "local",
            "type" => match value.as_str() {
                "custom" => network.record.is_some_and(|r| r.user_defined),
                _ => !network.record.is_some_and(|r| r.user_defined),
            },
            "label" => network
                .record
                .is_some_and(|r| labels::matches(&r.labels, value)),
            _ => false,
        })
    })
}

/// `--filter KEY=VALUE`s by key, docker's error for a key it does not know.
fn parse_filters(raw: &[String]) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let mut filters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for filter in raw {
        let Some((key, value)) = filter.split_once('=') else {
            bail!("bad format of filter (expected name=value)");
        };
        if !["driver", "name", "id", "label", "scope", "type"].contains(&key) {
            bail!("invalid filter '{key}'");
        }
        if key == "type" && !["custom", "builtin"].contains(&value) {
            bail!("invalid filter: 'type'='{value}'");
        }
        filters.entry(key.into()).or_default().push(value.into());
    }
    Ok(filters)
}

fn list(networks: &Networks, args: NetworkLsArgs) -> anyhow::Result<i32> {
    let filters = parse_filters(&args.filter)?;
    let state = networks.with_defaults()?;
    let rows: Vec<Value> = all(&state)
        .iter()
        .filter(|n| matches(n, &filters))
        .map(|n| {
            let id = match args.no_trunc {
                true => n.id,
                false => &n.id[..n.id.len().min(12)],
            };
            object([
                ("CreatedAt", Value::Str(human::go_time(created(n.record).0))),
                ("Driver", Value::Str(n.driver.into())),
                ("ID", Value::Str(id.into())),
                ("IPv4", Value::Str("true".into())),
                ("IPv6", Value::Str("false".into())),
                ("Internal", Value::Str("false".into())),
                (
                    "Labels",
                    Value::Str(
                        n.record
                            .map(|r| labels::text(&r.labels))
                            .unwrap_or_default(),
                    ),
                ),
                ("Name", Value::Str(n.name.into())),
                ("Scope", Value::Str("local".into())),
            ])
        })
        .collect();
    let format = if args.quiet {
        Some("{{.ID}}")
    } else {
        args.format.as_deref()
    };
    print_table(
        format,
        "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
        &[
            ("CreatedAt", "CREATED"),
            ("Driver", "DRIVER"),
            ("ID", "NETWORK ID"),
            ("IPv4", "IPV4"),
            ("IPv6", "IPV6"),
            ("Internal", "INTERNAL"),
            ("Labels", "LABELS"),
            ("Name", "NAME"),
            ("Scope", "SCOPE"),
        ],
        &rows,
    )?;
    Ok(0)
}

/// One network in `docker network inspect`'s shape and field order.
fn inspect_value(state: &State, network: &Network) -> Value {
    let str = |s: &str| Value::Str(s.into());
    let (secs, nanos) = created(network.record);
    let mut config = Vec::new();
    let mut containers = Vec::new();
    let mut options = Vec::new();
    if let Some(record) = network.record {
        let mut entry = vec![
            ("Subnet".to_string(), str(&record.subnet.to_string())),
            ("Gateway".to_string(), str(&record.gateway.to_string())),
        ];
        if let Some(range) = record.ip_range {
            entry.insert(1, ("IPRange".to_string(), str(&range.to_string())));
        }
        config.push(Value::Object(entry));
        for container in state.containers.values() {
            for endpoint in container
                .endpoints
                .iter()
                .filter(|e| e.network == record.name)
            {
                containers.push((
                    container.id.clone(),
                    object([
                        ("Name", str(&container.name)),
                        ("MacAddress", str(&endpoint.mac)),
                        (
                            "IPv4Address",
                            str(&format!("{}/{}", endpoint.ip, record.subnet.prefix())),
                        ),
                        ("IPv6Address", str("")),
                    ]),
                ));
            }
        }
        if !record.user_defined {
            options.push((
                "com.docker.network.bridge.default_bridge".into(),
                str("true"),
            ));
        }
        options.push(("com.docker.network.bridge.name".into(), str(&record.bridge)));
    }
    let labels = labels::value(network.record.iter().flat_map(|r| &r.labels));
    object([
        ("Name", str(network.name)),
        ("Id", str(network.id)),
        ("Created", str(&human::rfc3339(secs, nanos))),
        ("Scope", str("local")),
        ("Driver", str(network.driver)),
        ("EnableIPv4", Value::Bool(true)),
        ("EnableIPv6", Value::Bool(false)),
        (
            "IPAM",
            object([
                ("Driver", str("default")),
                ("Options", Value::Object(Vec::new())),
                ("Config", Value::List(config)),
            ]),
        ),
        ("Internal", Value::Bool(false)),
        ("Attachable", Value::Bool(false)),
        ("Ingress", Value::Bool(false)),
        ("ConfigFrom", object([("Network", str(""))])),
        ("ConfigOnly", Value::Bool(false)),
        ("Containers", Value::Object(containers)),
        ("Options", Value::Object(options)),
        ("Labels", labels),
    ])
}

fn inspect(networks: &Networks, args: NetworkInspectArgs) -> anyhow::Result<i32> {
    let state = networks.with_defaults()?;
    let mut found = Vec::new();
    let mut code = 0;
    for reference in &args.networks {
        match find(&state, reference) {
            Ok(network) => found.push(inspect_value(&state, &network)),
            Err(err) => {
                eprintln!("Error response from daemon: {err:#}");
                code = 1;
            }
        }
    }
    if args.format.is_none() || !found.is_empty() {
        print_inspect(args.format.as_deref(), &found)?;
    }
    Ok(code)
}

/// Removes the network `reference` names: docker's errors for a predefined
/// one, an unknown one, and one with containers on it.
fn remove_one(networks: &Networks, reference: &str) -> anyhow::Result<()> {
    let state = networks.with_defaults()?;
    let network = find(&state, reference)?;
    if network.record.is_none_or(|r| !r.user_defined) {
        bail!(
            "{} is a pre-defined network and cannot be removed",
            network.name
        );
    }
    Ok(networks.remove(network.name)?)
}

fn remove(networks: &Networks, args: NetworkRmArgs) -> anyhow::Result<i32> {
    let mut code = 0;
    for reference in &args.networks {
        match remove_one(networks, reference) {
            Ok(()) => println!("{reference}"),
            Err(err)
                if args.force && matches!(err.downcast_ref(), Some(NetworkError::NotFound(_))) => {}
            Err(err) => {
                eprintln!("Error response from daemon: {err:#}");
                code = 1;
            }
        }
    }
    Ok(code)
}

fn prune(networks: &Networks, args: NetworkPruneArgs) -> anyhow::Result<i32> {
    let warning =
        "WARNING! This will remove all custom networks not used by at least one container.";
    if !args.force && !confirm(warning)? {
        return Ok(0);
    }
    let state = networks.with_defaults()?;
    let mut removed = Vec::new();
    for record in state.networks.values().filter(|r| r.user_defined) {
        match networks.remove(&record.name) {
            Ok(()) => removed.push(record.name.clone()),
            Err(NetworkError::InUse(..)) => {}
            Err(err) => return Err(err.into()),
        }
    }
    print_deleted("Networks", &removed);
    Ok(0)
}

fn connect(engine: &Engine, networks: &Networks, args: NetworkConnectArgs) -> anyhow::Result<i32> {
    let container = engine.container(&args.container)?;
    let state = networks.with_defaults()?;
    let network = find(&state, &args.network)?;
    if network.record.is_none() {
        bail!("container cannot be disconnected from host network or connected to host network");
    }
    // A container on another's or the host's network namespace has no
    // network of its own to add to; one made to have none does not get one
    // (nor is its network torn down at its end: it has nothing there).
    // dockerd's checks, in its words (`updateNetworkConfig`).
    match crate::network::mode(&HostConfig::load(&container)?.network) {
        NetworkMode::Host | NetworkMode::Container(_) => bail!(
            "container sharing network namespace with another container or host cannot be connected to any other network"
        ),
        NetworkMode::None => bail!(
            "container cannot be connected to multiple networks with one of the networks in private (none) mode"
        ),
        NetworkMode::Bridge(_) => {}
    }
    let running = container.state.status == Status::Running;
    let pid = match running {
        true => Some(
            init_pid(&container)
                .map(|p| p.as_raw() as u32)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "container {} is running but has no process",
                        container.short_id()
                    )
                })?,
        ),
        false => None,
    };
    let attach = Attach {
        id: container.config.id.clone(),
        name: container.config.name.clone(),
        hostname: container
            .config
            .spec
            .hostname()
            .clone()
            .unwrap_or_else(|| container.short_id().to_string()),
        network: network.name.to_string(),
        ip: args.ip,
        aliases: args.alias,
        ..Attach::default()
    };
    networks.connect_network(&attach, pid)?;
    Ok(0)
}

fn disconnect(
    engine: &Engine,
    networks: &Networks,
    args: NetworkDisconnectArgs,
) -> anyhow::Result<i32> {
    let state = networks.with_defaults()?;
    let network = find(&state, &args.network)?;
    if network.record.is_none() {
        bail!("container cannot be disconnected from host network or connected to host network");
    }
    let id = match engine.container(&args.container) {
        Ok(container) => container.config.id,
        // -f: take a container that is gone off the network all the same.
        Err(_) if args.force => args.container.clone(),
        Err(err) => return Err(err),
    };
    match networks.disconnect_network(&id, network.name) {
        // -f: nothing left to take off is no error.
        Err(NetworkError::NotConnected(..)) if args.force => Ok(0),
        result => result.map(|()| 0).map_err(Into::into),
    }
}
