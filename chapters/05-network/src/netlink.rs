//! A small synchronous rtnetlink client: links, addresses, routes.
//!
//! `ip link add`, `ip addr add` and `ip route add` are front ends to one kernel
//! interface, rtnetlink (rtnetlink(7)): a socket of family `AF_NETLINK` on
//! which a process sends requests (`RTM_NEWLINK`, `RTM_NEWADDR`, ...) and reads
//! back an acknowledgement or an error number (netlink(7)). Speaking it
//! directly rather than running `ip` means no dependency on iproute2 being
//! installed (an image-less host, or a minimal one), no parsing of its
//! output, real errno values instead of English text (so "already exists" and
//! "no such device" can be told apart and made idempotent), and one socket
//! instead of a process per step, which matters when 50 containers start in a
//! row. `--explain` still prints the `ip` command each request is equal to.
//!
//! The messages come from `netlink-packet-route` and the socket from
//! `netlink-sys`, both without their async runtimes: each request is one
//! `send(2)` and a `recv(2)` loop until its acknowledgement, which is all a
//! container engine needs. A netlink socket talks to the network namespace it
//! was opened in; [`in_netns`] opens one inside a container's namespace.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd};

use ch01_chroot::explain;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use nix::errno::Errno;

/// Why a netlink request failed: what was asked, and the kernel's errno.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The socket could not be opened or used.
    #[error("netlink socket: {0}")]
    Socket(std::io::Error),
    /// The kernel refused a request (`ip` would print the same errno).
    #[error("{what}: {errno}")]
    Refused { what: String, errno: Errno },
    /// The kernel's answer could not be decoded.
    #[error("{what}: cannot decode the kernel's answer: {reason}")]
    Decode { what: String, reason: String },
    /// Entering a network namespace failed.
    #[error("enter network namespace {path}: {errno}")]
    Netns { path: String, errno: Errno },
}

/// One rtnetlink socket, bound to the network namespace it was opened in.
#[derive(Debug)]
pub struct Netlink {
    socket: Socket,
    sequence: u32,
}

