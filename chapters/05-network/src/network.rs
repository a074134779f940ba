//! Networks and the containers on them: what the engine calls.
//!
//! The life of a container's network, in three calls that split where the
//! runtime needs them to:
//!
//! 1. [`Networks::prepare`], before the container exists: picks its address
//!    (IPAM), its MAC, its veth name and its host ports, records them, and
//!    writes its /etc/hosts (and resolv.conf with `--dns`). The caller adds
//!    [`Prepared::mounts`] to the OCI spec, as docker hands runc these files.
//! 2. [`Networks::connect`], in chapter 02's set-up hook, once the container's
//!    init exists in its new network namespace and before it execs: the bridge
//!    (made if missing, e.g. after a reboot), the veth pair with one end as
//!    `eth0` inside, its address and route, and the NAT rules.
//! 3. [`Networks::teardown`], when it has stopped: everything recorded in 1 is
//!    removed, from the persisted state alone, so it works after a crash of the
//!    caller and can run any number of times.
//!
//! **Name resolution**: containers on a user-defined network find each other
//! through their /etc/hosts, which dockyard keeps current (rewritten in place
//! whenever a container joins or leaves), rather than through an embedded DNS
//! server at 127.0.0.11 as docker does. A DNS server must run somewhere for as
//! long as any container does, and be reachable inside every namespace (docker
//! runs it in the daemon and redirects port 53 with rules in each container's
//! namespace); dockyard has no daemon (the CLI works alone on its state), so a
//! file the kernel already shows the container is the simpler, sturdier choice,
//! and every libc and busybox reads it. Its costs, said plainly: a container
//! that rewrote its own /etc/hosts loses its edits, and a name appears when the
//! file is rewritten, not a moment before. The default `bridge` resolves no
//! names, as docker's; `--link` adds entries to it.
//! The files are rewritten in place, not replaced by rename(2): a bind mount
//! holds on to the inode it was made from.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ch01_chroot::explain;
use oci_spec::runtime::{LinuxNamespaceType, Mount, MountBuilder, Spec};
use serde_json::{Value, json};

use crate::firewall::{Firewall, FirewallError};
use crate::ipam::{self, IpamError, Pool};
use crate::netlink::{self, Netlink, NetlinkError};
use crate::ports::{PortRequest, Proto};
use crate::store::{
    ContainerRecord, Endpoint, Joined, NetworkRecord, PortBinding, State, Store, StoreError,
};
use crate::subnet::Subnet;

/// Why a network operation failed: what, on what, and the cause.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The state could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A netlink request failed.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    /// An iptables change failed.
    #[error(transparent)]
    Firewall(#[from] FirewallError),
    /// No address could be handed out, or the pool was badly given.
    #[error("network {network}: {reason}")]
    Ipam { network: String, reason: IpamError },
    /// No network of that name.
    #[error("network {0} not found")]
    NotFound(String),
    /// `network create` with a name in use.
    #[error("network with name {0} already exists")]
    Exists(String),
    /// The predefined networks (`bridge`, `host`, `none`) cannot be made or removed.
    #[error("{0} is a pre-defined network and cannot be {1}")]
    Predefined(String, &'static str),
    /// Two networks would share addresses.
    #[error("invalid pool request: pool {0} overlaps with network {1} ({2})")]
    Overlap(Subnet, String, Subnet),
    /// A network with containers on it cannot be removed.
    #[error("error while removing network: network {0} id {1} has active endpoints")]
    InUse(String, String),
    /// `network connect` to a network the container is on already.
    #[error("endpoint with name {0} already exists in network {1}")]
    EndpointExists(String, String),
    /// `network disconnect` from a network the container is not on.
    #[error("container {0} is not connected to network {1}")]
    NotConnected(String, String),
    /// `network connect` of a running container with no network of its own
    /// (`--network none` or `host`, or another container's).
    #[error(
        "container {0} has no network namespace of its own to connect (its network mode is none, host or container:)"
    )]
    NoOwnNetwork(String),
    /// `--ip` or `--network-alias` on the default bridge, which docker refuses.
    #[error("user specified IP address is supported on user defined networks only")]
    IpOnDefaultBridge,
    /// A container id is already attached.
    #[error("container {0} already has a network")]
    AlreadyAttached(String),
    /// `connect` for a container that `prepare` did not see.
    #[error("container {0} has no network prepared")]
    NotPrepared(String),
    /// `--link` to a container dockyard does not know.
    #[error("could not get container for {0}")]
    NoSuchLink(String),
    /// A host port that is taken.
    #[error("Bind for {0}:{1} failed: port is already allocated")]
    PortTaken(Ipv4Addr, u16),
    /// No free host port in the range asked for.
    #[error("no free host port in {0}-{1}")]
    NoFreePort(u16, u16),
    /// Only IPv4 host addresses can be published (the NAT is iptables, IPv4).
    #[error("cannot publish on {0}: dockyard's NAT is IPv4 only")]
    Ipv6(IpAddr),
    /// A name longer than a Linux interface name may be (15 bytes).
    #[error("bridge name {0:?} is longer than 15 characters")]
    BridgeName(String),
    /// Writing a container's /etc files or entering a namespace failed.
    #[error("{step} {}: {source}", path.display())]
    Io {
        step: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, NetworkError>;

/// The name of the default network, as docker's.
pub const DEFAULT_NETWORK: &str = "bridge";

/// How the default `bridge` network is made the first time a state directory
/// uses it: docker's `docker0` and 172.17.0.0/16 are dockyard's `dy0` and the
/// same subnet; tests pick their own so that they never clash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeDefaults {
    /// The bridge device.
    pub device: String,
    /// Its subnet; the gateway is the first address.
    pub subnet: Subnet,
}

