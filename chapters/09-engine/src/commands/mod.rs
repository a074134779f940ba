//! One module per command; each turns parsed flags into library calls.

mod run;

use crate::cli::{Cli, Command, ContainerCommand};

/// Runs the command the user asked for and returns the process exit status.
pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Run(args) | Command::Container(ContainerCommand::Run(args)) => run::run(args),
    }
}