type Result<T> = std::result::Result<T, NetlinkError>;

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(NetlinkError::Socket)?;
        socket.bind_auto().map_err(NetlinkError::Socket)?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(NetlinkError::Socket)?;
        Ok(Netlink {
            socket,
            sequence: 0,
        })
    }

    // ANCHOR: request
    /// Sends one request and reads until its acknowledgement; returns the
    /// messages the kernel sent before it (a `GET` request's answer).
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
        what: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.sequence += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut bytes = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut bytes);
        self.socket.send(&bytes, 0).map_err(NetlinkError::Socket)?;

        let decode = |reason: String| NetlinkError::Decode {
            what: what.to_string(),
            reason,
        };
        let mut answer = Vec::new();
        loop {
            let (datagram, _) = self.socket.recv_from_full().map_err(NetlinkError::Socket)?;
            let mut offset = 0;
            while offset < datagram.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&datagram[offset..])
                    .map_err(|e| decode(e.to_string()))?;
                let length = reply.header.length as usize;
                if length == 0 {
                    return Err(decode("zero-length message".into()));
                }
                // netlink(7): messages are aligned to 4 bytes.
                offset += (length + 3) & !3;
                if reply.header.sequence_number != self.sequence {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(err) => {
                        return match err.code {
                            None => Ok(answer),
                            Some(code) => Err(NetlinkError::Refused {
                                what: what.to_string(),
                                errno: Errno::from_raw(-code.get()),
                            }),
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(answer),
                    NetlinkPayload::InnerMessage(inner) => answer.push(inner),
                    _ => {}
                }
            }
        }
    }
    // ANCHOR_END: request

    /// The index of the link named `name`, or `None` if there is none.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        match self.link(name) {
            Ok(link) => Ok(Some(link.header.index)),
            Err(NetlinkError::Refused {
                errno: Errno::ENODEV,
                ..
            }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The index of `name`, which must exist.
    fn index_of(&mut self, name: &str) -> Result<u32> {
        self.link_index(name)?.ok_or_else(|| NetlinkError::Refused {
            what: format!("find link {name}"),
            errno: Errno::ENODEV,
        })
    }

    /// Creates a bridge: a virtual switch the containers' veth ends plug into.
    /// Returns false if a link of that name already exists.
    pub fn add_bridge(&mut self, name: &str) -> Result<bool> {
        if self.link_index(name)?.is_some() {
            explain!("bridge {name} exists: reuse it");
            return Ok(false);
        }
        explain!("create the bridge {name}: a switch for the containers"; "ip link add {name} type bridge");
        let mut message = LinkMessage::default();
        message.attributes.push(LinkAttribute::IfName(name.into()));
        message
            .attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.create(message, &format!("create bridge {name}"))
    }

    // ANCHOR: add_veth
    /// Creates a veth pair (veth(4)): `host` stays here, `peer` is created
    /// directly inside the network namespace `netns`, so it never exists
    /// under its name (`eth0`) on the host, where that name may be taken.
    pub fn add_veth(&mut self, host: &str, peer: &str, netns: &File, pid: u32) -> Result<bool> {
        explain!("create a veth pair, one end in the container's namespace"; "ip link add {host} type veth peer name {peer} netns {pid}");
        let mut peer_message = LinkMessage::default();
        peer_message
            .attributes
            .push(LinkAttribute::IfName(peer.into()));
        peer_message
            .attributes
            .push(LinkAttribute::NetNsFd(netns.as_fd().as_raw_fd()));
        let mut message = LinkMessage::default();
        message.attributes.push(LinkAttribute::IfName(host.into()));
        message.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_message))),
        ]));
        self.create(message, &format!("create veth pair {host}/{peer}"))
    }
    // ANCHOR_END: add_veth

    /// `RTM_NEWLINK` with `NLM_F_EXCL`: false when the name exists already.
    fn create(&mut self, message: LinkMessage, what: &str) -> Result<bool> {
        match self.request(
            RouteNetlinkMessage::NewLink(message),
            NLM_F_CREATE | NLM_F_EXCL,
            what,
        ) {
            Ok(_) => Ok(true),
            Err(NetlinkError::Refused {
                errno: Errno::EEXIST,
                ..
            }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Deletes a link (a veth's peer goes with it). Returns false if there was
    /// none, so teardown can run twice.
    pub fn delete_link(&mut self, name: &str) -> Result<bool> {
        let Some(index) = self.link_index(name)? else {
            return Ok(false);
        };
        explain!("delete the link {name}"; "ip link del {name}");
        let mut message = LinkMessage::default();
        message.header.index = index;
        match self.request(
            RouteNetlinkMessage::DelLink(message),
            0,
            &format!("delete link {name}"),
        ) {
            Ok(_) => Ok(true),
            Err(NetlinkError::Refused {
                errno: Errno::ENODEV,
                ..
            }) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The kernel's description of the link `name` (index, flags, attributes).
    fn link(&mut self, name: &str) -> Result<LinkMessage> {
        let mut message = LinkMessage::default();
        message.attributes.push(LinkAttribute::IfName(name.into()));
        let what = format!("find link {name}");
        let answer = self.request(RouteNetlinkMessage::GetLink(message), 0, &what)?;
        answer
            .into_iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(link),
                _ => None,
            })
            .ok_or(NetlinkError::Refused {
                what,
                errno: Errno::ENODEV,
            })
    }

    /// Changes a link: `ip link set NAME ...`.
    fn set_link(&mut self, name: &str, change: impl FnOnce(&mut LinkMessage)) -> Result<()> {
        let mut message = LinkMessage::default();
        message.header.index = self.index_of(name)?;
        change(&mut message);
        self.request(
            RouteNetlinkMessage::SetLink(message),
            0,
            &format!("change link {name}"),
        )
        .map(drop)
    }

    /// Brings a link up (`IFF_UP`, ip-link(8)).
    /// A link that is up already is left as it is (and said so).
    pub fn set_up(&mut self, name: &str) -> Result<()> {
        let link = self.link(name)?;
        if link.header.flags.contains(LinkFlags::Up) {
            explain!("{name} is up already");
            return Ok(());
        }
        explain!("bring {name} up"; "ip link set {name} up");
        let mut message = LinkMessage::default();
        message.header.index = link.header.index;
        message.header.flags = LinkFlags::Up;
        message.header.change_mask = LinkFlags::Up;
        self.request(
            RouteNetlinkMessage::SetLink(message),
            0,
            &format!("change link {name}"),
        )
        .map(drop)
    }

    /// Plugs `name` into the bridge `bridge` (its "master", ip-link(8)).
    pub fn set_master(&mut self, name: &str, bridge: &str) -> Result<()> {
        let master = self.index_of(bridge)?;
        explain!("plug {name} into the bridge {bridge}"; "ip link set {name} master {bridge}");
        self.set_link(name, |m| {
            m.attributes.push(LinkAttribute::Controller(master))
        })
    }

    /// Sets a link's MAC address.
    pub fn set_mac(&mut self, name: &str, mac: [u8; 6]) -> Result<()> {
        let shown = crate::ipam::format_mac(mac);
        explain!("give {name} the MAC address {shown}"; "ip link set {name} address {shown}");
        self.set_link(name, |m| {
            m.attributes.push(LinkAttribute::Address(mac.to_vec()))
        })
    }

    /// Adds `ip/prefix` to a link; true if added, false if it was there.
    /// `--explain` says which, once the kernel has answered (EEXIST: it was).
    pub fn add_address(&mut self, name: &str, ip: Ipv4Addr, prefix: u8) -> Result<bool> {
        let index = self.index_of(name)?;
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        message.header.prefix_len = prefix;
        message.header.index = index;
        message
            .attributes
            .push(AddressAttribute::Local(IpAddr::V4(ip)));
        message
            .attributes
            .push(AddressAttribute::Address(IpAddr::V4(ip)));
        let broadcast = crate::subnet::Subnet::new(ip, prefix).broadcast();
        if prefix < 31 {
            message
                .attributes
                .push(AddressAttribute::Broadcast(broadcast));
        }
        match self.request(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("add address {ip}/{prefix} to {name}"),
        ) {
            Ok(_) => {
                explain!("give {name} the address {ip}/{prefix}"; "ip addr add {ip}/{prefix} dev {name}");
                Ok(true)
            }
            Err(NetlinkError::Refused {
                errno: Errno::EEXIST,
                ..
            }) => {
                explain!("{name} has the address {ip}/{prefix} already: keep it");
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// Adds the default route via `gateway` (`ip route add default via ...`).
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        explain!("route everything else through the bridge's address {gateway}"; "ip route add default via {gateway}");
        let mut message = RouteMessage::default();
        message.header.address_family = AddressFamily::Inet;
        message.header.table = RouteHeader::RT_TABLE_MAIN;
        message.header.protocol = RouteProtocol::Boot;
        message.header.scope = RouteScope::Universe;
        message.header.kind = RouteType::Unicast;
        message
            .attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        self.request(
            RouteNetlinkMessage::NewRoute(message),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("add default route via {gateway}"),
        )
        .map(drop)
    }
}

// ANCHOR: in_netns
/// Runs `work` with a netlink socket opened inside the network namespace
/// `netns` (an open `/proc/PID/ns/net`), as `ip netns exec` or `nsenter --net`
/// would. setns(2) changes the namespace of the calling *thread* only, so a
/// dedicated thread enters it and ends with the work: the caller's threads never
/// leave their own namespace.
pub fn in_netns<T: Send>(
    netns: &File,
    path: &str,
    work: impl FnOnce(&mut Netlink) -> Result<T> + Send,
) -> Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(
                    |errno| NetlinkError::Netns {
                        path: path.to_string(),
                        errno,
                    },
                )?;
                work(&mut Netlink::open()?)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
// ANCHOR_END: in_netns