impl Default for BridgeDefaults {
    fn default() -> BridgeDefaults {
        BridgeDefaults {
            device: "dy0".into(),
            subnet: Subnet::new(Ipv4Addr::new(172, 17, 0, 0), 16),
        }
    }
}

/// `--network`: where a container's network comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// A bridge network by name (`bridge`, the default, or a user-defined one).
    Bridge(String),
    /// Its own namespace with only `lo`.
    None,
    /// The host's own network namespace: no isolation at all.
    Host,
    /// Another container's namespace: `container:PID` or `container:/path/to/netns`.
    Container(PathBuf),
}

impl FromStr for NetworkMode {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> std::result::Result<NetworkMode, Self::Err> {
        Ok(match text {
            "" | "default" => NetworkMode::Bridge(DEFAULT_NETWORK.into()),
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            _ => match text.strip_prefix("container:") {
                Some(pid) if pid.bytes().all(|b| b.is_ascii_digit()) => {
                    NetworkMode::Container(PathBuf::from(format!("/proc/{pid}/ns/net")))
                }
                Some(path) => NetworkMode::Container(PathBuf::from(path)),
                None => NetworkMode::Bridge(text.into()),
            },
        })
    }
}

impl NetworkMode {
    /// Whether the container gets a network namespace of its own (`none`
    /// and bridge networks) rather than sharing one that exists.
    pub fn own_namespace(&self) -> bool {
        matches!(self, NetworkMode::None | NetworkMode::Bridge(_))
    }

    /// Fits the OCI spec to the mode: `host` and `container:` share a namespace
    /// that exists already instead of making one, so the spec asks for none
    /// (the runner joins the other one first: [`NetworkMode::join`]).
    pub fn apply(&self, spec: &mut Spec) {
        if !self.own_namespace() {
            let mut linux = spec.linux().clone().unwrap_or_default();
            let namespaces = linux
                .namespaces()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter(|ns| ns.typ() != LinuxNamespaceType::Network)
                .collect();
            linux.set_namespaces(Some(namespaces));
            spec.set_linux(Some(linux));
        }
    }

    // ANCHOR: join
    /// For `container:`, moves the calling thread into that container's network
    /// namespace with setns(2), so the container the runner makes next shares it
    /// (nsenter(1) does the same). Call it before other threads are started.
    pub fn join(&self) -> Result<()> {
        let NetworkMode::Container(path) = self else {
            return Ok(());
        };
        explain!("join the network namespace {}", path.display(); "nsenter --net={}", path.display());
        let io = |step| {
            move |source| NetworkError::Io {
                step,
                path: path.clone(),
                source,
            }
        };
        let netns = File::open(path).map_err(io("open"))?;
        nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|errno| io("setns(2)")(errno.into()))
    }
    // ANCHOR_END: join
}

/// `network create`'s options.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// `--subnet`; without it, the first free 172.18-31.0.0/16, as docker picks.
    pub subnet: Option<Subnet>,
    /// `--gateway`; default, the first address.
    pub gateway: Option<Ipv4Addr>,
    /// `--ip-range`: the part of the subnet handed out automatically.
    pub ip_range: Option<Subnet>,
    /// The bridge device (docker's `-o com.docker.network.bridge.name=`);
    /// default `dy-` and the id's first 12 digits.
    pub bridge: Option<String>,
    /// `--label KEY=VALUE`s.
    pub labels: BTreeMap<String, String>,
}

/// What a container asks of its network (`docker run`'s network flags).
#[derive(Debug, Clone, Default)]
pub struct Attach {
    /// The container id: names its veth and its files.
    pub id: String,
    /// Its name, which other containers on a user network resolve.
    pub name: String,
    /// Its host name.
    pub hostname: String,
    /// The network, `bridge` by default.
    pub network: String,
    /// `--ip`.
    pub ip: Option<Ipv4Addr>,
    /// `--mac-address`; default derived from the address.
    pub mac: Option<[u8; 6]>,
    /// `--network-alias`.
    pub aliases: Vec<String>,
    /// `-p`, and `-P`'s exposed ports.
    pub publish: Vec<PortRequest>,
    /// `--link NAME[:ALIAS]`, as (name, alias).
    pub links: Vec<(String, String)>,
    /// `--add-host NAME:IP`.
    pub add_hosts: Vec<(String, Ipv4Addr)>,
    /// `--dns`: the name servers of its resolv.conf (else the host's, less loopback).
    pub dns: Vec<IpAddr>,
}

