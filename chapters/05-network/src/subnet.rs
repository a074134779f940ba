//! IPv4 subnets in CIDR form (`172.17.0.0/16`): what a network is cut from.
//!
//! Small enough to write here rather than pull in a crate: a network address,
//! a prefix length, and the arithmetic on `u32` that IPAM and the firewall need.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Why a subnet could not be parsed; worded as docker words it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubnetError {
    /// Not `A.B.C.D/N` with N in 0..=32.
    #[error("invalid CIDR address: {0}")]
    Invalid(String),
    /// Host bits are set: docker refuses `10.1.2.3/24` and says which one was meant.
    #[error("invalid subnet {given}: it should be {meant}")]
    HostBits { given: String, meant: String },
}

/// An IPv4 subnet: its network address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subnet {
    network: Ipv4Addr,
    prefix: u8,
}

impl Subnet {
    /// The subnet `network/prefix`; host bits of `network` are cleared.
    pub fn new(network: Ipv4Addr, prefix: u8) -> Subnet {
        let prefix = prefix.min(32);
        let network = Ipv4Addr::from(u32::from(network) & mask(prefix));
        Subnet { network, prefix }
    }

    /// The network address (all host bits zero).
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length, as in `/16`.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The broadcast address (all host bits one).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !mask(self.prefix))
    }

    /// Whether `ip` is inside the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.network)
    }

    /// Whether the two subnets share any address (one then contains the other).
    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.contains(other.network) || other.contains(self.network)
    }

    /// Whether all of `other` lies inside this subnet.
    pub fn covers(&self, other: &Subnet) -> bool {
        other.prefix >= self.prefix && self.contains(other.network)
    }

    // ANCHOR: hosts
    /// The addresses a host may use: all but the network and broadcast
    /// addresses (a /31 or /32 has no such reserved pair, RFC 3021).
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> + use<> {
        let (first, last) = (u32::from(self.network), u32::from(self.broadcast()));
        let (first, last) = if self.prefix >= 31 {
            (first, last)
        } else {
            (first + 1, last - 1)
        };
        (first..=last).map(Ipv4Addr::from)
    }
    // ANCHOR_END: hosts

    /// The first host address: docker's default gateway (`172.17.0.1`).
    pub fn first_host(&self) -> Ipv4Addr {
        self.hosts().next().unwrap_or(self.network)
    }
}

/// The netmask of a prefix length as a `u32` (`/24` -> `0xffffff00`).
fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

impl FromStr for Subnet {
    type Err = SubnetError;

    fn from_str(text: &str) -> Result<Subnet, SubnetError> {
        let invalid = || SubnetError::Invalid(text.to_string());
        let (ip, prefix) = text.split_once('/').ok_or_else(invalid)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(invalid)?;
        let subnet = Subnet::new(ip, prefix);
        if subnet.network != ip {
            return Err(SubnetError::HostBits {
                given: text.to_string(),
                meant: subnet.to_string(),
            });
        }
        Ok(subnet)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl serde::Serialize for Subnet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Subnet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Subnet, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_like_docker() {
        let s: Subnet = "172.17.0.0/16".parse().unwrap();
        assert_eq!(s.broadcast(), Ipv4Addr::new(172, 17, 255, 255));
        assert_eq!(s.first_host(), Ipv4Addr::new(172, 17, 0, 1));
        assert!(s.contains(Ipv4Addr::new(172, 17, 3, 4)));
        assert!(!s.contains(Ipv4Addr::new(172, 18, 0, 1)));
        assert_eq!(
            "10.1.2.3/24".parse::<Subnet>().unwrap_err().to_string(),
            "invalid subnet 10.1.2.3/24: it should be 10.1.2.0/24"
        );
        for bad in ["10.0.0.0", "10.0.0.0/33", "x/8", "10.0.0/8"] {
            assert_eq!(
                bad.parse::<Subnet>().unwrap_err(),
                SubnetError::Invalid(bad.into())
            );
        }
    }

    #[test]
    fn overlaps_and_covers() {
        let big: Subnet = "10.0.0.0/8".parse().unwrap();
        let small: Subnet = "10.200.1.0/24".parse().unwrap();
        let other: Subnet = "10.200.2.0/24".parse().unwrap();
        assert!(big.overlaps(&small) && small.overlaps(&big));
        assert!(!small.overlaps(&other));
        assert!(big.covers(&small) && !small.covers(&big));
        assert_eq!(small.hosts().count(), 254);
        assert_eq!("10.0.0.0/32".parse::<Subnet>().unwrap().hosts().count(), 1);
    }
}
