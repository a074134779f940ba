//! Commands on a running container's processes: `pause` / `unpause`
//! (chapter 03's freezer) and `top` (the host's `ps`, cut to the container's
//! cgroup, as dockerd does).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use ch04_overlayfs::store::{Container, Status};

use crate::cli::{ContainersArgs, TopArgs};
use crate::details::Runtime;
use crate::engine::{Engine, cgroup_of};
use crate::template::tabwrite_min;

/// docker's error for a container that is not running.
pub fn not_running(container: &Container) -> anyhow::Error {
    anyhow::anyhow!("container {} is not running", container.config.id)
}

/// Runs `action` on each container named, printing the name on success and
/// docker's `Error response from daemon: ...` on failure (status 1 if any).
pub fn for_each(
    root: &Path,
    references: &[String],
    action: impl Fn(&Engine, &Container) -> anyhow::Result<()>,
) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let mut code = 0;
    for reference in references {
        match engine
            .container(reference)
            .and_then(|c| action(&engine, &c))
        {
            Ok(()) => println!("{reference}"),
            Err(err) => {
                eprintln!("Error response from daemon: {err:#}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `pause`: freezes every process of the container (its cgroup's freezer).
pub fn pause(root: &Path, args: ContainersArgs) -> anyhow::Result<i32> {
    for_each(root, &args.containers, |_, container| {
        let mut runtime = Runtime::load(container)?;
        if container.state.status != Status::Running {
            return Err(not_running(container));
        }
        if runtime.paused {
            anyhow::bail!("container {} is already paused", container.config.id);
        }
        cgroup_of(container)?
            .freeze()
            .with_context(|| format!("pause container {}", container.short_id()))?;
        runtime.paused = true;
        runtime.save(container)
    })
}

/// `unpause`: thaws a paused container.
pub fn unpause(root: &Path, args: ContainersArgs) -> anyhow::Result<i32> {
    for_each(root, &args.containers, |_, container| {
        let mut runtime = Runtime::load(container)?;
        if container.state.status != Status::Running || !runtime.paused {
            anyhow::bail!("Container {} is not paused", container.config.id);
        }
        cgroup_of(container)?
            .thaw()
            .with_context(|| format!("unpause container {}", container.short_id()))?;
        runtime.paused = false;
        runtime.save(container)
    })
}

/// `top CONTAINER [ps OPTIONS]`: runs the host's `ps` (`-ef` by default) and
/// keeps the rows whose PID is in the container's cgroup.
pub fn top(root: &Path, args: TopArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let container = engine.container(&args.container)?;
    if container.state.status != Status::Running {
        return Err(not_running(&container));
    }
    let pids: BTreeSet<String> = cgroup_of(&container)?
        .pids()?
        .iter()
        .map(|p| p.to_string())
        .collect();
    let ps_args = if args.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_args
    };
    let out = std::process::Command::new("ps")
        .args(&ps_args)
        .output()
        .context("run ps")?;
    if !out.status.success() {
        anyhow::bail!(
            "Error running ps: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let Some(pid_column) = header.iter().position(|h| *h == "PID") else {
        anyhow::bail!("Couldn't find PID field in ps output");
    };
    let mut table = header.join("\t");
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(pid_column).is_none_or(|p| !pids.contains(*p)) {
            continue;
        }
        // The last column (the command) keeps its spaces.
        let last = header.len() - 1;
        let mut row: Vec<String> = fields.iter().take(last).map(|f| f.to_string()).collect();
        row.push(fields.get(last..).unwrap_or_default().join(" "));
        table.push('\n');
        table.push_str(&row.join("\t"));
    }
    table.push('\n');
    print!("{}", tabwrite_min(&table, 20));
    Ok(0)
}
