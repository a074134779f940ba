//! NAT and published ports with Debian's `iptables`.
//!
//! The rules follow docker's, in dockyard's own chains so that they can be
//! listed (`iptables-save | grep DOCKYARD`) and removed without touching
//! anyone else's:
//!
//! | table  | chain                  | jumped to from                 | holds                                   |
//! |--------|------------------------|--------------------------------|-----------------------------------------|
//! | nat    | `DOCKYARD`             | PREROUTING, OUTPUT (to a local address) | DNAT per published port        |
//! | nat    | `DOCKYARD-POSTROUTING` | POSTROUTING                    | MASQUERADE per network                  |
//! | filter | `DOCKYARD-ISOLATION-1` | FORWARD (first)                | per network: leaving for another bridge -> stage 2 |
//! | filter | `DOCKYARD-ISOLATION-2` | `DOCKYARD-ISOLATION-1`         | per network: drop what would go out of it |
//! | filter | `DOCKYARD-FORWARD`     | FORWARD                        | accept per network                      |
//! | filter | `DOCKYARD`             | `DOCKYARD-FORWARD` (per network) | accept per published port             |
//! | filter | `DOCKYARD-INPUT`       | INPUT                          | the loopback guard per network (below)  |
//!
//! **Networks are isolated from each other**, as docker's
//! `DOCKER-ISOLATION-STAGE-1/2` chains do it: a packet that enters from one
//! dockyard bridge and would leave by any other interface goes to stage 2, where
//! each network's rule drops it if that other interface is the network's own
//! bridge. Two rules per network, however many networks there are, and traffic
//! to the outside (leaving by the host's uplink) passes. Stage 1 is jumped to
//! first, before any network's accept rule.
//!
//! Masquerade (iptables-extensions(8), `MASQUERADE`) rewrites the source of a
//! container's packets leaving by another interface to that interface's
//! address, so replies from outside come back to the host, which undoes the
//! rewrite (conntrack) and forwards them in. That needs IP forwarding, which
//! is turned on once and left on, as docker does.
//!
//! **Published ports reachable on 127.0.0.1**: docker runs a userland proxy
//! (`docker-proxy`, a process per port) or, without it, sets `route_localnet`
//! and rewrites loopback traffic in the kernel. dockyard does the latter:
//! no process per port to start, supervise and lose in a crash (teardown stays
//! "delete the rules the state lists"), packets are forwarded by the kernel at
//! full speed, and the container sees the real client address for traffic from
//! other hosts. Three pieces: a DNAT rule in `OUTPUT` as well as `PREROUTING`
//! (locally made packets skip `PREROUTING`); `net.ipv4.conf.BRIDGE.route_localnet=1`,
//! without which the kernel drops a packet with a 127.0.0.0/8 source as a
//! martian once DNAT sends it out of the bridge; and MASQUERADE of packets
//! with a local source out of the bridge, so the container answers to the
//! bridge's address rather than to its own loopback. Because route_localnet
//! would also let a container send to the host's loopback services through the
//! bridge, `DOCKYARD-INPUT` drops new connections from the bridge to 127.0.0.0/8
//! (the guard Kubernetes added for CVE-2020-8558).
//!
//! Rules are added only if `iptables -C` does not find them and deleted only if
//! it does, so every operation can run twice. Every container start makes sure
//! its network's rules are there (a reboot or `iptables -F` may have removed
//! them); one `iptables -S` per table answers that in the common case, where
//! they all are, instead of an `iptables -C` per rule, so the rules are written
//! here the way `iptables -S` prints them. A host-wide lock serializes
//! dockyard's firewall changes across processes (parallel runs share chains):
//! `iptables -w` only serializes single commands, not "check, then add".

use std::fs::{File, OpenOptions};
use std::net::Ipv4Addr;
use std::process::Command;

use ch01_chroot::explain;
use ch01_chroot::explain::shell_words;
use nix::fcntl::{Flock, FlockArg};

use crate::store::PortBinding;
use crate::subnet::Subnet;

/// Why a firewall change failed.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// `iptables` could not be run at all.
    #[error("run {command}: {source} (is iptables installed? `apt-get install iptables`)")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    /// `iptables` ran and refused.
    #[error("{command}: {stderr}")]
    Failed { command: String, stderr: String },
    /// A sysctl could not be written.
    #[error("write {path}: {source}")]
    Sysctl {
        path: String,
        source: std::io::Error,
    },
    /// The host-wide firewall lock could not be taken.
    #[error("lock {LOCK}: {0}")]
    Lock(std::io::Error),
}

type Result<T> = std::result::Result<T, FirewallError>;

/// The host-wide lock for dockyard's firewall changes.
const LOCK: &str = "/run/dockyard-firewall.lock";

