//! `dockyard`: the engine. Each command is a thin layer over a chapter library,
//! the way youki's commands are a short chain over libcontainer.

mod ahead;
mod change;
mod cli;
mod commands;
mod details;
mod engine;
mod etc;
mod exec;
mod human;
mod labels;
mod mounts;
mod network;
mod signals;
mod supervisor;
mod template;
mod terminal;
mod volumes;
mod workdir;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if let Some(shim) = supervisor::ShimArgs::parse(&args) {
        return ExitCode::from(supervisor::shim(&shim) as u8);
    }
    let cli: cli::Cli = ch01_chroot::cli::parse();
    ch01_chroot::explain::enable(cli.explain);
    let is_run = commands::is_run(&cli);
    match commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) if is_run => {
            let from_daemon = if is_daemon_error(&err) {
                "Error response from daemon: "
            } else {
                ""
            };
            eprintln!("dockyard: {from_daemon}{err:#}");
            ExitCode::from(exit_code(&err) as u8)
        }
        Err(err) => {
            eprintln!("Error response from daemon: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Whether `err` is one docker's daemon gives (an unknown image, a name in
/// use, a bad volume name or log option, a failed start), which docker's CLI
/// shows as the daemon's answer.
fn is_daemon_error(err: &anyhow::Error) -> bool {
    use ch04_overlayfs::store::{ContainerError, ImageError};
    err.downcast_ref::<ContainerError>().is_some()
        || err.downcast_ref::<ImageError>().is_some()
        || err.downcast_ref::<ch05_network::NetworkError>().is_some()
        || err.downcast_ref::<network::Conflict>().is_some()
        || err.downcast_ref::<supervisor::StartFailed>().is_some()
        || err.downcast_ref::<volumes::VolumeError>().is_some()
        || err.downcast_ref::<dockyard_shim::logs::Error>().is_some()
}

/// The status docker would exit with for `err`: 126/127 when the command could not
/// be run (the chapters' errors know), 125 for anything else the engine failed at.
fn exit_code(err: &anyhow::Error) -> i32 {
    match err.downcast_ref::<supervisor::StartFailed>() {
        Some(err) => err.code,
        None => ch03_cgroups::exit_code_of(err.as_ref()),
    }
}
