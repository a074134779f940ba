//! `ch04-overlayfs`: run a command on layers, show and commit its changes,
//! unpack a layer.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ch01_chroot::{Run, cli, default_env, exit, explain};
use ch04_overlayfs::store::ContentStore;
use ch04_overlayfs::{Overlay, changes, commit, unpack};
use clap::{Parser, Subcommand};

/// Run a command on read-only layers with a copy-on-write upper dir, and see
/// what it changed (dockyard, chapter 04).
#[derive(Debug, Parser)]
#[command(name = "ch04-overlayfs", version)]
struct Cli {
    /// Print each kernel-level step as it happens, with its shell equivalent.
    #[arg(long, global = true)]
    explain: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Mount the layers with an upper dir as one root and run a command in it.
    Run {
        /// A read-only layer; repeat it, the top layer first (as `lowerdir=`).
        #[arg(long = "layer", value_name = "DIR", required = true)]
        layers: Vec<PathBuf>,
        /// Where the command's writes go (default: a temp dir, thrown away after).
        #[arg(long, value_name = "DIR")]
        upper: Option<PathBuf>,
        /// Command to run inside, and its arguments.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            default_value = "/bin/sh"
        )]
        command: Vec<String>,
    },
    /// Show what the upper dir changes in the layers, as `docker diff`.
    Diff {
        /// A read-only layer; repeat it, the top layer first.
        #[arg(long = "layer", value_name = "DIR", required = true)]
        layers: Vec<PathBuf>,
        /// The upper dir a `run --upper` wrote to.
        #[arg(long, value_name = "DIR")]
        upper: PathBuf,
    },
    /// Turn the upper dir into a gzip layer blob in a content store, as `docker commit`.
    Commit {
        /// The upper dir a `run --upper` wrote to.
        #[arg(long, value_name = "DIR")]
        upper: PathBuf,
        /// The content store: the blob goes to DIR/blobs/sha256/<digest>.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Unpack a layer tar (gzip or not) into a new directory, refusing unsafe entries.
    Unpack {
        /// The layer: a .tar or .tar.gz file.
        tar: PathBuf,
        /// The directory to create with the layer's files.
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse();
    explain::enable(cli.explain);
    match execute(cli.command) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            eprintln!("ch04-overlayfs: {err:#}");
            let code = err
                .downcast_ref::<ch01_chroot::Error>()
                .map_or(exit::ENGINE_ERROR, ch01_chroot::Error::exit_code);
            ExitCode::from(code as u8)
        }
    }
}

fn execute(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Run {
            layers,
            upper,
            command,
        } => run(layers, upper, command),
        Command::Diff { layers, upper } => {
            for change in
                changes(&layers, &upper).with_context(|| format!("diff {}", upper.display()))?
            {
                println!("{change}");
            }
            Ok(0)
        }
        Command::Commit { upper, out } => {
            let content = ContentStore::open(&out)
                .with_context(|| format!("open content store {}", out.display()))?;
            let layer = commit::commit(&upper, &content)
                .with_context(|| format!("commit {}", upper.display()))?;
            println!("digest:  {}", layer.digest);
            println!("diff ID: {}", layer.diff_id);
            println!("size:    {} bytes", layer.size);
            Ok(0)
        }
        Command::Unpack { tar, dir } => {
            let file =
                std::fs::File::open(&tar).with_context(|| format!("open {}", tar.display()))?;
            let unpacked = unpack::unpack(file, &dir, None)
                .with_context(|| format!("unpack {}", tar.display()))?;
            println!("diff ID: {}", unpacked.diff_id);
            Ok(0)
        }
    }
}

/// Mounts the overlay in a mount namespace of our own and runs the command in it
/// with chapter 01's chroot runner (chapter 02's runner takes over in the engine).
fn run(layers: Vec<PathBuf>, upper: Option<PathBuf>, command: Vec<String>) -> anyhow::Result<i32> {
    if !nix::unistd::geteuid().is_root() {
        anyhow::bail!(
            "must be run as root: mounting an overlay needs CAP_SYS_ADMIN (try again with sudo)"
        );
    }
    // The scratch dir holds the work and merged dirs (and the upper, when none is
    // given); beside the upper dir, because overlayfs wants work and upper on one filesystem.
    let scratch_parent = match &upper {
        Some(upper) => std::path::absolute(upper)?
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf),
        None => std::env::temp_dir(),
    };
    let scratch = tempfile::Builder::new()
        .prefix(".tmp-ch04-")
        .tempdir_in(&scratch_parent)
        .with_context(|| format!("create a scratch dir in {}", scratch_parent.display()))?;
    let upper = match upper {
        Some(upper) => upper,
        None => scratch.path().join("upper"),
    };
    let (work, merged) = (scratch.path().join("work"), scratch.path().join("merged"));
    for dir in [&upper, &work, &merged] {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }

    ch02_namespaces::namespaces::private_mount_namespace()
        .context("a private mount namespace (mounting needs root)")?;

    let overlay = Overlay {
        lowers: layers,
        upper,
        work,
        volatile: false,
    };
    let mounted = overlay.mount(&merged)?;
    let status = ch01_chroot::run(&Run {
        rootfs: merged.clone(),
        argv: command,
        env: default_env(),
    })?;
    mounted.unmount()?;
    Ok(status)
}
