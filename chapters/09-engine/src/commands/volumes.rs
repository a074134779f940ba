//! `volume create / ls / inspect / rm / prune`.

use std::path::Path;

use crate::cli::{
    VolumeCommand, VolumeCreateArgs, VolumeInspectArgs, VolumeLsArgs, VolumePruneArgs, VolumeRmArgs,
};
use crate::commands::{confirm, object, print_deleted, print_inspect, print_table};
use crate::engine::{Engine, dir_size};
use crate::human;
use crate::template::Value;
use crate::volumes::Volume;

/// Runs a `volume` subcommand.
pub fn dispatch(root: &Path, command: VolumeCommand) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    match command {
        VolumeCommand::Create(args) => create(&engine, args),
        VolumeCommand::Ls(args) => list(&engine, args),
        VolumeCommand::Inspect(args) => inspect(&engine, args),
        VolumeCommand::Rm(args) => remove(&engine, args),
        VolumeCommand::Prune(args) => prune(&engine, args),
    }
}

fn create(engine: &Engine, args: VolumeCreateArgs) -> anyhow::Result<i32> {
    let (volume, _) = engine.volumes()?.get_or_create(args.name.as_deref())?;
    println!("{}", volume.name);
    Ok(0)
}

fn list(engine: &Engine, args: VolumeLsArgs) -> anyhow::Result<i32> {
    let rows: Vec<Value> = engine
        .volumes()?
        .list()?
        .iter()
        .map(|v| {
            object([
                ("Driver", Value::Str("local".into())),
                ("Name", Value::Str(v.name.clone())),
                ("Mountpoint", Value::Str(v.data().display().to_string())),
                ("Scope", Value::Str("local".into())),
            ])
        })
        .collect();
    let format = if args.quiet {
        Some("{{.Name}}")
    } else {
        args.format.as_deref()
    };
    print_table(
        format,
        "table {{.Driver}}\t{{.Name}}",
        &[
            ("Driver", "DRIVER"),
            ("Mountpoint", "MOUNTPOINT"),
            ("Name", "VOLUME NAME"),
            ("Scope", "SCOPE"),
        ],
        &rows,
    )?;
    Ok(0)
}

/// One volume as `docker volume inspect` shows it.
fn inspect_value(volume: &Volume) -> Value {
    object([
        ("CreatedAt", Value::Str(human::rfc3339(volume.created, 0))),
        ("Driver", Value::Str("local".into())),
        ("Labels", Value::Null),
        (
            "Mountpoint",
            Value::Str(volume.data().display().to_string()),
        ),
        ("Name", Value::Str(volume.name.clone())),
        ("Options", Value::Null),
        ("Scope", Value::Str("local".into())),
    ])
}

fn inspect(engine: &Engine, args: VolumeInspectArgs) -> anyhow::Result<i32> {
    let mut found = Vec::new();
    let mut code = 0;
    for name in &args.volumes {
        match engine.volumes()?.get(name) {
            Ok(volume) => found.push(inspect_value(&volume)),
            Err(err) => {
                eprintln!("Error response from daemon: {err:#}");
                code = 1;
            }
        }
    }
    if args.format.is_none() || !found.is_empty() {
        print_inspect(args.format.as_deref(), &found)?;
    }
    Ok(code)
}

fn remove(engine: &Engine, args: VolumeRmArgs) -> anyhow::Result<i32> {
    let mut code = 0;
    for name in &args.volumes {
        let result = engine
            .volumes()?
            .get(name)
            .and_then(|v| engine.volumes()?.remove(&v, &engine.volume_users(name)?));
        match result {
            Ok(()) => println!("{name}"),
            Err(err) => {
                eprintln!("Error response from daemon: {err:#}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// Removes the volumes no container uses (only anonymous ones unless
/// `all`); returns their names and the bytes they held.
pub fn prune_unused(engine: &Engine, all: bool) -> anyhow::Result<(Vec<String>, u64)> {
    let mut removed = Vec::new();
    let mut reclaimed = 0;
    for volume in engine.volumes()?.list()? {
        if !(all || volume.anonymous) || !engine.volume_users(&volume.name)?.is_empty() {
            continue;
        }
        reclaimed += dir_size(&volume.data())?;
        engine.volumes()?.remove(&volume, &[])?;
        removed.push(volume.name);
    }
    Ok((removed, reclaimed))
}

fn prune(engine: &Engine, args: VolumePruneArgs) -> anyhow::Result<i32> {
    let warning = if args.all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !args.force && !confirm(warning)? {
        return Ok(0);
    }
    let (removed, reclaimed) = prune_unused(engine, args.all)?;
    print_deleted("Volumes", &removed);
    println!("Total reclaimed space: {}", human::size(reclaimed, 4));
    Ok(0)
}
