//! Command-line conventions shared by every chapter binary and `dockyard`.

use clap::Parser;
use clap::error::ErrorKind;

use crate::exit;

/// Parses the command line like [`Parser::parse`], but exits with docker's 125 on a
/// usage error (clap's default is 2), so every binary fails the way `docker run` does.
/// `--help` and `--version` still print and exit 0.
pub fn parse<P: Parser>() -> P {
    P::try_parse().unwrap_or_else(|err| {
        let code = match err.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
            _ => exit::ENGINE_ERROR,
        };
        let _ = err.print();
        std::process::exit(code)
    })
}
