//! The engine's side of chapter 05: `run`'s network flags checked at creation
//! and kept in the container's [`HostConfig`], the container's network made by
//! its supervisor at each start and removed after each run, and what
//! `inspect` and `port` show of it.
//!
//! A container on a bridge network gets its address and host ports when it
//! starts and gives them back when it stops, as in docker: a stopped
//! container holds nothing, so `-P` may give it other host ports next time.

use std::net::Ipv4Addr;

use anyhow::Context;
use ch04_overlayfs::store::{Container, Status, Summary};
use ch05_network::network::DEFAULT_NETWORK;
use ch05_network::store::{Endpoint, State};
use ch05_network::{NetworkError, NetworkFlags, NetworkMode, ports};
use oci_spec::runtime::Spec;

use crate::commands::object;
use crate::details::HostConfig;
use crate::engine::{Engine, init_pid};
use crate::template::Value;

/// Flags that cannot go together with a network mode: docker's daemon's
/// error (moby's runconfig), which its CLI shows as the daemon's answer.
#[derive(Debug, thiserror::Error)]
#[error("conflicting options: {0}")]
pub struct Conflict(&'static str);

/// How `HostConfig.NetworkMode` names another container's namespace.
const CONTAINER: &str = "container:";

/// `run`/`create`'s network flags, checked with docker's errors before
/// anything is made, as they are to be kept: `container:NAME` as
/// `container:ID`, the image's exposed ports added to `--expose`, ports
/// dropped in host mode (with docker's warning). `hostname` says whether
/// `--hostname` was given.
pub fn checked(
    engine: &Engine,
    flags: &NetworkFlags,
    hostname: bool,
    image_exposed: &[String],
) -> anyhow::Result<NetworkFlags> {
    let mut flags = flags.clone();
    for port in image_exposed {
        if !flags.expose.contains(port) {
            flags.expose.push(port.clone());
        }
    }
    flags.port_requests()?;
    let publishes = !flags.publish.is_empty() || flags.publish_all;
    // Conflicts as moby's runconfig (hostconfig_unix.go) refuses them.
    if let Some(other) = flags.network.strip_prefix(CONTAINER) {
        let conflict = [
            (hostname, "hostname and the network mode"),
            (!flags.link.is_empty(), "container type network can't be used with links. This would result in undefined behavior"),
            (!flags.dns.is_empty(), "dns and the network mode"),
            (!flags.add_host.is_empty(), "custom host-to-IP mapping and the network mode"),
            (flags.mac_address.is_some(), "mac-address and the network mode"),
            (publishes, "port publishing and the container type network mode"),
        ]
        .into_iter()
        .find(|(yes, _)| *yes);
        if let Some((_, what)) = conflict {
            return Err(Conflict(what).into());
        }
        flags.network = format!("{CONTAINER}{}", engine.container(other)?.config.id);
        return Ok(flags);
    }
    match flags.network.as_str() {
        "host" => {
            if !flags.link.is_empty() {
                return Err(Conflict(
                    "host type networking can't be used with links. This would result in undefined behavior",
                )
                .into());
            }
            if publishes {
                eprintln!("WARNING: Published ports are discarded when using host network mode");
                flags.publish.clear();
                flags.publish_all = false;
            }
        }
        "none" => {}
        network => {
            let networks = engine.networks()?;
            let found = networks.inspect(network)?;
            let name = found["Name"].as_str().unwrap_or(network).to_string();
            if name == "bridge" {
                if flags.ip.is_some() {
                    return Err(NetworkError::IpOnDefaultBridge.into());
                }
                if !flags.network_alias.is_empty() {
                    anyhow::bail!(
                        "network-scoped alias is supported only for containers in user defined networks"
                    );
                }
            }
            flags.network = name;
            // Refused now rather than at start: bad --mac-address, --add-host.
            flags.attach(String::new(), String::new(), String::new(), String::new())?;
        }
    }
    Ok(flags)
}

/// `HostConfig.NetworkMode`: `bridge` for a container made before the engine
/// kept network flags (its record has none; it gets the default bridge).
pub fn mode_name(flags: &NetworkFlags) -> &str {
    match flags.network.as_str() {
        "" => DEFAULT_NETWORK,
        name => name,
    }
}

/// What `HostConfig.NetworkMode` is and how the runtime must treat it.
pub fn mode(flags: &NetworkFlags) -> NetworkMode {
    match flags.network.strip_prefix(CONTAINER) {
        // The path is found at start, from the other container's pid.
        Some(id) => NetworkMode::Container(id.into()),
        None => flags.network.parse().unwrap_or(NetworkMode::None),
    }
}

// ANCHOR: before_start
/// Before each start of the container (its first, and each restart): its
/// network is prepared (address, MAC, host ports, /etc/hosts), anything a
/// previous run left removed first; returns the spec to run, with its
/// /etc/hosts (and resolv.conf) mounts. For `container:`, joins the other
/// container's namespace with this thread, which makes the container.
/// `host`: the container's host config, as the supervisor's entry read it.
pub fn before_start(
    engine: &Engine,
    container: &Container,
    host: &HostConfig,
) -> anyhow::Result<Spec> {
    let mut spec = container.config.spec.clone();
    let id = &container.config.id;
    match mode(&host.network) {
        NetworkMode::Bridge(network) => {
            let networks = engine.networks()?;
            networks.teardown(id)?;
            let hostname = spec.hostname().clone().unwrap_or_default();
            let attach = host.network.attach(
                id.clone(),
                container.config.name.clone(),
                hostname,
                network,
            )?;
            let mut prepared = networks.prepare(&attach)?;
            // As docker's (moby's `NetworkMounts`): a file the user mounts
            // (`-v ...:/etc/hosts`) is theirs, not the network's, and the
            // network's are read-only with a read-only root.
            prepared
                .mounts
                .retain(|mount| !ch02_namespaces::rootfs::mounts_on(&spec, mount.destination()));
            if ch02_namespaces::rootfs::read_only_root(&spec) {
                for mount in &mut prepared.mounts {
                    let mut options = mount.options().clone().unwrap_or_default();
                    options.push("ro".into());
                    mount.set_options(Some(options));
                }
            }
            let mut mounts = spec.mounts().clone().unwrap_or_default();
            mounts.extend(prepared.mounts);
            spec.set_mounts(Some(mounts));
        }
        NetworkMode::Container(other) => {
            let other = engine.container(&other.to_string_lossy())?;
            let pid = (other.state.status == Status::Running)
                .then(|| init_pid(&other))
                .flatten()
                .with_context(|| {
                    format!(
                        "cannot join network of a non running container: {}",
                        other.config.id
                    )
                })?;
            NetworkMode::Container(format!("/proc/{pid}/ns/net").into()).join()?;
        }
        NetworkMode::None | NetworkMode::Host => {}
    }
    Ok(spec)
}

/// In chapter 02's set-up hook, once the container's init `pid` exists in its
/// new network namespace: its veth, address, route and published ports.
pub fn connect(
    engine: &Engine,
    container: &Container,
    host: &HostConfig,
    pid: u32,
) -> anyhow::Result<()> {
    if let NetworkMode::Bridge(_) = mode(&host.network) {
        engine.networks()?.connect(&container.config.id, pid)?;
    }
    Ok(())
}
// ANCHOR_END: before_start

/// A published port as docker's API shows one: `{"HostIp": .., "HostPort": ..}`.
fn binding(host_ip: String, host_port: String) -> Value {
    object([
        ("HostIp", Value::Str(host_ip)),
        ("HostPort", Value::Str(host_port)),
    ])
}

/// `HostConfig.PortBindings`: what `-p` asked for (not `-P`, which is
/// `PublishAllPorts`), by `PORT/PROTO`; an empty `HostPort` means any free one.
pub fn port_bindings(flags: &NetworkFlags) -> Value {
    let mut map: Vec<(String, Value)> = Vec::new();
    let requests = flags.publish.iter().flat_map(|raw| {
        // Checked when the container was made.
        ports::parse_publish(raw).unwrap_or_default()
    });
    for request in requests {
        let key = format!("{}/{}", request.container_port, request.proto);
        let host_port = match request.host_ports {
            Some((a, b)) if a == b => a.to_string(),
            Some((a, b)) => format!("{a}-{b}"),
            None => String::new(),
        };
        let entry = binding(
            request.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            host_port,
        );
        match map.iter_mut().find(|(k, _)| *k == key) {
            Some((_, Value::List(list))) => list.push(entry),
            _ => map.push((key, Value::List(vec![entry]))),
        }
    }
    Value::Object(map)
}

/// The container's endpoints, one per network, if it is running.
fn endpoints<'a>(state: &'a State, container: &Container) -> &'a [Endpoint] {
    match container.state.status {
        Status::Running => state
            .containers
            .get(&container.config.id)
            .map_or(&[], |c| c.endpoints.as_slice()),
        _ => &[],
    }
}