/// What [`Networks::prepare`] gave a container.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Its endpoint: address, MAC, veth, ports.
    pub endpoint: Endpoint,
    /// The bind mounts of its /etc files, to add to the OCI spec.
    pub mounts: Vec<Mount>,
}

/// The networks of one state directory, and the containers on them.
#[derive(Debug, Clone)]
pub struct Networks {
    store: Store,
    defaults: BridgeDefaults,
}

impl Networks {
    /// Uses the state in `dir` (the engine passes its root).
    pub fn open(dir: &Path, defaults: BridgeDefaults) -> Result<Networks> {
        Ok(Networks {
            store: Store::open(dir)?,
            defaults,
        })
    }

    /// Where container `id`'s /etc file `name` (`hosts`, or `resolv.conf`
    /// with `--dns`) is while it runs on a network: what `docker inspect`
    /// shows as its `HostsPath` or `ResolvConfPath`.
    pub fn etc_file(&self, id: &str, name: &str) -> PathBuf {
        self.store.container_dir(id).join(name)
    }

    /// The persisted state, to look at (tests check that nothing is left).
    pub fn state(&self) -> Result<State> {
        Ok(self.store.read()?)
    }

    /// Creates a user-defined bridge network: its record, its bridge with the
    /// gateway address, and its NAT rules.
    pub fn create(&self, name: &str, options: &CreateOptions) -> Result<NetworkRecord> {
        if [DEFAULT_NETWORK, "host", "none"].contains(&name) {
            return Err(NetworkError::Predefined(name.into(), "created"));
        }
        self.store.update(|state| {
            if state.networks.contains_key(name) {
                return Err(NetworkError::Exists(name.into()));
            }
            let subnet = match options.subnet {
                Some(subnet) => subnet,
                None => (18..=31)
                    .map(|n| Subnet::new(Ipv4Addr::new(172, n, 0, 0), 16))
                    .find(|s| !state.networks.values().any(|n| n.subnet.overlaps(s)))
                    .ok_or(NetworkError::Ipam {
                        network: name.into(),
                        reason: IpamError::Exhausted(Subnet::new(Ipv4Addr::new(172, 18, 0, 0), 12)),
                    })?,
            };
            let id = random_id();
            let bridge = options
                .bridge
                .clone()
                .unwrap_or_else(|| format!("dy-{}", &id[..12]));
            let mut record = new_record(
                name,
                id,
                bridge,
                subnet,
                options.gateway,
                options.ip_range,
                true,
            )?;
            record.labels = options.labels.clone();
            check_overlap(state, &record)?;
            state.networks.insert(name.into(), record.clone());
            plumb_bridge(&mut Netlink::open()?, &Firewall::lock()?, &record)?;
            Ok(record)
        })
    }

    /// Removes a network with no containers on it: its rules, its bridge, its record.
    pub fn remove(&self, name: &str) -> Result<()> {
        if [DEFAULT_NETWORK, "host", "none"].contains(&name) {
            return Err(NetworkError::Predefined(name.into(), "removed"));
        }
        self.store.update(|state| {
            let record = state
                .networks
                .get(name)
                .cloned()
                .ok_or_else(|| NetworkError::NotFound(name.into()))?;
            if on_network(state, name).next().is_some() {
                return Err(NetworkError::InUse(name.into(), record.id.clone()));
            }
            unplumb_bridge(&record)?;
            state.networks.remove(name);
            Ok(())
        })
    }

    /// Every network, the predefined ones first, in `docker network inspect`'s shape.
    pub fn list(&self) -> Result<Vec<Value>> {
        let state = self.with_defaults()?;
        let mut all: Vec<Value> = ["host", "none"]
            .iter()
            .map(|name| {
                json!({
                    "Name": name, "Id": state.predefined_ids[*name], "Scope": "local",
                    "Driver": if *name == "none" { "null" } else { "host" },
                    "IPAM": {"Driver": "default", "Config": []}, "Containers": {},
                })
            })
            .collect();
        all.extend(state.networks.values().map(|n| inspect(&state, n)));
        all.sort_by_key(|n| n["Name"].as_str().unwrap_or_default().to_string());
        Ok(all)
    }

    /// One network in `docker network inspect`'s shape.
    pub fn inspect(&self, name: &str) -> Result<Value> {
        self.list()?
            .into_iter()
            .find(|n| {
                n["Name"] == name
                    || n["Id"]
                        .as_str()
                        .is_some_and(|id| id.starts_with(name) && name.len() >= 12)
            })
            .ok_or_else(|| NetworkError::NotFound(name.into()))
    }

    /// Makes the default `bridge` network's record and the predefined ids if
    /// this state has none yet, and returns the state: what `network ls` and
    /// `inspect` show, the defaults always among it, as in docker.
    pub fn with_defaults(&self) -> Result<State> {
        self.store.update(|state| {
            if !state.networks.contains_key(DEFAULT_NETWORK) {
                let record = new_record(
                    DEFAULT_NETWORK,
                    random_id(),
                    self.defaults.device.clone(),
                    self.defaults.subnet,
                    None,
                    None,
                    false,
                )?;
                state.networks.insert(DEFAULT_NETWORK.into(), record);
            }
            for name in ["host", "none"] {
                state
                    .predefined_ids
                    .entry(name.into())
                    .or_insert_with(random_id);
            }
            Ok(state.clone())
        })
    }

