//! One module per command group; each turns parsed flags into library calls
//! and prints what docker prints.

pub mod attach;
pub mod containers;
pub mod cp;
mod images;
mod inspect;
pub mod lifecycle;
pub mod logs;
mod network;
mod run;
mod stats;
mod system;
pub mod volumes;

use std::io::{BufRead, Write};
use std::path::Path;

use crate::cli::{Cli, Command, ContainerCommand, ContainerShortcut, ImageCommand, SystemCommand};
use crate::template::{Format, Template, Value};

/// Runs the command the user asked for and returns the process exit status.
pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let root: &Path = &cli.root;
    match cli.command {
        Command::Ps(args) | Command::Container(ContainerCommand::Ls(args)) => {
            containers::list(root, args)
        }
        Command::Rm(args) | Command::Container(ContainerCommand::Rm(args)) => {
            containers::remove(root, args)
        }
        Command::Container(ContainerCommand::Prune(args)) => containers::prune(root, args),
        Command::Import(args) | Command::Image(ImageCommand::Import(args)) => {
            images::import(root, args)
        }
        Command::Images(args) | Command::Image(ImageCommand::Ls(args)) => images::list(root, args),
        Command::Tag(args) | Command::Image(ImageCommand::Tag(args)) => images::tag(root, args),
        Command::Rmi(args) | Command::Image(ImageCommand::Rm(args)) => images::remove(root, args),
        Command::Image(ImageCommand::Prune(args)) => images::prune(root, args),
        Command::History(args) | Command::Image(ImageCommand::History(args)) => {
            images::history(root, args)
        }
        Command::Image(ImageCommand::Inspect(args)) => images::inspect(root, args),
        Command::System(SystemCommand::Df(args)) => system::df(root, args),
        Command::System(SystemCommand::Prune(args)) => system::prune(root, args),
        Command::Inspect(args) => inspect::any(root, args),
        Command::Volume(command) => volumes::dispatch(root, command),
        Command::Network(command) => network::dispatch(root, command),
        Command::Shortcut(command) | Command::Container(ContainerCommand::Shortcut(command)) => {
            container(root, command)
        }
        Command::Container(ContainerCommand::Inspect(args)) => inspect::containers(root, args),
    }
}

/// The container commands docker has under both names (`run`, `container run`).
fn container(root: &Path, command: ContainerShortcut) -> anyhow::Result<i32> {
    match command {
        ContainerShortcut::Run(args) => run::run(root, args),
        ContainerShortcut::Create(args) => run::create(root, args),
        ContainerShortcut::Diff(args) => containers::diff(root, args),
        ContainerShortcut::Commit(args) => containers::commit(root, args),
        ContainerShortcut::Export(args) => containers::export(root, args),
        ContainerShortcut::Cp(args) => cp::cp(root, args),
        ContainerShortcut::Rename(args) => lifecycle::rename(root, args),
        ContainerShortcut::Pause(args) => lifecycle::pause(root, args),
        ContainerShortcut::Unpause(args) => lifecycle::unpause(root, args),
        ContainerShortcut::Top(args) => lifecycle::top(root, args),
        ContainerShortcut::Port(args) => containers::port(root, args),
        ContainerShortcut::Exec(args) => crate::exec::exec(root, args),
        ContainerShortcut::Start(args) => lifecycle::start(root, args),
        ContainerShortcut::Stop(args) => lifecycle::stop(root, args),
        ContainerShortcut::Restart(args) => lifecycle::restart(root, args),
        ContainerShortcut::Kill(args) => lifecycle::kill(root, args),
        ContainerShortcut::Wait(args) => lifecycle::wait(root, args),
        ContainerShortcut::Logs(args) => logs::logs(root, args),
        ContainerShortcut::Attach(args) => attach::attach(root, args),
        ContainerShortcut::Stats(args) => stats::stats(root, args),
    }
}

/// Whether `command` is `run` or `create`, whose errors docker reports as
/// `docker: ...` with status 125; every other command's failures are the
/// daemon's answer, `Error response from daemon: ...`, with status 1.
pub fn is_run(cli: &Cli) -> bool {
    matches!(
        cli.command,
        Command::Shortcut(ContainerShortcut::Run(_) | ContainerShortcut::Create(_))
            | Command::Container(ContainerCommand::Shortcut(
                ContainerShortcut::Run(_) | ContainerShortcut::Create(_)
            ))
    )
}

/// Template fields and the column header each has in a `table`.
pub type Columns = &'static [(&'static str, &'static str)];

/// An object whose fields keep the given order.
pub fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// Prints `rows` with `--format` (a Go template, `table ...`, or `json`, which
/// is `{{json .}}`), or with the command's `default` table.
pub fn print_table(
    format: Option<&str>,
    default: &str,
    columns: &[(&str, &str)],
    rows: &[Value],
) -> anyhow::Result<()> {
    let format = match format {
        None | Some("") => default,
        Some("json") => "{{json .}}",
        Some(format) => format,
    };
    let default_body = default.strip_prefix("table").unwrap_or(default);
    let format = Format::parse(format, default_body)?;
    let header = Value::Object(
        columns
            .iter()
            .map(|(field, name)| (field.to_string(), Value::Str(name.to_string())))
            .collect(),
    );
    print!("{}", format.render(&header, rows)?);
    Ok(())
}

/// Prints `inspect`'s answer: docker's JSON array (4-space indent), or
/// `--format`'s template rendered for each value.
pub fn print_inspect(format: Option<&str>, values: &[Value]) -> anyhow::Result<()> {
    match format {
        None | Some("json") => {
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
            serde::Serialize::serialize(values, &mut ser)?;
            println!("{}", String::from_utf8(out)?);
        }
        Some(format) => {
            let template = Template::parse(format)?;
            for value in values {
                println!("{}", template.render(value)?);
            }
        }
    }
    Ok(())
}

/// Prints a prune's `Deleted KIND:` section (nothing if nothing was).
pub fn print_deleted(kind: &str, lines: &[String]) {
    if !lines.is_empty() {
        println!("Deleted {kind}:");
        for line in lines {
            println!("{line}");
        }
        println!();
    }
}

/// Asks `warning` + "Are you sure you want to continue? [y/N]" on the terminal.
pub fn confirm(warning: &str) -> anyhow::Result<bool> {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
