//! `ch02-namespaces`.
fn main() {}