    /// Step 1 of 3: gives the container its address, MAC, veth name and host
    /// ports, records them, and writes its /etc files. It also gets an
    /// endpoint on each network it was put on with `network connect` (kept
    /// across its stops: [`State::joined`]).
    pub fn prepare(&self, attach: &Attach) -> Result<Prepared> {
        self.with_defaults()?;
        let network = match attach.network.as_str() {
            "" => DEFAULT_NETWORK,
            name => name,
        };
        self.store.update(|state| {
            if state.containers.contains_key(&attach.id) {
                return Err(NetworkError::AlreadyAttached(attach.id.clone()));
            }
            let mut endpoint = new_endpoint(
                state,
                network,
                &attach.id,
                &[],
                attach.ip,
                attach.mac,
                &attach.aliases,
            )?;
            endpoint.ports = allocate_ports(state, &attach.publish)?;
            let mut extra_hosts = Vec::new();
            for (name, alias) in &attach.links {
                let linked = state
                    .containers
                    .values()
                    .find(|c| &c.name == name || &c.id == name)
                    .and_then(|c| c.endpoints.first().map(|e| e.ip))
                    .ok_or_else(|| NetworkError::NoSuchLink(name.clone()))?;
                extra_hosts.push((alias.clone(), linked));
                if alias != name {
                    extra_hosts.push((name.clone(), linked));
                }
            }
            extra_hosts.extend(attach.add_hosts.iter().cloned());
            let mut endpoints = vec![endpoint.clone()];
            let joined = state.joined.get(&attach.id).cloned().unwrap_or_default();
            for join in joined.iter().filter(|j| j.network != network) {
                let more = new_endpoint(
                    state,
                    &join.network,
                    &attach.id,
                    &endpoints,
                    join.ip,
                    None,
                    &join.aliases,
                )?;
                endpoints.push(more);
            }
            state.containers.insert(
                attach.id.clone(),
                ContainerRecord {
                    id: attach.id.clone(),
                    name: attach.name.clone(),
                    hostname: attach.hostname.clone(),
                    extra_hosts,
                    endpoints: endpoints.clone(),
                },
            );
            let dir = self.store.container_dir(&attach.id);
            std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
            let mut mounts = vec![bind(&dir.join("hosts"), "/etc/hosts")];
            if !attach.dns.is_empty() {
                let text: String = attach
                    .dns
                    .iter()
                    .map(|ip| format!("nameserver {ip}\n"))
                    .collect();
                write_in_place(&dir.join("resolv.conf"), &text)?;
                mounts.push(bind(&dir.join("resolv.conf"), "/etc/resolv.conf"));
            }
            for endpoint in &endpoints {
                self.refresh_hosts(state, &endpoint.network)?;
            }
            Ok(Prepared { endpoint, mounts })
        })
    }

    // ANCHOR: connect
    /// Step 2 of 3: plumbs the prepared container whose init is `pid` (chapter
    /// 02's set-up hook): bridge, veth pair, `eth0`'s MAC, address and default
    /// route inside, and the published ports' rules.
    pub fn connect(&self, id: &str, pid: u32) -> Result<Vec<Endpoint>> {
        let state = self.store.read()?;
        let container = state
            .containers
            .get(id)
            .ok_or_else(|| NetworkError::NotPrepared(id.into()))?;
        let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
        let netns = File::open(&path).map_err(io("open", &path))?;
        let mut nl = Netlink::open()?;
        let firewall = Firewall::lock()?;
        for (i, endpoint) in container.endpoints.iter().enumerate() {
            let network = state
                .networks
                .get(&endpoint.network)
                .ok_or_else(|| NetworkError::NotFound(endpoint.network.clone()))?;
            let inside = format!("eth{i}");
            Self::plumb_endpoint(
                &mut nl,
                &firewall,
                (&netns, pid),
                network,
                endpoint,
                &inside,
                i == 0,
            )?;
        }
        Ok(container.endpoints.clone())
    }

