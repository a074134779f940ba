//! IPAM (IP address management): which address a container gets.
//!
//! A network's pool is its subnet, optionally narrowed by `--ip-range`, less
//! the gateway. [`Pool::allocate`] takes the lowest address nobody holds (or
//! the one `--ip` asks for), so the same run gets the same address and
//! snapshots stay stable. What is held is not kept here: the caller passes the
//! addresses of the network's endpoints, read from the persisted state under a
//! lock (see [`crate::store`]), so an address is never handed out twice and is
//! free again as soon as its endpoint's record goes.

use std::net::Ipv4Addr;

use crate::subnet::Subnet;

/// Why a pool could not be made or an address not handed out; docker's words.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IpamError {
    /// `--gateway` outside `--subnet`.
    #[error("no matching subnet for gateway {0}")]
    GatewayOutside(Ipv4Addr),
    /// `--ip-range` not inside `--subnet`.
    #[error("no matching subnet for range {0}")]
    RangeOutside(Subnet),
    /// `--ip` outside the network's subnet.
    #[error("invalid address {0}: it does not belong to any of this network's subnets")]
    NotInSubnet(Ipv4Addr),
    /// `--ip` held by another container, or the gateway's.
    #[error("address {0} already in use")]
    InUse(Ipv4Addr),
    /// Every address of the pool is held.
    #[error("no available IPv4 addresses in {0}")]
    Exhausted(Subnet),
}

/// Where a network's container addresses come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// The network's subnet: the bridge's address and every container's are in it.
    pub subnet: Subnet,
    /// The part of the subnet handed out automatically (`--ip-range`).
    pub range: Subnet,
    /// The bridge's own address, every container's default route.
    pub gateway: Ipv4Addr,
}

impl Pool {
    /// A pool for `subnet`, checking `--gateway` (default: the first host
    /// address, as docker's 172.17.0.1) and `--ip-range` (default: all of it).
    pub fn new(
        subnet: Subnet,
        gateway: Option<Ipv4Addr>,
        range: Option<Subnet>,
    ) -> Result<Pool, IpamError> {
        let gateway = gateway.unwrap_or_else(|| subnet.first_host());
        if !subnet.contains(gateway) {
            return Err(IpamError::GatewayOutside(gateway));
        }
        let range = range.unwrap_or(subnet);
        if !subnet.covers(&range) {
            return Err(IpamError::RangeOutside(range));
        }
        Ok(Pool {
            subnet,
            range,
            gateway,
        })
    }

    // ANCHOR: allocate
    /// An address for a new endpoint: `wanted` if it is free and in the subnet
    /// (docker lets `--ip` lie outside `--ip-range`), else the lowest free address
    /// of the range. `held` are the addresses the network's endpoints hold.
    pub fn allocate(
        &self,
        held: &[Ipv4Addr],
        wanted: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr, IpamError> {
        // LAB: return `wanted` if it is in self.subnet, is not the subnet's network or broadcast address (those two are reserved only when the prefix is below 31), and is neither self.gateway nor in `held` (errors: IpamError::NotInSubnet, then IpamError::InUse); without `wanted`, return the lowest address of self.range (network() to broadcast(), as u32) that is not reserved, not the gateway and not held, or IpamError::Exhausted(self.range)
        // The network and broadcast addresses are no host's (a /31 or /32 has neither).
        let reserved = |ip: Ipv4Addr| {
            self.subnet.prefix() < 31
                && (ip == self.subnet.network() || ip == self.subnet.broadcast())
        };
        let taken = |ip: Ipv4Addr| ip == self.gateway || held.contains(&ip);
        if let Some(ip) = wanted {
            if !self.subnet.contains(ip) || reserved(ip) {
                return Err(IpamError::NotInSubnet(ip));
            }
            if taken(ip) {
                return Err(IpamError::InUse(ip));
            }
            return Ok(ip);
        }
        let (first, last) = (self.range.network(), self.range.broadcast());
        (u32::from(first)..=u32::from(last))
            .map(Ipv4Addr::from)
            .find(|&ip| !reserved(ip) && !taken(ip))
            .ok_or(IpamError::Exhausted(self.range))
        // LAB: END
    }
    // ANCHOR_END: allocate
}

// ANCHOR: mac_for
/// The MAC address docker derives from an IPv4 address: `02:42` (a locally
/// administered, unicast prefix) then the four bytes of the address, so
/// 172.17.0.2 is `02:42:ac:11:00:02`, unique wherever the address is.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    // LAB: the six bytes 0x02, 0x42, then the address's four octets (Ipv4Addr::octets) in order
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
    // LAB: END
}
// ANCHOR_END: mac_for

