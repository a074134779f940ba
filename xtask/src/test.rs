pub fn run() -> anyhow::Result<()> { Ok(()) } pub fn ci() -> anyhow::Result<()> { Ok(()) }