/// `docker ps`'s PORTS for a running container: each published port as
/// `127.0.0.1:8080->80/tcp`, joined by `, ` (docker/cli's `DisplayablePorts`,
/// for IPv4; docker also lists a port only exposed, as `80/tcp`).
pub fn ps_ports(state: &State, id: &str) -> String {
    let mut ports: Vec<_> = state
        .containers
        .get(id)
        .into_iter()
        .flat_map(|c| &c.endpoints)
        .flat_map(|e| &e.ports)
        .map(|p| (p.host_ip, p.host_port, p.container_port, p.proto))
        .collect();
    ports.sort();
    let shown: Vec<String> = ports
        .iter()
        .map(|(ip, host, port, proto)| format!("{ip}:{host}->{port}/{proto}"))
        .collect();
    shown.join(", ")
}

/// `docker ps`'s NETWORKS: the names of the networks a container is on (its
/// `--network`, then those it was `network connect`ed to), joined by `,`.
pub fn ps_networks(state: &State, container: &Summary) -> anyhow::Result<String> {
    let host = HostConfig::load_in(&container.dir)?;
    let mut names = vec![mode_name(&host.network).to_string()];
    let id = &container.id;
    let joined = state
        .joined
        .get(id)
        .into_iter()
        .flatten()
        .map(|j| &j.network);
    let attached = state
        .containers
        .get(id)
        .into_iter()
        .flat_map(|c| &c.endpoints)
        .map(|e| &e.network);
    for name in joined.chain(attached) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    Ok(names.join(","))
}

