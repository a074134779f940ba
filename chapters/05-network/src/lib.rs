//! Chapter 05: give a container a network.

pub mod firewall;
pub mod ipam;
pub mod netlink;
pub mod network;
pub mod ports;
pub mod store;
pub mod subnet;

pub use network::{
    Attach, BridgeDefaults, CreateOptions, NetworkError, NetworkMode, Networks, Prepared,
};
