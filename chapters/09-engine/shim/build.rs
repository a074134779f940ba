//! Builds the small program the supervisor becomes while a container runs
//! (`dockyard-supervisor`, chapters/09-engine/supervisor/bin) and hands its
//! path and a digest of it to the library, which embeds it (see `steady`).
//!
//! It is a Cargo build of its own, the way aya builds eBPF programs: a
//! `no_std` binary must be built with `panic = "abort"` (stable Rust has no
//! unwinding without std), and a workspace has one panic strategy for all
//! its binaries. Its own target directory, under ours, keeps the two builds
//! from waiting on each other's lock.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let here = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let supervisor = here.join("../supervisor");
    let manifest = supervisor.join("bin/Cargo.toml");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let target_dir = out.join("supervisor");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // ANCHOR: nested
    let mut build = Command::new(cargo);
    build
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir);
    // What Cargo set for this build (flags, wrappers such as clippy's, a
    // target directory) is not for that one.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        build.env_remove(var);
    }
    let status = build
        .status()
        .expect("run cargo to build dockyard-supervisor");
    assert!(status.success(), "building dockyard-supervisor failed");
    // ANCHOR_END: nested
    let program = target_dir.join("release/dockyard-supervisor");
    let bytes = std::fs::read(&program).expect("read the built dockyard-supervisor");
    println!("cargo:rustc-env=DOCKYARD_SUPERVISOR={}", program.display());
    println!(
        "cargo:rustc-env=DOCKYARD_SUPERVISOR_DIGEST={:016x}",
        fnv1a(&bytes)
    );
    for path in [
        "Cargo.toml",
        "src",
        "bin/Cargo.toml",
        "bin/Cargo.lock",
        "bin/build.rs",
        "bin/src",
    ] {
        println!("cargo:rerun-if-changed={}", supervisor.join(path).display());
    }
}

/// FNV-1a, 64 bits: a name for this build of the program, so that engines
/// of different builds never run each other's.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
