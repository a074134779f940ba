//! Links the supervisor as a static, non-PIE executable with no C runtime:
//! no crt1.o (`_start` is ours, in main.rs), no libc, no dynamic loader,
//! and no relocations to apply at startup (a static PIE would have to
//! relocate itself before running any Rust code).

// ANCHOR: link
fn main() {
    for arg in ["-nostartfiles", "-nostdlib", "-static", "-no-pie"] {
        println!("cargo::rustc-link-arg-bins={arg}");
    }
    println!("cargo::rerun-if-changed=build.rs");
}
// ANCHOR_END: link
