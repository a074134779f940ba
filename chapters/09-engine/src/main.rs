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
            let code = err
                .downcast_ref::<ch01_chroot::Error>()
                .map_or(exit::ENGINE_ERROR, ch01_chroot::Error::exit_code);
            ExitCode::from(code as u8)
        }
    }
}
