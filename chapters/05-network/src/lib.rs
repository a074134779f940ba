//! Chapter 05: give a container a network.
