//! The engine's half of the per-container supervisor (`dockyard-shim`):
//! `run -d` and `start` launch `dockyard shim ID` (a hidden subcommand, the
//! way runc re-executes itself as `runc init`), which calls the library's
//! `supervise` with a [`Runner`] that mounts the container's root and runs
//! it with chapter 03, and a [`Record`] that writes what happens into the
//! container's state. The supervisor holds the container's
//! [`run_lock`](Engine::run_lock) for as long as it lives, so whoever takes
//! that lock knows the exit is recorded and the mounts are gone.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::Context;
use ch03_cgroups::{Exit, RunError};
use ch04_overlayfs::Mounted;
use ch04_overlayfs::store::{Container, State, Status, StoreLock};
use dockyard_shim::restart::Policy;
use dockyard_shim::supervise::{self, BoxError, Event, Record, Runner};

use crate::commands::containers::remove_anonymous_volumes;
use crate::details::{HostConfig, Runtime};
use crate::engine::Engine;

/// Where a container's supervisor keeps its attach socket and
/// `supervisor.json`: `/run/dockyard/<id>`, not the container's directory,
/// because a unix socket's path must fit in 108 bytes and the state root
/// may be anywhere (a test's temp dir, say).
pub fn supervisor_dir(container: &Container) -> PathBuf {
    Path::new(RUN_DIR).join(&container.config.id)
}

/// The parent of every supervisor's directory.
const RUN_DIR: &str = "/run/dockyard";

/// Removes the supervisor directory of a container whose supervisor is gone.
pub fn remove_supervisor_dir(container: &Container) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(supervisor_dir(container)) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).context("remove the supervisor's directory")
        }
        _ => Ok(()),
    }
}

/// The json-file log of a container, `<id>-json.log` as docker names it.
pub fn log_path(container: &Container) -> PathBuf {
    container
        .dir
        .join(format!("{}-json.log", container.config.id))
}

/// Starts the container under a new supervisor and returns once its command
/// runs (or could not start: docker's error and status). `mounted` is the
/// container's root if the caller mounted it already (`run` does, to build
/// the spec): the supervisor, which shares our private mount namespace, takes
/// that mount over instead of mounting the root again.
pub fn start(
    engine: &Engine,
    root: &Path,
    container: &Container,
    mounted: Option<Mounted>,
) -> anyhow::Result<()> {
    let before = Runtime::load(container)?;
    let runtime = Runtime {
        stopped_by_user: false,
        restarting_by_user: false,
        paused: false,
        ..before.clone()
    };
    runtime.save_changed(&before, container)?;
    let dir = supervisor_dir(container);
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let exe = std::env::current_exe().context("find the dockyard binary")?;
    let args = ShimArgs {
        root: root.to_path_buf(),
        id: container.config.id.clone(),
        mounted: mounted.is_some(),
    };
    let launched = supervise::launch(args.command(exe));
    // Once it reported, the supervisor has the mount (and has unmounted it if
    // the command could not start); if it never did, ours unmounts it here.
    if let (Ok(_) | Err(supervise::Error::StartFailed { .. }), Some(mounted)) = (&launched, mounted)
    {
        mounted.hand_over();
    }
    match launched {
        Ok(_) => Ok(()),
        Err(supervise::Error::StartFailed { code, message }) => {
            // Its supervisor records the failure and tears down: wait for it.
            crate::commands::lifecycle::wait_for_run(container, None)?;
            Err(StartFailed { code, message }.into())
        }
        Err(err) => {
            // Whatever it was, the container did not start: record so.
            let _ = engine.refresh(engine.containers.get(&container.config.id)?);
            Err(err).context("start the container's supervisor")
        }
    }
}

/// The container's command could not be started (docker's 125/126/127).
#[derive(Debug, thiserror::Error)]
#[error("failed to create task for container: {message}")]
pub struct StartFailed {
    /// docker's exit status for it.
    pub code: i32,
    /// What the runtime said.
    pub message: String,
}

