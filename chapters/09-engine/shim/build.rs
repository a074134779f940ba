//! Builds the small program the supervisor becomes while a container runs
//! (`dockyard-supervisor`, chapters/09-engine/supervisor/bin) for the
//! target the engine is built for, and hands its path to the library,
//! which embeds it (see `steady`).
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
    // For the machine the engine is built for, which is not always this one.
    let target = std::env::var("TARGET").expect("TARGET");
    // ANCHOR: nested
    let mut build = Command::new(cargo);
    build
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .args(["--target", &target])
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
    let program = target_dir.join(&target).join("release/dockyard-supervisor");
    println!("cargo:rustc-env=DOCKYARD_SUPERVISOR={}", program.display());
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
