//! `ch03-cgroups`: limit, pause and measure a container with cgroups.

fn main() {}
