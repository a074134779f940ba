//! Chapter 05: give a container a network.
//!
//! Chapter 02 gave each container a network namespace of its own, with only a
//! loopback device in it: isolated, and unreachable. This chapter connects it
//! the way docker does:
//!
//! - a **bridge** on the host (dockyard's `dy0`, docker's `docker0`): a virtual
//!   switch with the network's gateway address;
//! - a **veth pair** per container (veth(4)): two devices joined like a cable,
//!   one end plugged into the bridge, the other inside the container as `eth0`,
//!   with an address from the network's pool ([`ipam`]) and a default route via
//!   the bridge, all made with rtnetlink requests ([`netlink`]);
//! - **NAT** ([`firewall`]): masquerade so containers reach out with the host's
//!   address, DNAT so published ports ([`ports`]) reach them, in dockyard's own
//!   iptables chains;
//! - **networks** ([`network`]): the default `bridge`, user-defined ones whose
//!   containers find each other by name, and the `none`, `host` and
//!   `container:` modes; everything each container was given is recorded
//!   ([`store`]) before it is made, so it can be removed after a crash.
//!
//! `docker run`'s network flags are parsed once, in [`flags`], for this
//! chapter's binary and for the engine's `run`/`create` alike.
//!
//! The engine calls [`Networks::prepare`] before making a container,
//! [`Networks::connect`] in chapter 02's set-up hook, and
//! [`Networks::teardown`] once it has stopped.

pub mod firewall;
pub mod flags;
pub mod ipam;
pub mod netlink;
pub mod network;
pub mod ports;
pub mod store;
pub mod subnet;

pub use flags::NetworkFlags;
pub use network::{
    Attach, BridgeDefaults, CreateOptions, NetworkError, NetworkMode, Networks, Prepared,
};