    /// Plugs one endpoint in: the bridge (made if missing), the veth pair with
    /// `inside` made in the container's namespace (`netns`, of init `pid`),
    /// its MAC, address, the default route if `default_route`, and the
    /// published ports' rules.
    #[allow(clippy::too_many_arguments)]
    fn plumb_endpoint(
        nl: &mut Netlink,
        firewall: &Firewall,
        (netns, pid): (&File, u32),
        network: &NetworkRecord,
        endpoint: &Endpoint,
        inside: &str,
        default_route: bool,
    ) -> Result<()> {
        plumb_bridge(nl, firewall, network)?;
        let path = format!("/proc/{pid}/ns/net");
        // LAB: create the veth pair endpoint.veth/inside with `inside` made directly in the container's namespace (nl.add_veth with netns and pid), plug endpoint.veth into network.bridge (nl.set_master) and bring it up (nl.set_up); then, in the container's namespace (netlink::in_netns(netns, &path, |nl| ...)), give `inside` its MAC (ipam::parse_mac(&endpoint.mac), else ipam::mac_for(endpoint.ip)), the address endpoint.ip with network.subnet.prefix(), bring it up, and if default_route add the default route via network.gateway; last, publish each of endpoint.ports (firewall.publish with the bridge and the address)
        nl.add_veth(&endpoint.veth, inside, netns, pid)?;
        nl.set_master(&endpoint.veth, &network.bridge)?;
        nl.set_up(&endpoint.veth)?;
        let mac = ipam::parse_mac(&endpoint.mac).unwrap_or_else(|| ipam::mac_for(endpoint.ip));
        let (ip, prefix, gateway) = (endpoint.ip, network.subnet.prefix(), network.gateway);
        netlink::in_netns(netns, &path, |nl| {
            nl.set_mac(inside, mac)?;
            nl.add_address(inside, ip, prefix)?;
            nl.set_up(inside)?;
            if default_route {
                nl.add_default_route(gateway)?;
            }
            Ok(())
        })?;
        for port in &endpoint.ports {
            explain!(
                "publish {}:{}/{} to {ip}:{}",
                port.host_ip,
                port.host_port,
                port.proto,
                port.container_port
            );
            firewall.publish(&network.bridge, ip, port)?;
        }
        Ok(())
        // LAB: END
    }
    // ANCHOR_END: connect

