//! `dockyard`: the engine. Each command is a thin layer over a chapter library,
//! the way youki's commands are a short chain over libcontainer.

mod cli;
mod commands;

use std::process::ExitCode;

use ch01_chroot::exit;

fn main() -> ExitCode {
    let cli: cli::Cli = ch01_chroot::cli::parse();
    ch01_chroot::explain::enable(cli.explain);
    match commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            eprintln!("dockyard: {err:#}");
            ExitCode::from(exit_code(&err) as u8)
        }
    }
}

/// The status docker would exit with for `err`: 126/127 when the command could not
/// be run (the chapters' errors know), 125 for anything else the engine failed at.
fn exit_code(err: &anyhow::Error) -> i32 {
    if let Some(err) = err.downcast_ref::<ch03_cgroups::RunError>() {
        err.exit_code()
    } else if let Some(err) = err.downcast_ref::<ch02_namespaces::Error>() {
        err.exit_code()
    } else if let Some(err) = err.downcast_ref::<ch01_chroot::Error>() {
        err.exit_code()
    } else {
        exit::ENGINE_ERROR
    }
}