/// Where a chain is jumped to from: the source chain, and the matches before `-j`.
type Jump = (&'static str, &'static [&'static str]);

// ANCHOR: chains
/// Each of dockyard's chains, its table, and the rule that jumps to it from
/// another chain (`None`: only a network's own rules jump to it). A missing
/// jump is inserted at the top of its chain, as docker inserts its own, so
/// the later of two jumps from one chain comes first: `DOCKYARD-ISOLATION-1`
/// before `DOCKYARD-FORWARD` in FORWARD, whatever rules were there before.
const CHAINS: [(&str, &str, Option<Jump>); 8] = [
    (
        "nat",
        "DOCKYARD",
        Some(("PREROUTING", &["-m", "addrtype", "--dst-type", "LOCAL"])),
    ),
    (
        "nat",
        "DOCKYARD",
        Some(("OUTPUT", &["-m", "addrtype", "--dst-type", "LOCAL"])),
    ),
    ("nat", "DOCKYARD-POSTROUTING", Some(("POSTROUTING", &[]))),
    ("filter", "DOCKYARD-FORWARD", Some(("FORWARD", &[]))),
    ("filter", "DOCKYARD-ISOLATION-1", Some(("FORWARD", &[]))),
    ("filter", "DOCKYARD-ISOLATION-2", None),
    ("filter", "DOCKYARD", None),
    ("filter", "DOCKYARD-INPUT", Some(("INPUT", &[]))),
];
// ANCHOR_END: chains

/// dockyard's firewall, changed while the host-wide lock is held.
#[derive(Debug)]
pub struct Firewall {
    _lock: Flock<File>,
}

impl Firewall {
    /// Takes the host-wide lock; it is released when the value drops.
    pub fn lock() -> Result<Firewall> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(LOCK)
            .map_err(FirewallError::Lock)?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| FirewallError::Lock(errno.into()))?;
        Ok(Firewall { _lock: lock })
    }

    /// NAT for a network: forwarding on, the chains and their jumps made if
    /// missing, then the network's masquerade, accept and loopback-guard rules.
    pub fn add_network(&self, bridge: &str, subnet: Subnet) -> Result<()> {
        sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
        sysctl(
            &format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet"),
            "1",
        )?;
        if Listing::read().is_some_and(|listing| listing.has_network(bridge, subnet)) {
            explain!("the firewall has {bridge}'s chains and rules already: keep them");
            return Ok(());
        }
        let mut changed = false;
        for (table, chain, jump_from) in CHAINS {
            if iptables(&["-t", table, "-n", "-L", chain]).is_err() {
                run(&["-t", table, "-N", chain])?;
                changed = true;
            }
            if let Some((from, matches)) = jump_from {
                changed |= ensure_first(table, from, &jump(matches, chain))?;
            }
        }
        for (table, chain, rule) in network_rules(bridge, subnet) {
            changed |= ensure(table, chain, &words(&rule))?;
        }
        if !changed {
            explain!("the firewall has {bridge}'s chains and rules already: keep them");
        }
        Ok(())
    }

    /// Removes a network's rules; with the last network gone, the chains too.
    pub fn remove_network(&self, bridge: &str, subnet: Subnet) -> Result<()> {
        for (table, chain, rule) in network_rules(bridge, subnet) {
            remove(table, chain, &words(&rule))?;
        }
        self.remove_chains_if_unused()
    }

    /// Publishes a port: DNAT from the host port to the container's, and the
    /// accept rule that lets the rewritten packets be forwarded to it.
    pub fn publish(&self, bridge: &str, ip: Ipv4Addr, port: &PortBinding) -> Result<()> {
        for (table, chain, rule) in port_rules(bridge, ip, port) {
            ensure(table, chain, &words(&rule))?;
        }
        Ok(())
    }

    /// Removes what [`Firewall::publish`] added (if it is there).
    pub fn unpublish(&self, bridge: &str, ip: Ipv4Addr, port: &PortBinding) -> Result<()> {
        for (table, chain, rule) in port_rules(bridge, ip, port) {
            remove(table, chain, &words(&rule))?;
        }
        Ok(())
    }

    /// Deletes dockyard's chains and the jumps to them if no rule is left in
    /// any of them: another network (of this or another state directory) may
    /// still use them.
    pub fn remove_chains_if_unused(&self) -> Result<()> {
        let in_use = CHAINS.iter().any(|(table, chain, _)| {
            iptables(&["-t", table, "-S", chain]).is_ok_and(|listing| {
                listing
                    .lines()
                    .any(|l| l.starts_with("-A ") && !l.contains("-j DOCKYARD"))
            })
        });
        if in_use {
            return Ok(());
        }
        for (table, chain, jump_from) in CHAINS {
            if let Some((from, matches)) = jump_from {
                remove(table, from, &jump(matches, chain))?;
            }
        }
        // Empty them all first: a chain can only be deleted once no rule jumps to it.
        for (table, chain, _) in CHAINS {
            if iptables(&["-t", table, "-n", "-L", chain]).is_ok() {
                run(&["-t", table, "-F", chain])?;
            }
        }
        for (table, chain, _) in CHAINS {
            if iptables(&["-t", table, "-n", "-L", chain]).is_ok() {
                run(&["-t", table, "-X", chain])?;
            }
        }
        Ok(())
    }
}