    // ANCHOR: teardown
    /// Step 3 of 3: removes everything the container was given (veth, rules,
    /// addresses, files, its record), from the persisted state alone. Running it
    /// again, or for a container never prepared, does nothing.
    pub fn teardown(&self, id: &str) -> Result<()> {
        self.store.update(|state| {
            let Some(container) = state.containers.get(id).cloned() else {
                return Ok(());
            };
            let mut nl = Netlink::open()?;
            let firewall = Firewall::lock()?;
            for endpoint in &container.endpoints {
                // Gone already if the container's namespace went: the kernel
                // deletes a veth pair when either end's namespace is destroyed.
                nl.delete_link(&endpoint.veth)?;
                if let Some(network) = state.networks.get(&endpoint.network) {
                    for port in &endpoint.ports {
                        firewall.unpublish(&network.bridge, endpoint.ip, port)?;
                    }
                }
            }
            let dir = self.store.container_dir(id);
            match std::fs::remove_dir_all(&dir) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io("remove", &dir)(err));
                }
                _ => {}
            }
            state.containers.remove(id);
            explain!("IPAM: released the addresses of container {id}");
            for endpoint in &container.endpoints {
                self.refresh_hosts(state, &endpoint.network)?;
            }
            Ok(())
        })
    }
    // ANCHOR_END: teardown

    /// Tears the container's network down and forgets the networks it was
    /// connected to: for when it is removed.
    pub fn forget(&self, id: &str) -> Result<()> {
        self.teardown(id)?;
        self.store.update(|state| {
            state.joined.remove(id);
            Ok(())
        })
    }

    // ANCHOR: connect_network
    /// `network connect`: puts the container `attach.id` on one more network,
    /// `attach.network` (with `attach.ip` and `attach.aliases`), kept across
    /// its stops. A stopped container gets it at its next start (see
    /// [`Networks::prepare`]); a running one, whose init is `pid`, gets it at
    /// once: a new endpoint, plugged in as the first free `ethN` inside (its
    /// first network keeps the default route), and the /etc/hosts of everyone
    /// on the network rewritten, its own too.
    pub fn connect_network(&self, attach: &Attach, pid: Option<u32>) -> Result<Option<Endpoint>> {
        self.with_defaults()?;
        let network = attach.network.clone();
        self.store.update(|state| {
            let record = state
                .networks
                .get(&network)
                .cloned()
                .ok_or_else(|| NetworkError::NotFound(network.clone()))?;
            let on_it = |n: &str| n == network;
            let joined = state.joined.get(&attach.id);
            let live = state.containers.get(&attach.id);
            if joined.is_some_and(|j| j.iter().any(|j| on_it(&j.network)))
                || live.is_some_and(|c| c.endpoints.iter().any(|e| on_it(&e.network)))
            {
                return Err(NetworkError::EndpointExists(
                    attach.name.clone(),
                    network.clone(),
                ));
            }
            let Some(pid) = pid else {
                // Not running: check what can be checked now, record, and go.
                if !record.user_defined && (attach.ip.is_some() || !attach.aliases.is_empty()) {
                    return Err(NetworkError::IpOnDefaultBridge);
                }
                remember_joined(state, attach);
                return Ok(None);
            };
            let Some(container) = state.containers.get(&attach.id).cloned() else {
                return Err(NetworkError::NoOwnNetwork(attach.id.clone()));
            };
            let endpoint = new_endpoint(
                state,
                &network,
                &attach.id,
                &container.endpoints,
                attach.ip,
                None,
                &attach.aliases,
            )?;
            // Recorded before it is made, so a teardown finds it whatever happens next.
            remember_joined(state, attach);
            if let Some(c) = state.containers.get_mut(&attach.id) {
                c.endpoints.push(endpoint.clone());
            }
            let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
            let netns = File::open(&path).map_err(io("open", &path))?;
            let inside = netlink::in_netns(&netns, &path.display().to_string(), |nl| {
                for n in 0.. {
                    if nl.link_index(&format!("eth{n}"))?.is_none() {
                        return Ok(format!("eth{n}"));
                    }
                }
                unreachable!("some ethN is free")
            })?;
            let mut nl = Netlink::open()?;
            let firewall = Firewall::lock()?;
            Self::plumb_endpoint(
                &mut nl,
                &firewall,
                (&netns, pid),
                &record,
                &endpoint,
                &inside,
                false,
            )?;
            self.refresh_hosts(state, &network)?;
            Ok(Some(endpoint))
        })
    }

    /// `network disconnect`: takes the container off `network`, now if it
    /// runs (deleting the host end of its veth deletes the pair, and so its
    /// `ethN` inside) and at its next starts too; the /etc/hosts of the others
    /// on the network, and its own, no longer name it there.
    pub fn disconnect_network(&self, id: &str, network: &str) -> Result<()> {
        self.store.update(|state| {
            let record = state
                .networks
                .get(network)
                .cloned()
                .ok_or_else(|| NetworkError::NotFound(network.into()))?;
            let joined = state.joined.entry(id.into()).or_default();
            let was_joined = joined.len();
            joined.retain(|j| j.network != network);
            let was_joined = joined.len() != was_joined;
            if state.joined.get(id).is_some_and(Vec::is_empty) {
                state.joined.remove(id);
            }
            let endpoint = state.containers.get_mut(id).and_then(|c| {
                let at = c.endpoints.iter().position(|e| e.network == network)?;
                Some(c.endpoints.remove(at))
            });
            let Some(endpoint) = endpoint else {
                return match was_joined {
                    true => Ok(()),
                    false => Err(NetworkError::NotConnected(id.into(), network.into())),
                };
            };
            Netlink::open()?.delete_link(&endpoint.veth)?;
            let firewall = Firewall::lock()?;
            for port in &endpoint.ports {
                firewall.unpublish(&record.bridge, endpoint.ip, port)?;
            }
            explain!("IPAM: released {} on {network}", endpoint.ip);
            self.refresh_hosts(state, network)?;
            if let Some(container) = state.containers.get(id) {
                self.write_hosts(state, container)?;
            }
            Ok(())
        })
    }
    // ANCHOR_END: connect_network

    /// Removes everything this state directory made: every container's network,
    /// every network's rules and bridge (the default one too), their records;
    /// dockyard's chains once no network of any state uses them. For tests, and
    /// to start clean after a crash.
    pub fn cleanup(&self) -> Result<()> {
        for id in self.store.read()?.containers.into_keys() {
            self.teardown(&id)?;
        }
        self.store.update(|state| {
            for record in state.networks.values() {
                unplumb_bridge(record)?;
            }
            state.networks.clear();
            state.joined.clear();
            Ok::<_, NetworkError>(())
        })?;
        Ok(Firewall::lock()?.remove_chains_if_unused()?)
    }

    // ANCHOR: refresh_hosts
    /// Rewrites /etc/hosts of every container on `network`.
    fn refresh_hosts(&self, state: &State, network: &str) -> Result<()> {
        for (container, _) in on_network(state, network) {
            self.write_hosts(state, container)?;
        }
        Ok(())
    }

    /// Writes a container's /etc/hosts: localhost, its `--add-host`s and
    /// links, its own name, and the containers that share a user-defined
    /// network with it, under their names and aliases there (the default
    /// bridge resolves no names).
    fn write_hosts(&self, state: &State, container: &ContainerRecord) -> Result<()> {
        let mut text = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
        );
        for (name, ip) in &container.extra_hosts {
            text.push_str(&format!("{ip}\t{name}\n"));
        }
        if let Some(own) = container.endpoints.first() {
            text.push_str(&format!("{}\t{}\n", own.ip, container.hostname));
        }
        for network in container.endpoints.iter().map(|e| &e.network) {
            if !state.networks.get(network).is_some_and(|n| n.user_defined) {
                continue;
            }
            for (peer, endpoint) in on_network(state, network).filter(|(c, _)| c.id != container.id)
            {
                let mut names = vec![peer.name.clone()];
                names.extend(endpoint.aliases.iter().cloned());
                if peer.hostname != peer.name {
                    names.push(peer.hostname.clone());
                }
                text.push_str(&format!("{}\t{}\n", endpoint.ip, names.join(" ")));
            }
        }
        write_in_place(
            &self.store.container_dir(&container.id).join("hosts"),
            &text,
        )
    }
    // ANCHOR_END: refresh_hosts
}

