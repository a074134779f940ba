//! `cargo xtask setup`: install what is missing, and nothing else.
//!
//! Debian packages come from apt (`apt-get update` only when something must be
//! installed); the book tools from crates.io with `cargo install`, pinned.

use std::process::Command;

use anyhow::{Context, bail};

use crate::sh;

/// Debian packages and a file each installs, to tell whether it is there.
const PACKAGES: &[(&str, &str)] = &[
    ("busybox-static", "/bin/busybox"),
    ("iptables", "/usr/sbin/iptables"),
    ("docker-registry", "/usr/bin/docker-registry"),
    ("skopeo", "/usr/bin/skopeo"),
    // `dockyard run --init`'s PID 1 (tini-static: the image may have no C library).
    ("tini", "/usr/bin/tini-static"),
];

/// Book tools from crates.io: (crate, version, binary, extra cargo-install flags).
const CARGO_TOOLS: &[(&str, &str, &str, &[&str])] = &[
    (
        "mdbook",
        "0.5.4",
        "mdbook",
        &["--no-default-features", "--features", "search"],
    ),
    ("mdbook-mermaid", "0.17.1", "mdbook-mermaid", &[]),
];

pub fn run() -> anyhow::Result<()> {
    install_packages()?;
    install_cargo_tools()?;
    eprintln!("setup: everything is installed");
    Ok(())
}

fn install_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, file)| !std::path::Path::new(file).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !sh::has("apt-get") {
        bail!(
            "setup needs these Debian packages and this machine has no apt-get: {}\n\
             install them with your package manager, then run `cargo xtask setup` again",
            missing.join(" ")
        );
    }
    if !sh::is_root() && !sh::has("sudo") {
        bail!(
            "setup must install {} and needs root: run it as root, or install sudo",
            missing.join(" ")
        );
    }
    eprintln!("setup: installing {} (needs root)", missing.join(" "));
    sh::run(sh::as_root("apt-get").args(["update", "-qq"]))?;
    sh::run(
        sh::as_root("env")
            .args([
                "DEBIAN_FRONTEND=noninteractive",
                "apt-get",
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
            ])
            .args(&missing),
    )
}

fn install_cargo_tools() -> anyhow::Result<()> {
    for (krate, version, binary, flags) in CARGO_TOOLS {
        if installed_version(binary).is_some_and(|v| v.contains(version)) {
            continue;
        }
        eprintln!("setup: installing {krate} {version} from crates.io (once; a few minutes)");
        sh::run(
            sh::cargo()
                .args([
                    "install",
                    "--locked",
                    "--quiet",
                    krate,
                    "--version",
                    version,
                ])
                .args(*flags),
        )
        .with_context(|| format!("cannot install {krate}"))?;
    }
    Ok(())
}

/// `binary --version`, if the binary runs.
fn installed_version(binary: &str) -> Option<String> {
    let out = Command::new(binary).arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