/// The supervisor's command line, `dockyard --root ROOT shim ID [--mounted]`,
/// written by [`start`] and read back by `main` before it sets up the CLI's
/// parser. The line is internal (no user types it), and a supervisor that
/// skips building clap's tree of every command starts about a millisecond
/// sooner and keeps fewer pages for the container's whole life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimArgs {
    /// The engine's state root.
    pub root: PathBuf,
    /// The container's full ID.
    pub id: String,
    /// The launching `run` mounted the container's root in the private mount
    /// namespace it shares with us, and hands that mount over.
    pub mounted: bool,
}

impl ShimArgs {
    const WORD: &str = "shim";

    /// The command that runs the supervisor from the engine binary `exe`.
    fn command(&self, exe: PathBuf) -> Command {
        let mut cmd = Command::new(exe);
        cmd.arg("--root")
            .arg(&self.root)
            .arg(Self::WORD)
            .arg(&self.id);
        if self.mounted {
            cmd.arg("--mounted");
        }
        cmd
    }

    /// Reads a supervisor's command line (without the program name); `None`
    /// for any other command line, which is the CLI's to parse.
    pub fn parse(args: &[OsString]) -> Option<ShimArgs> {
        let (mounted, args) = match args {
            [rest @ .., last] if last == "--mounted" => (true, rest),
            _ => (false, args),
        };
        match args {
            [flag, root, word, id] if flag == "--root" && word == Self::WORD => Some(ShimArgs {
                root: PathBuf::from(root),
                id: id.to_str()?.to_string(),
                mounted,
            }),
            _ => None,
        }
    }
}

/// `dockyard shim ID`: the supervisor's life (see the module docs); its
/// exit status is the container's last. Its directory goes with it, however
/// it ends.
pub fn shim(args: &ShimArgs) -> anyhow::Result<i32> {
    let (root, id, mounted) = (args.root.as_path(), args.id.as_str(), args.mounted);
    let result = supervise_container(root, id, mounted);
    match std::fs::remove_dir_all(Path::new(RUN_DIR).join(id)) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).context("remove the supervisor's directory")
        }
        _ => result,
    }
}

fn supervise_container(root: &Path, id: &str, mounted: bool) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let container = engine.containers.get(id)?;
    let _running = StoreLock::exclusive(&Engine::run_lock(&container))?;
    let host = HostConfig::load(&container)?;
    let runtime = Runtime::load(&container)?;
    let process = container.config.spec.process().clone().unwrap_or_default();
    let config = supervise::Config {
        dir: supervisor_dir(&container),
        log_path: log_path(&container),
        log: host.log_config()?,
        tty: process.terminal().unwrap_or(false),
        open_stdin: host.open_stdin,
        stdin_once: host.stdin_once,
        restart: host.restart.parse::<Policy>().unwrap_or_default(),
        restart_count: runtime.restart_count,
        size: None,
        ready: supervise::ready_fd_from_env(),
    };
    let mut runner = EngineRunner {
        engine: &engine,
        container: &container,
        mounted: None,
        adopt: mounted,
    };
    let mut record = EngineRecord {
        engine: &engine,
        container: &container,
    };
    let exit = supervise::supervise(config, &mut runner, &mut record)?;
    // Stopped during a restart delay: it will not be restarted now.
    let mut runtime = Runtime::load(&container)?;
    if runtime.restarting {
        runtime.restarting = false;
        runtime.save(&container)?;
    }
    // `restart` stops it to start it again: not the end `--rm` waits for.
    if host.auto_remove && !runtime.restarting_by_user {
        engine.containers.remove(&container.config.id)?;
        remove_anonymous_volumes(&engine, &host)?;
    }
    Ok(exit.code)
}

/// Runs the container with chapter 03, on its root mounted for the run.
struct EngineRunner<'a> {
    engine: &'a Engine,
    /// Borrowed, as by [`EngineRecord`]: the supervisor keeps one copy of
    /// the container's spec for its whole life, not one per user.
    container: &'a Container,
    mounted: Option<Mounted>,
    /// The first run takes over the root `run` mounted (`shim --mounted`).
    adopt: bool,
}

