//! `docker run`'s network flags, shared by `ch05-network run` and the
//! engine's `run`/`create` (which keeps them in the container's record, so
//! they can be turned into an [`Attach`] at each start).

use std::net::{IpAddr, Ipv4Addr};

use anyhow::{Context, bail};

use crate::network::Attach;
use crate::{ipam, ports};

/// The network flags, as `docker run` spells them.
#[derive(Debug, Clone, Default, PartialEq, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct NetworkFlags {
    /// bridge (default), none, host, container:NAME, or a network's name.
    #[arg(
        long = "network",
        alias = "net",
        default_value = "bridge",
        value_name = "NETWORK"
    )]
    pub network: String,
    /// Publish a container's port (the spec as [`ports::parse_publish`] reads it).
    #[arg(
        short = 'p',
        long = "publish",
        value_name = "SPEC",
        help = "Publish a container's port: [[IP:][HOST]:]CONTAINER[/PROTO]"
    )]
    pub publish: Vec<String>,
    /// Publish every exposed port on a free host port.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port (what -P publishes): PORT[/PROTO] or a range.
    #[arg(long, value_name = "PORT")]
    pub expose: Vec<String>,
    /// The container's IPv4 address (user-defined networks only).
    #[arg(long)]
    pub ip: Option<Ipv4Addr>,
    /// The container's MAC address (default: 02:42 and its IPv4 address).
    #[arg(long)]
    pub mac_address: Option<String>,
    /// A name server for the container's resolv.conf.
    #[arg(long)]
    pub dns: Vec<IpAddr>,
    /// An /etc/hosts entry: NAME:IP.
    #[arg(long = "add-host", value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// Reach another container by name, with an alias if given.
    #[arg(long, help = "Reach another container by name: NAME[:ALIAS]")]
    pub link: Vec<String>,
    /// Another name for the container on a user-defined network.
    #[arg(long = "network-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,
}

impl NetworkFlags {
    /// The ports to publish: each `-p`, and with `-P` each exposed port on a
    /// free host port; docker's errors for a bad spec.
    pub fn port_requests(&self) -> anyhow::Result<Vec<ports::PortRequest>> {
        let mut publish = Vec::new();
        for raw in &self.publish {
            publish.extend(ports::parse_publish(raw)?);
        }
        if self.publish_all {
            for raw in &self.expose {
                for (container_port, proto) in ports::parse_expose(raw)? {
                    publish.push(ports::PortRequest {
                        host_ip: None,
                        host_ports: None,
                        container_port,
                        proto,
                    });
                }
            }
        }
        Ok(publish)
    }

    /// The library's request for a container on bridge network `network`,
    /// every flag checked with docker's words.
    pub fn attach(
        &self,
        id: String,
        name: String,
        hostname: String,
        network: String,
    ) -> anyhow::Result<Attach> {
        let mac = match &self.mac_address {
            Some(text) => Some(ipam::parse_mac(text).with_context(|| {
                format!("invalid argument {text:?} for \"--mac-address\" flag: invalid MAC address")
            })?),
            None => None,
        };
        let mut add_hosts = Vec::new();
        for entry in &self.add_host {
            let bad = || {
                anyhow::anyhow!(
                    "invalid argument {entry:?} for \"--add-host\" flag: bad format for add-host: {entry:?}"
                )
            };
            let (host, ip) = entry.split_once([':', '=']).ok_or_else(bad)?;
            let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
            if host.is_empty() {
                bail!(bad());
            }
            add_hosts.push((host.to_string(), ip));
        }
        let links = self
            .link
            .iter()
            .map(|l| match l.split_once(':') {
                Some((name, alias)) => (name.to_string(), alias.to_string()),
                None => (l.clone(), l.clone()),
            })
            .collect();
        Ok(Attach {
            id,
            name,
            hostname,
            network,
            ip: self.ip,
            mac,
            aliases: self.network_alias.clone(),
            publish: self.port_requests()?,
            links,
            add_hosts,
            dns: self.dns.clone(),
        })
    }
}
