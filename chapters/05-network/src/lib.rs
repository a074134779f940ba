//! Chapter 05: give a container a network.

pub mod ipam;
pub mod ports;
pub mod store;
pub mod subnet;