impl Runner for EngineRunner<'_> {
    fn run(&mut self, started: &mut ch02_namespaces::Setup<'_>) -> Result<Exit, RunError> {
        let mounted = match std::mem::take(&mut self.adopt) {
            true => self.engine.adopt_mount(self.container),
            false => self.engine.mount(self.container),
        }
        .map_err(|err| RunError::Runtime(ch02_namespaces::Error::Setup(err.into())))?;
        self.mounted = Some(mounted);
        let setup_error =
            |err: anyhow::Error| RunError::Runtime(ch02_namespaces::Error::Setup(err.into()));
        let spec =
            crate::network::before_start(self.engine, self.container).map_err(setup_error)?;
        let cgroup = self
            .container
            .config
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().clone())
            .unwrap_or_default();
        let parent = cgroup
            .parent()
            .map(|p| p.to_string_lossy().trim_start_matches('/').to_string())
            .unwrap_or_default();
        let (engine, container) = (self.engine, self.container);
        ch03_cgroups::run_with_setup(
            &spec,
            &container.merged_dir(),
            &parent,
            &container.config.id,
            &mut |pid| {
                crate::network::connect(engine, container, pid.as_raw() as u32)?;
                started(pid)
            },
        )
    }

    fn teardown(&mut self) -> Result<(), BoxError> {
        if let Some(mounted) = self.mounted.take() {
            mounted.unmount()?;
        }
        self.engine
            .networks()?
            .teardown(&self.container.config.id)?;
        Ok(())
    }
}

/// Writes the supervisor's events into the container's state.
struct EngineRecord<'a> {
    engine: &'a Engine,
    container: &'a Container,
}

fn epoch(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Record for EngineRecord<'_> {
    fn record(&mut self, event: &Event) -> Result<(), BoxError> {
        let id = &self.container.config.id;
        let before = Runtime::load(self.container)?;
        let mut runtime = before.clone();
        let state = match event {
            Event::Started {
                pid,
                at,
                restart_count,
            } => {
                runtime.restart_count = *restart_count;
                runtime.restarting = false;
                runtime.paused = false;
                State {
                    status: Status::Running,
                    pid: Some(*pid),
                    exit_code: None,
                    started_at: Some(epoch(*at)),
                    finished_at: self.engine.containers.get(id)?.state.finished_at,
                }
            }
            Event::Exited(exit) => {
                runtime.restart_count = exit.restart_count;
                runtime.oom_killed = exit.oom_killed;
                runtime.error = exit.error.clone().unwrap_or_default();
                runtime.paused = false;
                let before = self.engine.containers.get(id)?.state;
                State {
                    status: Status::Exited,
                    pid: None,
                    exit_code: Some(exit.code),
                    started_at: before.started_at,
                    finished_at: Some(epoch(exit.finished_at)),
                }
            }
            Event::Restarting { restart_count, .. } => {
                runtime.restart_count = *restart_count;
                runtime.restarting = true;
                runtime.save(self.container)?;
                return Ok(());
            }
        };
        runtime.save_changed(&before, self.container)?;
        self.engine.containers.set_state(id, &state)?;
        Ok(())
    }

    fn stopped_by_user(&mut self) -> bool {
        Runtime::load(self.container).is_ok_and(|r| r.stopped_by_user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn the_supervisor_reads_back_the_line_start_writes() {
        for mounted in [false, true] {
            let args = ShimArgs {
                root: PathBuf::from("/var/lib/dockyard"),
                id: "ab".repeat(32),
                mounted,
            };
            let cmd = args.command(PathBuf::from("dockyard"));
            let line: Vec<OsString> = cmd.get_args().map(OsString::from).collect();
            assert_eq!(ShimArgs::parse(&line), Some(args));
        }
    }

    #[test]
    fn other_command_lines_are_left_to_the_cli() {
        for line in [
            "shim abc",
            "--root /r ps -a",
            "--root /r shim",
            "--root /r shim abc --explain",
            "--explain --root /r shim abc",
        ] {
            assert_eq!(ShimArgs::parse(&words(line)), None, "{line}");
        }
    }
}
