//! A container's life after `create`: `start`, `stop`, `restart`, `kill`,
//! `wait` (through its supervisor and its run lock), `pause` / `unpause`
//! (chapter 03's freezer) and `top` (the host's `ps`, cut to the
//! container's cgroup, as dockerd does).

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use ch04_overlayfs::store::{Container, Status, StoreLock};
use dockyard_shim::supervise::{ExitWatch, Finisher};
use nix::sys::signal::Signal;

use crate::cli::{ContainersArgs, KillArgs, RenameArgs, StartArgs, StopArgs, TopArgs};
use crate::commands::attach::{is_tty, session};
use crate::commands::containers::kill_all;
use crate::commands::logs::follow_run;
use crate::details::{HostConfig, Runtime};
use crate::engine::{Engine, cgroup_of, init_pid};
use crate::supervisor;
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

/// A signal as docker takes it: `KILL`, `SIGKILL` or `9`.
pub fn parse_signal(name: &str) -> anyhow::Result<Signal> {
    let invalid = || anyhow::anyhow!("Invalid signal: {name}");
    if let Ok(number) = name.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| invalid());
    }
    let upper = name.to_ascii_uppercase();
    let full = match upper.starts_with("SIG") {
        true => upper,
        false => format!("SIG{upper}"),
    };
    Signal::from_str(&full).map_err(|_| invalid())
}

