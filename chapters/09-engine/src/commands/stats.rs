//! `stats`: each container's usage from its cgroup (chapter 03's `stats`),
//! as docker's table shows it: CPU over the last interval, memory against
//! its limit (or the host's memory), network bytes from its namespace's
//! /proc/PID/net/dev, block device bytes (its cgroup's io.stat or blkio
//! counters), processes.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use ch03_cgroups::format_bytes;
use ch04_overlayfs::store::{Container, Status};

use crate::cli::StatsArgs;
use crate::commands::{object, print_table};
use crate::engine::{Engine, cgroup_of, init_pid};
use crate::human;
use crate::template::Value;

/// How often the live table is redrawn, and the interval CPU is measured over.
const INTERVAL: Duration = Duration::from_millis(1000);

/// One reading of a container's counters.
#[derive(Debug, Clone, Copy, Default)]
struct Reading {
    cpu_ns: u64,
    at: Option<Instant>,
}

/// `stats`: a live table redrawn every second, or one table with `--no-stream`.
pub fn stats(root: &Path, args: StatsArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let mut last: HashMap<String, Reading> = HashMap::new();
    // The first table needs two readings for its CPU column.
    sample(&engine, &args, &mut last)?;
    std::thread::sleep(Duration::from_millis(500));
    loop {
        let rows = sample(&engine, &args, &mut last)?;
        if !args.no_stream {
            // Clear the screen and go home, as docker's live table does.
            print!("\x1b[2J\x1b[H");
        }
        print_table(
            args.format.as_deref(),
            "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
            &[
                ("BlockIO", "BLOCK I/O"),
                ("CPUPerc", "CPU %"),
                ("Container", "CONTAINER"),
                ("ID", "CONTAINER ID"),
                ("MemPerc", "MEM %"),
                ("MemUsage", "MEM USAGE / LIMIT"),
                ("Name", "NAME"),
                ("NetIO", "NET I/O"),
                ("PIDs", "PIDS"),
            ],
            &rows,
        )?;
        std::io::stdout().flush()?;
        if args.no_stream {
            return Ok(0);
        }
        std::thread::sleep(INTERVAL);
    }
}

/// The containers asked for (all running ones, `-a` every one), each as a row.
fn sample(
    engine: &Engine,
    args: &StatsArgs,
    last: &mut HashMap<String, Reading>,
) -> anyhow::Result<Vec<Value>> {
    let containers: Vec<Container> = if args.containers.is_empty() {
        engine
            .all_containers()?
            .into_iter()
            .filter(|c| args.all || c.state.status == Status::Running)
            .collect()
    } else {
        args.containers
            .iter()
            .map(|r| engine.container(r))
            .collect::<anyhow::Result<_>>()?
    };
    let host_memory = host_memory();
    Ok(containers
        .iter()
        .enumerate()
        .map(|(i, c)| row(c, last, host_memory, args.containers.get(i)))
        .collect())
}

/// One container's row: zeros when it is not running, as docker shows.
fn row(
    container: &Container,
    last: &mut HashMap<String, Reading>,
    host_memory: u64,
    asked_as: Option<&String>,
) -> Value {
    let running = container.state.status == Status::Running;
    let stats = running
        .then(|| cgroup_of(container).ok()?.stats().ok())
        .flatten()
        .unwrap_or_default();
    let now = Instant::now();
    let cpu_ns = stats.cpu_usage_ns.unwrap_or(0);
    let before = last.insert(
        container.config.id.clone(),
        Reading {
            cpu_ns,
            at: Some(now),
        },
    );
    let cpu = match before {
        Some(Reading {
            cpu_ns: was,
            at: Some(then),
        }) if running => {
            let wall = now.duration_since(then).as_nanos().max(1) as f64;
            cpu_ns.saturating_sub(was) as f64 / wall * 100.0
        }
        _ => 0.0,
    };
    let usage = stats.memory_usage.unwrap_or(0);
    let limit = stats.memory_limit.unwrap_or(host_memory).min(host_memory);
    let (rx, tx) = match running {
        true => network(container),
        false => (0, 0),
    };
    let block = stats.block_io.unwrap_or_default();
    let (memory, net, block, pids) = match running {
        true => (
            format!("{} / {}", format_bytes(usage), format_bytes(limit)),
            format!("{} / {}", human::size(rx, 3), human::size(tx, 3)),
            format!(
                "{} / {}",
                human::size(block.read, 3),
                human::size(block.write, 3)
            ),
            stats.pids_current.unwrap_or(0).to_string(),
        ),
        false => (
            "0B / 0B".into(),
            "0B / 0B".into(),
            "0B / 0B".into(),
            "0".into(),
        ),
    };
    let percent = |x: f64| format!("{x:.2}%");
    object([
        (
            "Container",
            Value::Str(asked_as.map_or_else(|| container.short_id().to_string(), |r| r.clone())),
        ),
        ("ID", Value::Str(container.short_id().into())),
        ("Name", Value::Str(container.config.name.clone())),
        ("CPUPerc", Value::Str(percent(cpu))),
        ("MemUsage", Value::Str(memory)),
        (
            "MemPerc",
            Value::Str(percent(match limit {
                0 => 0.0,
                _ => usage as f64 / limit as f64 * 100.0,
            })),
        ),
        ("NetIO", Value::Str(net)),
        ("BlockIO", Value::Str(block)),
        ("PIDs", Value::Str(pids)),
    ])
}

/// Bytes received and sent by the container's interfaces (not loopback),
/// from /proc/PID/net/dev, which shows the network namespace of PID.
fn network(container: &Container) -> (u64, u64) {
    let Some(pid) = container
        .state
        .pid
        .or_else(|| init_pid(container).map(|p| p.as_raw()))
    else {
        return (0, 0);
    };
    let Ok(dev) = std::fs::read_to_string(format!("/proc/{pid}/net/dev")) else {
        return (0, 0);
    };
    dev.lines()
        .skip(2)
        .filter_map(|line| {
            let (name, counters) = line.split_once(':')?;
            let fields: Vec<u64> = counters
                .split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect();
            if name.trim() == "lo" {
                return None;
            }
            Some((*fields.first()?, *fields.get(8)?))
        })
        .fold((0, 0), |(rx, tx), (r, t)| (rx + r, tx + t))
}

/// The host's memory, the limit docker shows for a container without one.
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}
