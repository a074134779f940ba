//! `logs`: the container's json-file log, read back by the supervisor
//! library's reader (`--tail`, `--since`, `--until`, `-t`, `--details`, and
//! `-f` until the container's run is over).

use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::SystemTime;

use ch04_overlayfs::store::Container;
use dockyard_shim::logs::{self, ReadOptions, Stream};
use dockyard_shim::supervise;

use crate::cli::LogsArgs;
use crate::engine::Engine;
use crate::supervisor::{log_path, supervisor_dir};

/// `logs`.
pub fn logs(root: &Path, args: LogsArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let container = engine.container(&args.container)?;
    let options = ReadOptions {
        follow: args.follow,
        timestamps: args.timestamps,
        tail: args.tail.parse()?,
        since: args.since.as_deref().map(logs::parse_time).transpose()?,
        until: args.until.as_deref().map(logs::parse_time).transpose()?,
        details: args.details,
        ..ReadOptions::default()
    };
    read(&container, &options)?;
    Ok(0)
}

/// `start -a`, `run`: the output of the container's current run (from
/// `since`; stdout and stderr as `streams` says) as it comes, until the run
/// is over.
pub fn follow_run(
    container: &Container,
    since: Option<SystemTime>,
    streams: (bool, bool),
) -> anyhow::Result<()> {
    let options = ReadOptions {
        follow: true,
        since,
        stdout: streams.0,
        stderr: streams.1,
        ..ReadOptions::default()
    };
    read(container, &options)
}

/// Writes the selected lines, stdout's to stdout and stderr's to stderr;
/// with `follow`, until the supervisor says the run is over (or at once if
/// no supervisor is left).
fn read(container: &Container, options: &ReadOptions) -> anyhow::Result<()> {
    let path = log_path(container);
    if !path.exists() {
        return Ok(());
    }
    let watch = match options.follow {
        true => supervise::watch_run(&supervisor_dir(container))?,
        false => None,
    };
    let options = ReadOptions {
        follow: options.follow && watch.is_some(),
        ..options.clone()
    };
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let mut out = |stream, text: &str| {
        let out: &mut dyn Write = match stream {
            Stream::Stdout => &mut stdout,
            Stream::Stderr => &mut stderr,
        };
        out.write_all(text.as_bytes())?;
        out.flush()
    };
    match &watch {
        // The supervisor wakes us for each line and at the end.
        Some(watch) if options.follow => {
            logs::follow_watched(&path, &options, watch.as_fd(), &mut out)?
        }
        _ => logs::read(&path, &options, None, &mut out)?,
    }
    Ok(())
}