/// `02:42:ac:11:00:02`, as `ip link` shows a MAC.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `--mac-address`: six hex pairs separated by `:` or `-`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = text
        .split([':', '-'])
        .map(|p| {
            (p.len() == 2)
                .then(|| u8::from_str_radix(p, 16).ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn hands_out_the_lowest_free_address_never_twice() {
        let pool = Pool::new("10.200.1.0/24".parse().unwrap(), None, None).unwrap();
        assert_eq!(pool.gateway, ip("10.200.1.1"));
        let mut held = Vec::new();
        for want in ["10.200.1.2", "10.200.1.3", "10.200.1.4"] {
            let got = pool.allocate(&held, None).unwrap();
            assert_eq!(got, ip(want));
            held.push(got);
        }
        // Released: the address is free again.
        held.retain(|a| *a != ip("10.200.1.3"));
        assert_eq!(pool.allocate(&held, None).unwrap(), ip("10.200.1.3"));
    }

    #[test]
    fn an_exhausted_pool_says_so() {
        let pool = Pool::new("10.200.2.0/30".parse().unwrap(), None, None).unwrap();
        let first = pool.allocate(&[], None).unwrap();
        assert_eq!(first, ip("10.200.2.2"));
        assert_eq!(
            pool.allocate(&[first], None).unwrap_err().to_string(),
            "no available IPv4 addresses in 10.200.2.0/30"
        );
    }

    #[test]
    fn ip_range_gateway_and_wanted_addresses() {
        let subnet = "10.200.3.0/24".parse().unwrap();
        let pool = Pool::new(
            subnet,
            Some(ip("10.200.3.254")),
            Some("10.200.3.128/25".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(pool.allocate(&[], None).unwrap(), ip("10.200.3.128"));
        assert_eq!(
            pool.allocate(&[], Some(ip("10.200.3.9"))).unwrap(),
            ip("10.200.3.9")
        );
        assert_eq!(
            pool.allocate(&[ip("10.200.3.9")], Some(ip("10.200.3.9"))),
            Err(IpamError::InUse(ip("10.200.3.9")))
        );
        assert_eq!(
            pool.allocate(&[], Some(ip("10.200.3.254"))),
            Err(IpamError::InUse(ip("10.200.3.254")))
        );
        assert_eq!(
            pool.allocate(&[], Some(ip("10.9.9.9"))),
            Err(IpamError::NotInSubnet(ip("10.9.9.9")))
        );
        assert_eq!(
            Pool::new(subnet, Some(ip("10.9.0.1")), None),
            Err(IpamError::GatewayOutside(ip("10.9.0.1")))
        );
        let outside = "10.9.0.0/24".parse().unwrap();
        assert_eq!(
            Pool::new(subnet, None, Some(outside)),
            Err(IpamError::RangeOutside(outside))
        );
    }

    #[test]
    fn macs_are_derived_from_the_address_as_docker_does() {
        assert_eq!(format_mac(mac_for(ip("172.17.0.2"))), "02:42:ac:11:00:02");
        assert_eq!(
            parse_mac("02:42:AC:11:00:02"),
            Some(mac_for(ip("172.17.0.2")))
        );
        assert_eq!(
            parse_mac("02-42-ac-11-00-02"),
            Some(mac_for(ip("172.17.0.2")))
        );
        assert_eq!(parse_mac("02:42:ac:11:00"), None);
        assert_eq!(parse_mac("zz:42:ac:11:00:02"), None);
    }
}