/// Each container on `network` with its endpoint there.
fn on_network<'a>(
    state: &'a State,
    network: &'a str,
) -> impl Iterator<Item = (&'a ContainerRecord, &'a Endpoint)> + 'a {
    state.containers.values().flat_map(move |c| {
        c.endpoints
            .iter()
            .filter(move |e| e.network == network)
            .map(move |e| (c, e))
    })
}

/// A new endpoint for container `id` on `network`: an address from its pool
/// (`ip` if asked for), its MAC (`mac`, else derived from the address), and
/// a veth name none of the container's `others` endpoints has. `--ip` and
/// aliases are for user-defined networks only, as docker has it.
fn new_endpoint(
    state: &State,
    network: &str,
    id: &str,
    others: &[Endpoint],
    ip: Option<Ipv4Addr>,
    mac: Option<[u8; 6]>,
    aliases: &[String],
) -> Result<Endpoint> {
    let record = state
        .networks
        .get(network)
        .ok_or_else(|| NetworkError::NotFound(network.into()))?;
    if !record.user_defined && (ip.is_some() || !aliases.is_empty()) {
        return Err(NetworkError::IpOnDefaultBridge);
    }
    let ipam_error = |reason| NetworkError::Ipam {
        network: network.into(),
        reason,
    };
    let held: Vec<Ipv4Addr> = on_network(state, network).map(|(_, e)| e.ip).collect();
    let pool =
        Pool::new(record.subnet, Some(record.gateway), record.ip_range).map_err(ipam_error)?;
    let ip = pool.allocate(&held, ip).map_err(ipam_error)?;
    explain!("IPAM: {ip} from {} for the container", record.subnet);
    // The first is `veth` and 7 digits of the id; more get `-1`, `-2`, ...
    let veth = (0..)
        .map(|n| match n {
            0 => veth_name(id),
            n => format!("{}-{n}", veth_name(id)),
        })
        .find(|name| !others.iter().any(|e| &e.veth == name))
        .expect("some name is free");
    Ok(Endpoint {
        id: random_id(),
        network: network.into(),
        ip,
        mac: ipam::format_mac(mac.unwrap_or_else(|| ipam::mac_for(ip))),
        veth,
        aliases: aliases.to_vec(),
        ports: Vec::new(),
    })
}

/// A network's record, its pool checked.
fn new_record(
    name: &str,
    id: String,
    bridge: String,
    subnet: Subnet,
    gateway: Option<Ipv4Addr>,
    ip_range: Option<Subnet>,
    user_defined: bool,
) -> Result<NetworkRecord> {
    if bridge.is_empty() || bridge.len() > 15 {
        return Err(NetworkError::BridgeName(bridge));
    }
    let pool = Pool::new(subnet, gateway, ip_range).map_err(|reason| NetworkError::Ipam {
        network: name.into(),
        reason,
    })?;
    Ok(NetworkRecord {
        name: name.into(),
        id,
        bridge,
        subnet,
        ip_range,
        gateway: pool.gateway,
        user_defined,
        labels: BTreeMap::new(),
        created: Some(std::time::SystemTime::now()),
    })
}

/// Refuses a network whose subnet overlaps another's (routes would clash).
fn check_overlap(state: &State, record: &NetworkRecord) -> Result<()> {
    match state
        .networks
        .values()
        .find(|n| n.subnet.overlaps(&record.subnet))
    {
        Some(other) => Err(NetworkError::Overlap(
            record.subnet,
            other.name.clone(),
            other.subnet,
        )),
        None => Ok(()),
    }
}

// ANCHOR: plumb_bridge
/// Makes a network's bridge (if missing) with its gateway address, up, and its NAT rules.
fn plumb_bridge(nl: &mut Netlink, firewall: &Firewall, network: &NetworkRecord) -> Result<()> {
    nl.add_bridge(&network.bridge)?;
    nl.add_address(&network.bridge, network.gateway, network.subnet.prefix())?;
    nl.set_up(&network.bridge)?;
    firewall.add_network(&network.bridge, network.subnet)?;
    Ok(())
}
// ANCHOR_END: plumb_bridge

/// Removes a network's NAT rules and its bridge (and with it its address).
fn unplumb_bridge(network: &NetworkRecord) -> Result<()> {
    Firewall::lock()?.remove_network(&network.bridge, network.subnet)?;
    Netlink::open()?.delete_link(&network.bridge)?;
    Ok(())
}

/// The host end of a container's veth pair: `veth` and 7 digits of its id
/// (docker uses 7 random ones), 11 characters, within the 15 allowed.
pub fn veth_name(id: &str) -> String {
    let digits: String = id.chars().filter(char::is_ascii_hexdigit).take(7).collect();
    format!("veth{digits}")
}