// ANCHOR: published
/// The ports a running container publishes, as `(container port, proto,
/// host ip, host port)`, in `docker port`'s order.
pub fn published(
    engine: &Engine,
    container: &Container,
) -> anyhow::Result<Vec<(u16, ports::Proto, Ipv4Addr, u16)>> {
    let state = engine.networks()?.state()?;
    let mut all: Vec<_> = endpoints(&state, container)
        .iter()
        .flat_map(|e| &e.ports)
        .map(|p| (p.container_port, p.proto, p.host_ip, p.host_port))
        .collect();
    all.sort();
    Ok(all)
}
// ANCHOR_END: published

/// `NetworkSettings` in docker's shape: the default bridge's address also in
/// the top-level fields (as docker keeps them for it only), `Ports` with the
/// host ports given (`null` for a port exposed, not published), and one
/// entry per network in `Networks` (its `--network`, then those it was
/// `network connect`ed to), with its address while it runs.
pub fn settings(engine: &Engine, container: &Container) -> anyhow::Result<Value> {
    let host = HostConfig::load(container)?;
    let networks = engine.networks()?;
    let state = networks.state()?;
    let id = &container.config.id;
    let running = endpoints(&state, container);
    let str = |s: &str| Value::Str(s.to_string());
    let mut ports: Vec<(String, Value)> = Vec::new();
    if matches!(mode(&host.network), NetworkMode::Bridge(_)) {
        for raw in &host.network.expose {
            for (port, proto) in ports::parse_expose(raw).unwrap_or_default() {
                ports.push((format!("{port}/{proto}"), Value::Null));
            }
        }
        for (port, proto, ip, host_port) in published(engine, container)? {
            let key = format!("{port}/{proto}");
            let entry = binding(ip.to_string(), host_port.to_string());
            match ports.iter_mut().find(|(k, _)| *k == key) {
                Some((_, Value::List(list))) => list.push(entry),
                Some((_, slot)) => *slot = Value::List(vec![entry]),
                None => ports.push((key, Value::List(vec![entry]))),
            }
        }
    }
    // Its networks: the one it was created on, then those it joined.
    let mut names: Vec<(String, Vec<String>)> = Vec::new();
    if !matches!(mode(&host.network), NetworkMode::Container(_)) {
        names.push((
            mode_name(&host.network).to_string(),
            host.network.network_alias.clone(),
        ));
    }
    for joined in state.joined.get(id).into_iter().flatten() {
        if !names.iter().any(|(n, _)| *n == joined.network) {
            names.push((joined.network.clone(), joined.aliases.clone()));
        }
    }
    for endpoint in running {
        if !names.iter().any(|(n, _)| *n == endpoint.network) {
            names.push((endpoint.network.clone(), endpoint.aliases.clone()));
        }
    }
    // (IPAddress, IPPrefixLen, Gateway, MacAddress, EndpointID) on a network.
    let address = |name: &str| match running.iter().find(|e| e.network == name) {
        Some(e) => {
            let record = state.networks.get(name);
            (
                e.ip.to_string(),
                record.map_or(0, |n| n.subnet.prefix()),
                record.map(|n| n.gateway.to_string()).unwrap_or_default(),
                e.mac.clone(),
                e.id.clone(),
            )
        }
        None => Default::default(),
    };
    let entries = names
        .iter()
        .map(|(name, aliases)| {
            let (ip, prefix, gateway, mac, endpoint_id) = address(name);
            let network_id = networks
                .inspect(name)
                .ok()
                .and_then(|n| n["Id"].as_str().map(str::to_string))
                .unwrap_or_default();
            let aliases = match aliases.is_empty() {
                true => Value::Null,
                false => Value::List(aliases.iter().map(|a| str(a)).collect()),
            };
            let entry = object([
                ("IPAMConfig", Value::Null),
                ("Links", Value::Null),
                ("Aliases", aliases),
                ("MacAddress", Value::Str(mac)),
                ("NetworkID", Value::Str(network_id)),
                ("EndpointID", Value::Str(endpoint_id)),
                ("Gateway", Value::Str(gateway)),
                ("IPAddress", Value::Str(ip)),
                ("IPPrefixLen", Value::Uint(prefix.into())),
                ("IPv6Gateway", str("")),
                ("GlobalIPv6Address", str("")),
                ("GlobalIPv6PrefixLen", Value::Uint(0)),
                ("DriverOpts", Value::Null),
            ]);
            (name.clone(), entry)
        })
        .collect();
    let (ip, prefix, gateway, mac, endpoint_id) = address(DEFAULT_NETWORK);
    let pid = (!running.is_empty()).then(|| init_pid(container)).flatten();
    Ok(object([
        ("Bridge", str("")),
        (
            "SandboxKey",
            Value::Str(pid.map_or(String::new(), |p| format!("/proc/{p}/ns/net"))),
        ),
        ("Ports", Value::Object(ports)),
        ("EndpointID", Value::Str(endpoint_id)),
        ("Gateway", Value::Str(gateway)),
        ("GlobalIPv6Address", str("")),
        ("GlobalIPv6PrefixLen", Value::Uint(0)),
        ("IPAddress", Value::Str(ip)),
        ("IPPrefixLen", Value::Uint(prefix.into())),
        ("IPv6Gateway", str("")),
        ("MacAddress", Value::Str(mac)),
        ("Networks", Value::Object(entries)),
    ]))
}
