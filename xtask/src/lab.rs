#[derive(Debug, clap::Subcommand)]
pub enum Command { List }
pub fn run(_: Command) -> anyhow::Result<()> { Ok(()) }