/// Gives each requested port a host port: the one asked for if free, else the
/// first free one of its range or of the kernel's ephemeral range (as docker).
fn allocate_ports(state: &State, requests: &[PortRequest]) -> Result<Vec<PortBinding>> {
    let mut given: Vec<PortBinding> = Vec::new();
    for request in requests {
        let host_ip = match request.host_ip {
            None => Ipv4Addr::UNSPECIFIED,
            Some(IpAddr::V4(ip)) => ip,
            Some(ip @ IpAddr::V6(_)) => return Err(NetworkError::Ipv6(ip)),
        };
        let taken = |port: u16| {
            let clash = |b: &PortBinding| {
                b.host_port == port
                    && b.proto == request.proto
                    && (b.host_ip == host_ip
                        || b.host_ip.is_unspecified()
                        || host_ip.is_unspecified())
            };
            given.iter().any(clash)
                || state
                    .containers
                    .values()
                    .flat_map(|c| &c.endpoints)
                    .flat_map(|e| &e.ports)
                    .any(clash)
                || !bindable(host_ip, port, request.proto)
        };
        let (first, last) = request.host_ports.unwrap_or_else(ephemeral_range);
        let host_port = match (first..=last).find(|&p| !taken(p)) {
            Some(port) => port,
            None if first == last => return Err(NetworkError::PortTaken(host_ip, first)),
            None => return Err(NetworkError::NoFreePort(first, last)),
        };
        given.push(PortBinding {
            host_ip,
            host_port,
            container_port: request.container_port,
            proto: request.proto,
        });
    }
    Ok(given)
}

/// Whether nothing on the host listens on `ip:port` (a test bind; SCTP is not checked).
fn bindable(ip: Ipv4Addr, port: u16, proto: Proto) -> bool {
    match proto {
        Proto::Tcp => TcpListener::bind((ip, port)).is_ok(),
        Proto::Udp => UdpSocket::bind((ip, port)).is_ok(),
        Proto::Sctp => true,
    }
}

/// The kernel's ephemeral port range (ip(7), `ip_local_port_range`), where
/// docker picks host ports for `-P` and `-p CONTAINER`.
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut it = text.split_whitespace().map(|p| p.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// A bind mount of a container's own file over `dest` in its rootfs.
fn bind(source: &Path, dest: &str) -> Mount {
    MountBuilder::default()
        .destination(dest)
        .source(source)
        .typ("bind")
        .options(vec!["bind".to_string(), "rprivate".to_string()])
        .build()
        .expect("a bind mount has every field")
}

/// Replaces a file's contents without replacing the file: its inode is what
/// the container's bind mount shows.
fn write_in_place(path: &Path, text: &str) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(io("open", path))?;
    file.write_all(text.as_bytes()).map_err(io("write", path))
}

/// A random 64-hex-digit id, the form of docker's network ids.
fn random_id() -> String {
    let mut bytes = [0u8; 32];
    if File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_err()
    {
        let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
        bytes[..seed.len().min(32)].copy_from_slice(&seed.as_bytes()[..seed.len().min(32)]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `docker network inspect`'s shape for one network.
fn inspect(state: &State, network: &NetworkRecord) -> Value {
    let mut config =
        json!({"Subnet": network.subnet.to_string(), "Gateway": network.gateway.to_string()});
    if let Some(range) = network.ip_range {
        config["IPRange"] = json!(range.to_string());
    }
    let containers: BTreeMap<String, Value> = on_network(state, &network.name)
        .map(|(c, e)| {
            (
                c.id.clone(),
                json!({
                    "Name": c.name,
                    "MacAddress": e.mac,
                    "IPv4Address": format!("{}/{}", e.ip, network.subnet.prefix()),
                    "IPv6Address": "",
                }),
            )
        })
        .collect();
    json!({
        "Name": network.name,
        "Id": network.id,
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": {}, "Config": [config]},
        "Internal": false,
        "Containers": containers,
        "Options": {"com.docker.network.bridge.name": network.bridge},
        "Labels": {},
    })
}

/// An I/O error on `path` during `step`.
fn io(step: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> NetworkError {
    let path = path.to_path_buf();
    move |source| NetworkError::Io { step, path, source }
}

/// Records that the container `attach.id` is on `attach.network` (with its
/// address and aliases), to be given it at each start until it disconnects.
fn remember_joined(state: &mut State, attach: &Attach) {
    state
        .joined
        .entry(attach.id.clone())
        .or_default()
        .push(Joined {
            network: attach.network.clone(),
            ip: attach.ip,
            aliases: attach.aliases.clone(),
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_as_docker_names_them() {
        let mode = |s: &str| s.parse::<NetworkMode>().unwrap();
        assert_eq!(mode("bridge"), NetworkMode::Bridge("bridge".into()));
        assert_eq!(mode("mynet"), NetworkMode::Bridge("mynet".into()));
        assert_eq!(mode("none"), NetworkMode::None);
        assert_eq!(mode("host"), NetworkMode::Host);
        assert_eq!(
            mode("container:42"),
            NetworkMode::Container("/proc/42/ns/net".into())
        );
        assert_eq!(
            mode("container:/run/netns/x"),
            NetworkMode::Container("/run/netns/x".into())
        );
    }

    #[test]
    fn veth_names_fit_in_ifnamsiz() {
        assert_eq!(veth_name("0123456789abcdef"), "veth0123456");
        assert!(veth_name(&"f".repeat(64)).len() <= 15);
    }
}
