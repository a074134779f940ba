//! `ch04-overlayfs`: run a command on layers, show and commit its changes.

fn main() {}