/// Waits up to `timeout` (forever if `None`) for the container's run to be
/// over: its supervisor (or foreground `run`) let go of the run lock, so
/// the exit is recorded and its root unmounted.
pub fn wait_for_run(container: &Container, timeout: Option<Duration>) -> anyhow::Result<bool> {
    let lock = Engine::run_lock(container);
    // A container removed as it ended (`--rm`) has no directory left.
    let over = || -> anyhow::Result<bool> {
        Ok(!container.dir.exists() || StoreLock::try_exclusive(&lock)?.is_some())
    };
    let Some(timeout) = timeout else {
        if container.dir.exists() {
            drop(StoreLock::exclusive(&lock)?);
        }
        return Ok(true);
    };
    let deadline = Instant::now() + timeout;
    loop {
        if over().unwrap_or(!container.dir.exists()) {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The exit status of the container's run, once it is over: read while we
/// hold its run lock, so that an `rm -f` (which waits for that lock) cannot
/// remove it before we have read it. If it is gone all the same, it was
/// auto-removed (`--rm`) or an `rm -f` killed and removed it: the status its
/// supervisor left in `exit` (opened before the run ended), else SIGKILL's 137.
/// With a `finisher` (`run` in the foreground) we record the run's end
/// ourselves, as soon as the supervisor hands it over
/// ([`supervisor::finish`]).
pub fn exit_status(
    engine: &Engine,
    container: &Container,
    exit: Option<&ExitWatch>,
    finisher: Option<Finisher>,
) -> anyhow::Result<i32> {
    // Its output is read: an auto-removed container may go now.
    if let Some(exit) = exit {
        exit.let_go();
    }
    if let Some(finisher) = finisher
        && let Some(code) = supervisor::finish(engine, container, finisher)?
    {
        return Ok(code);
    }
    let _lock = match StoreLock::exclusive(&Engine::run_lock(container)) {
        Ok(lock) => Some(lock),
        Err(_) if !container.dir.exists() => None,
        Err(err) => return Err(err.into()),
    };
    match engine.containers.get(&container.config.id) {
        Ok(container) => Ok(container.state.exit_code.unwrap_or(0)),
        Err(ch04_overlayfs::store::ContainerError::NotFound(_)) => Ok(exit
            .and_then(ExitWatch::code)
            .unwrap_or(128 + libc::SIGKILL)),
        Err(err) => Err(err.into()),
    }
}

/// Marks the container as stopped by the user (no restart policy brings it
/// back) and thaws it if paused, before a signal is sent.
fn mark_stopped(container: &Container) -> anyhow::Result<()> {
    let mut runtime = Runtime::load(container)?;
    runtime.stopped_by_user = true;
    if runtime.paused {
        cgroup_of(container)?.thaw()?;
        runtime.paused = false;
    }
    runtime.save(container)
}

/// Sends `signal` to the container's PID 1, directly, as docker's `kill`
/// reaches the container's init (through runc): not through its supervisor,
/// which forwards only the six signals chapter 02's runner passes on, and
/// only while a run is on.
fn signal(container: &Container, signal: Signal) -> anyhow::Result<()> {
    let pid = container
        .state
        .pid
        .map(nix::unistd::Pid::from_raw)
        .or_else(|| init_pid(container))
        .ok_or_else(|| not_running(container))?;
    match nix::sys::signal::kill(pid, signal) {
        // It ended just now; its supervisor is recording it.
        Err(nix::errno::Errno::ESRCH) => Err(not_running(container)),
        result => {
            result.with_context(|| format!("send {signal} to container {}", container.short_id()))
        }
    }
}

/// Ends the restart delay of a container waiting to be restarted: SIGTERM
/// to its supervisor, which keeps that signal blocked outside runs, so it
/// cannot be lost even if the supervisor is not waiting yet. Call it after
/// [`mark_stopped`]: a supervisor that has started the next run meanwhile
/// passes the SIGTERM on to the container, which then stops as usual.
fn end_restart_delay(container: &Container) -> anyhow::Result<()> {
    let dir = supervisor::supervisor_dir(container);
    match dockyard_shim::supervise::SupervisorInfo::read(&dir) {
        Ok(info) if info.is_alive() => {
            let pid = nix::unistd::Pid::from_raw(info.pid);
            let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
            Ok(())
        }
        // Its supervisor is gone: no restart will come.
        _ => Ok(()),
    }
}

/// `stop`'s work: the stop signal (`--stop-signal`, else SIGTERM), then
/// SIGKILL to every process in its cgroup after `time` seconds (else
/// `--stop-timeout`, else 10; negative: wait for ever). A PID 1 that
/// ignores SIGTERM so ends with 137, as in docker. A container waiting out
/// its restart delay is not restarted: it ends exited, as in docker.
pub fn stop_container(
    container: &Container,
    signal_name: Option<&str>,
    time: Option<i64>,
) -> anyhow::Result<()> {
    let host = HostConfig::load(container)?;
    let restarting = Runtime::load(container)?.restarting;
    if container.state.status != Status::Running && !restarting {
        return Ok(());
    }
    let sig = parse_signal(
        signal_name
            .or(host.stop_signal.as_deref())
            .unwrap_or("TERM"),
    )?;
    let time = time.or(host.stop_timeout).unwrap_or(10);
    mark_stopped(container)?;
    if restarting {
        end_restart_delay(container)?;
    } else {
        signal(container, sig)?;
    }
    let timeout = u64::try_from(time).ok().map(Duration::from_secs);
    if !wait_for_run(container, timeout)? {
        kill_all(container)?;
    }
    Ok(())
}

/// `stop`.
pub fn stop(root: &Path, args: StopArgs) -> anyhow::Result<i32> {
    for_each(root, &args.containers, |_, container| {
        stop_container(container, args.signal.as_deref(), args.time)
    })
}

/// `start`: each container under a new supervisor; with `-a`, its output
/// until it ends, and its exit status (with `-i` or a terminal, attached
/// to it as `attach` is; otherwise its log followed from the start), and,
/// without a terminal, the signals we get passed on to it as docker's
/// `start -a` does (it has no `--sig-proxy` to turn that off).
pub fn start(root: &Path, args: StartArgs) -> anyhow::Result<i32> {
    if !args.attach && !args.interactive {
        return for_each(root, &args.containers, |engine, container| {
            if container.state.status == Status::Running {
                return Ok(());
            }
            supervisor::start(engine, root, container, None, None)
        });
    }
    let engine = Engine::open(root)?;
    let [reference] = args.containers.as_slice() else {
        anyhow::bail!("you cannot start and attach multiple containers at once");
    };
    let container = engine.container(reference)?;
    let since = SystemTime::now();
    if container.state.status != Status::Running {
        supervisor::start(&engine, root, &container, None, None)?;
    }
    let exit = ExitWatch::open(&supervisor::supervisor_dir(&container));
    // Reloaded: its state has PID 1's pid now (unless it is over and gone).
    let container = engine.container(&container.config.id).unwrap_or(container);
    let tty = is_tty(&container);
    if !tty {
        crate::signals::proxy(&container)?;
    }
    if args.interactive || tty {
        let code = session(
            &engine,
            &container,
            None,
            args.interactive,
            true,
            None,
            None,
        )?;
        return Ok(code.unwrap_or(0));
    }
    follow_run(&container, Some(since), (true, true))?;
    exit_status(&engine, &container, exit.as_ref(), None)
}

/// `restart`: stop (as `stop` does), then start.
pub fn restart(root: &Path, args: StopArgs) -> anyhow::Result<i32> {
    for_each(root, &args.containers, |engine, container| {
        let mut runtime = Runtime::load(container)?;
        runtime.restarting_by_user = true;
        runtime.save(container)?;
        stop_container(container, args.signal.as_deref(), args.time)?;
        let container = engine.container(&container.config.id)?;
        supervisor::start(engine, root, &container, None, None)
    })
}

/// `kill`: a signal (`-s`, SIGKILL by default) to the container's PID 1.
pub fn kill(root: &Path, args: KillArgs) -> anyhow::Result<i32> {
    let sig = parse_signal(&args.signal)?;
    for_each(root, &args.containers, |_, container| {
        if container.state.status != Status::Running {
            if Runtime::load(container)?.restarting {
                // As docker: no process to signal; SIGKILL or the stop
                // signal cancels the restart, any other does nothing.
                let host = HostConfig::load(container)?;
                let stop = parse_signal(host.stop_signal.as_deref().unwrap_or("TERM"))?;
                if sig == Signal::SIGKILL || sig == stop {
                    mark_stopped(container)?;
                    end_restart_delay(container)?;
                }
                return Ok(());
            }
            anyhow::bail!(
                "cannot kill container: {}: {}",
                container.config.name,
                not_running(container)
            );
        }
        mark_stopped(container)?;
        signal(container, sig)
    })
}

/// `wait`: blocks until each container's run is over, printing its exit code.
pub fn wait(root: &Path, args: ContainersArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let mut code = 0;
    for reference in &args.containers {
        let result = engine.container(reference).and_then(|container| {
            if container.state.status != Status::Running && !Runtime::load(&container)?.restarting {
                return Ok(container.state.exit_code.unwrap_or(0));
            }
            // Held from before the wait: an auto-removed container's
            // status outlives its records there.
            let exit = ExitWatch::open(&supervisor::supervisor_dir(&container));
            let waited = wait_for_run(&container, None);
            match engine.container(&container.config.id) {
                Ok(container) => waited.map(|_| container.state.exit_code.unwrap_or(0)),
                Err(err) => exit.and_then(|e| e.code()).ok_or(err),
            }
        });
        match result {
            Ok(exit) => println!("{exit}"),
            Err(err) => {
                eprintln!("Error response from daemon: {err:#}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `pause`: freezes every process of the container (its cgroup's freezer).
/// `dockyard rename`: chapter 04's store moves the name; prints nothing, as docker.
pub fn rename(root: &Path, args: RenameArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    match engine.containers.rename(&args.container, &args.new_name) {
        Ok(_) => Ok(0),
        Err(err) => {
            eprintln!("Error response from daemon: {err}");
            Ok(1)
        }
    }
}

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