/// The rule that jumps from a chain to `chain`, with `matches` before the jump.
fn jump<'a>(matches: &[&'a str], chain: &'a str) -> Vec<&'a str> {
    let mut rule = matches.to_vec();
    rule.extend(["-j", chain]);
    rule
}

// ANCHOR: network_rules
/// A network's rules, as (table, chain, rule).
fn network_rules(bridge: &str, subnet: Subnet) -> Vec<(&'static str, &'static str, String)> {
    vec![
        // Leaving this network for another interface: stage 2 decides.
        (
            "filter",
            "DOCKYARD-ISOLATION-1",
            format!("-i {bridge} ! -o {bridge} -j DOCKYARD-ISOLATION-2"),
        ),
        // Arriving at this network from another one: dropped.
        (
            "filter",
            "DOCKYARD-ISOLATION-2",
            format!("-o {bridge} -j DROP"),
        ),
        // Containers reaching out: their source becomes the host's.
        (
            "nat",
            "DOCKYARD-POSTROUTING",
            format!("-s {subnet} ! -o {bridge} -j MASQUERADE"),
        ),
        // The host reaching a published port on 127.0.0.1: answer to the bridge's address.
        (
            "nat",
            "DOCKYARD-POSTROUTING",
            format!("-o {bridge} -m addrtype --src-type LOCAL -j MASQUERADE"),
        ),
        (
            "filter",
            "DOCKYARD-FORWARD",
            format!("-o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
        ),
        (
            "filter",
            "DOCKYARD-FORWARD",
            format!("-o {bridge} -j DOCKYARD"),
        ),
        (
            "filter",
            "DOCKYARD-FORWARD",
            format!("-i {bridge} -j ACCEPT"),
        ),
        (
            "filter",
            "DOCKYARD-INPUT",
            format!(
                "-d 127.0.0.0/8 -i {bridge} -m conntrack ! --ctstate RELATED,ESTABLISHED -j DROP"
            ),
        ),
    ]
}
// ANCHOR_END: network_rules

// ANCHOR: port_rules
/// A published port's rules, as (table, chain, rule).
fn port_rules(
    bridge: &str,
    ip: Ipv4Addr,
    port: &PortBinding,
) -> Vec<(&'static str, &'static str, String)> {
    let proto = port.proto.name();
    let dest = match port.host_ip.is_unspecified() {
        true => String::new(),
        false => format!("-d {}/32 ", port.host_ip),
    };
    vec![
        (
            "nat",
            "DOCKYARD",
            format!(
                "{dest}! -i {bridge} -p {proto} -m {proto} --dport {} -j DNAT --to-destination {ip}:{}",
                port.host_port, port.container_port
            ),
        ),
        (
            "filter",
            "DOCKYARD",
            format!(
                "-d {ip}/32 ! -i {bridge} -o {bridge} -p {proto} -m {proto} --dport {} -j ACCEPT",
                port.container_port
            ),
        ),
    ]
}
// ANCHOR_END: port_rules

/// The nat and filter tables as `iptables -S` lists them (a `-N CHAIN` line
/// per chain, an `-A CHAIN RULE` line per rule, in iptables' own spelling):
/// the fast way to see that nothing is missing.
struct Listing {
    nat: String,
    filter: String,
}

impl Listing {
    /// Lists both tables; `None` if either listing fails.
    fn read() -> Option<Listing> {
        Some(Listing {
            nat: iptables(&["-t", "nat", "-S"]).ok()?,
            filter: iptables(&["-t", "filter", "-S"]).ok()?,
        })
    }

    /// Whether every chain, jump and rule of a network is listed. A rule
    /// written in another spelling than iptables' is not found here and is
    /// checked with `iptables -C` instead, so this can only be slow, never wrong.
    fn has_network(&self, bridge: &str, subnet: Subnet) -> bool {
        let chains = CHAINS.iter().all(|(table, chain, jump_from)| {
            self.has_line(table, &format!("-N {chain}"))
                && jump_from.is_none_or(|(from, matches)| {
                    self.has_rule(table, from, &jump(matches, chain).join(" "))
                })
        });
        chains
            && network_rules(bridge, subnet)
                .iter()
                .all(|(table, chain, rule)| self.has_rule(table, chain, rule))
    }

    fn has_rule(&self, table: &str, chain: &str, rule: &str) -> bool {
        self.has_line(table, &format!("-A {chain} {rule}"))
    }

    fn has_line(&self, table: &str, line: &str) -> bool {
        let listing = match table {
            "nat" => &self.nat,
            _ => &self.filter,
        };
        listing.lines().any(|l| l == line)
    }
}

fn words(rule: &str) -> Vec<&str> {
    rule.split_whitespace().collect()
}

// ANCHOR: ensure
/// Appends `rule` to `chain` unless `iptables -C` finds it there; true if it did.
fn ensure(table: &str, chain: &str, rule: &[&str]) -> Result<bool> {
    if present(table, chain, rule) {
        return Ok(false);
    }
    run(&[&["-t", table, "-A", chain], rule].concat()).map(|()| true)
}
// ANCHOR_END: ensure

/// Inserts `rule` at the top of `chain` unless `iptables -C` finds it there; true if it did.
fn ensure_first(table: &str, chain: &str, rule: &[&str]) -> Result<bool> {
    if present(table, chain, rule) {
        return Ok(false);
    }
    run(&[&["-t", table, "-I", chain, "1"], rule].concat()).map(|()| true)
}

/// Deletes `rule` from `chain` as long as `iptables -C` finds it.
fn remove(table: &str, chain: &str, rule: &[&str]) -> Result<()> {
    while present(table, chain, rule) {
        run(&[&["-t", table, "-D", chain], rule].concat())?;
    }
    Ok(())
}

/// Whether `iptables -C` finds `rule` in `chain`.
fn present(table: &str, chain: &str, rule: &[&str]) -> bool {
    iptables(&[&["-t", table, "-C", chain], rule].concat()).is_ok()
}

/// Runs a changing iptables command, narrated with `--explain`.
fn run(args: &[&str]) -> Result<()> {
    explain!("change the firewall"; "iptables {}", shell_words(args));
    iptables(args).map(drop)
}

/// Runs `iptables -w ARGS` (waiting for the xtables lock) and returns its stdout.
fn iptables(args: &[&str]) -> Result<String> {
    let command = format!("iptables {}", shell_words(args));
    let output = Command::new("iptables")
        .arg("-w")
        .args(args)
        .output()
        .map_err(|source| FirewallError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(FirewallError::Failed {
            command,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Writes a sysctl through /proc/sys (sysctl(8) does the same), narrated.
fn sysctl(path: &str, value: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    let name = path.trim_start_matches("/proc/sys/").replace('/', ".");
    explain!("set {name} = {value}"; "sysctl -w {name}={value}");
    std::fs::write(path, value).map_err(|source| FirewallError::Sysctl {
        path: path.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::Netlink;
    use crate::ports::Proto;

    /// The fast path of [`Firewall::add_network`] only works if each rule is
    /// written as `iptables -S` prints it: check that against the real tool.
    #[test]
    fn a_networks_rules_are_listed_as_iptables_spells_them() {
        testkit::require_root!();
        let bridge = format!("dyfw{}", std::process::id() % 100_000);
        let subnet: Subnet = "10.200.99.0/24".parse().unwrap();
        let mut nl = Netlink::open().unwrap();
        nl.add_bridge(&bridge).unwrap();
        let firewall = Firewall::lock().unwrap();
        let added = firewall.add_network(&bridge, subnet);
        let listed = Listing::read().unwrap().has_network(&bridge, subnet);
        firewall.remove_network(&bridge, subnet).unwrap();
        nl.delete_link(&bridge).unwrap();
        added.unwrap();
        assert!(
            listed,
            "a rule of {bridge} is not spelled as iptables -S lists it"
        );
        assert!(!Listing::read().unwrap().has_network(&bridge, subnet));
    }

    #[test]
    fn port_rules_read_like_dockers() {
        let port = PortBinding {
            host_ip: "127.0.0.1".parse().unwrap(),
            host_port: 8080,
            container_port: 80,
            proto: Proto::Tcp,
        };
        let rules = port_rules("dy0", "172.17.0.2".parse().unwrap(), &port);
        assert_eq!(
            rules[0].2,
            "-d 127.0.0.1/32 ! -i dy0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80"
        );
        assert_eq!(
            rules[1].2,
            "-d 172.17.0.2/32 ! -i dy0 -o dy0 -p tcp -m tcp --dport 80 -j ACCEPT"
        );
        let any = PortBinding {
            host_ip: Ipv4Addr::UNSPECIFIED,
            ..port
        };
        assert!(
            port_rules("dy0", "172.17.0.2".parse().unwrap(), &any)[0]
                .2
                .starts_with("! -i dy0")
        );
    }
}
