//! The engine's half of the per-container supervisor (`dockyard-shim`):
//! `run -d` and `start` launch `dockyard shim ID` (a hidden subcommand, the
//! way runc re-executes itself as `runc init`), which calls the library's
//! `supervise` with a [`Runner`] that mounts the container's root and runs
//! it with chapter 03, and a [`Record`] that writes what happens into the
//! container's state. The supervisor holds the container's
//! [`run_lock`](Engine::run_lock) for as long as it lives, so whoever takes
//! that lock knows the exit is recorded and the mounts are gone.

use std::ffi::OsString;
use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Command;
#[cfg(test)]
use std::time::Duration;
use std::time::SystemTime;

use anyhow::Context;
use ch03_cgroups::{Cgroup, CgroupGuard};
use ch03_cgroups::{Exit, RunError};
use ch04_overlayfs::Mounted;
use ch04_overlayfs::store::{Container, ContainerError, Retired, State, Status, StoreLock};
use dockyard_shim::restart::Policy;
use dockyard_shim::supervise::{self, BoxError, Event, Finisher, Record, Resume, Runner, Started};
use nix::unistd::Pid;

use crate::ahead::{self, Ahead, Made};
use crate::commands::containers::remove_anonymous_volumes;
use crate::details::{HostConfig, Runtime};
use crate::engine::{Engine, cgroup_named};

/// Where a container's supervisor keeps its attach socket and
/// `supervisor.json`: `/run/dockyard/<id>`, not the container's directory,
/// because a unix socket's path must fit in 108 bytes and the state root
/// may be anywhere (a test's temp dir, say).
pub fn supervisor_dir(container: &Container) -> PathBuf {
    supervisor_dir_of(&container.config.id)
}

/// [`supervisor_dir`] by the container's full ID.
fn supervisor_dir_of(id: &str) -> PathBuf {
    Path::new(RUN_DIR).join(id)
}

/// The parent of every supervisor's directory.
const RUN_DIR: &str = "/run/dockyard";

/// Removes the supervisor directory of a container whose supervisor is gone.
pub fn remove_supervisor_dir(container: &Container) -> anyhow::Result<()> {
    remove_supervisor_dir_of(&container.config.id)
}

/// [`remove_supervisor_dir`] by the container's full ID.
pub fn remove_supervisor_dir_of(id: &str) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(supervisor_dir_of(id)) {
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

/// What `run` made ready for a container's first start, as it created it.
pub struct Ready {
    /// The container's root, mounted (to build the spec): the supervisor,
    /// which shares our private mount namespace, takes that mount over
    /// instead of mounting the root again.
    pub root: Mounted,
    /// Its cgroup and network namespace, being made on a thread meanwhile.
    pub ahead: Ahead,
}

/// Starts the container under a new supervisor and returns once its command
/// runs (or could not start: docker's error and status). `ready`: what the
/// caller made ready for it (`run` does). `finisher`: the supervisor's end
/// of the caller's [`Finisher`], if the caller will [`finish`] the run.
pub fn start(
    engine: &Engine,
    root: &Path,
    container: &Container,
    ready: Option<Ready>,
    finisher: Option<OwnedFd>,
) -> anyhow::Result<()> {
    start_meanwhile(engine, root, container, ready, finisher, || Ok(())).map(drop)
}

/// [`start`], doing `meanwhile` once the container runs (a caller with
/// threads, whose supervisor is an exec of the engine binary, does it while
/// the supervisor starts it), and returning what it made and the host pid
/// of the container's PID 1 (what the Started record says, without reading
/// it back). A single-threaded caller (the CLI) starts the container itself
/// ([`start_here`]).
pub fn start_meanwhile<R>(
    engine: &Engine,
    root: &Path,
    container: &Container,
    ready: Option<Ready>,
    finisher: Option<OwnedFd>,
    meanwhile: impl FnOnce() -> anyhow::Result<R>,
) -> anyhow::Result<(R, Pid)> {
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
    // The thread working ahead ends here, before we ask how many threads we have.
    let (mounted, made) = match ready {
        Some(Ready { root, ahead }) => (Some(root), ahead.take()?),
        None => (None, None),
    };
    if single_threaded() {
        let pid = start_here(engine, root, container, mounted, made, finisher)?;
        return Ok((meanwhile()?, pid));
    }
    // The supervisor's program makes the cgroup and namespace itself.
    drop(made);
    let args = ShimArgs {
        root: root.to_path_buf(),
        id: container.config.id.clone(),
        entry: Entry::Start {
            mounted: mounted.is_some(),
        },
    };
    let exe = std::env::current_exe().context("find the dockyard binary")?;
    let mut cmd = Command::new(exe);
    cmd.args(args.start_line());
    let done = meanwhile();
    let launched = supervise::launch(cmd, finisher).map(|pid| (pid, done));
    // Once it reported, the supervisor has the mount (and has unmounted it if
    // the command could not start); if it never did, ours unmounts it here.
    if let (Ok(_) | Err(supervise::Error::StartFailed { .. }), Some(mounted)) = (&launched, mounted)
    {
        mounted.hand_over();
    }
    match launched {
        Ok((pid, done)) => Ok((done?, Pid::from_raw(pid))),
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

/// The supervisor's command line, written by [`start`] (the first entry)
/// and by the supervisor itself (the later ones, see
/// [`supervise::resume`]), read back by `main` before it sets up the CLI's
/// parser:
///
/// - `dockyard --root ROOT shim ID [--mounted]`
/// - `dockyard --root ROOT shim ID --exited --lock-fd FD --started-ms T
///   --restart-count C --delay-ms D --status N`
///
/// The line is internal (no user types it), and a supervisor that skips
/// building clap's tree of every command starts about a millisecond sooner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimArgs {
    /// The engine's state root.
    pub root: PathBuf,
    /// The container's full ID.
    pub id: String,
    /// How this entry comes.
    pub entry: Entry,
}

/// Which of its entries a supervisor's command line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// The first: start the container. `mounted`: the launching `run`
    /// mounted the container's root in the private mount namespace it shares
    /// with us, and hands that mount over.
    Start {
        /// See above.
        mounted: bool,
    },
    /// A later one: a run ended. The container's run lock is still held,
    /// on descriptor `lock_fd`.
    Exited {
        /// The inherited run lock's descriptor.
        lock_fd: RawFd,
        /// How the run ended, and the restart policy's state.
        resume: Resume,
    },
}

impl ShimArgs {
    const WORD: &str = "shim";

    /// `--root ROOT shim ID`: the beginning of every entry's line.
    fn line(root: &Path, id: &str) -> Vec<OsString> {
        vec!["--root".into(), root.into(), Self::WORD.into(), id.into()]
    }

    /// The first entry's line, `--root ROOT shim ID [--mounted]`, as `main`
    /// reads it back (the later entries' lines are written in pieces: see
    /// [`Entry::Exited`]).
    fn start_line(&self) -> Vec<OsString> {
        let mut line = Self::line(&self.root, &self.id);
        if let Entry::Start { mounted: true } = self.entry {
            line.push("--mounted".into());
        }
        line
    }

    /// Reads a supervisor's command line (without the program name); `None`
    /// for any other command line, which is the CLI's to parse.
    pub fn parse(args: &[OsString]) -> Option<ShimArgs> {
        let [flag, root, word, id, rest @ ..] = args else {
            return None;
        };
        if flag != "--root" || word != Self::WORD {
            return None;
        }
        let entry = match rest {
            [] => Entry::Start { mounted: false },
            [m] if m == "--mounted" => Entry::Start { mounted: true },
            [e, l, fd, resume @ ..] if e == "--exited" && l == "--lock-fd" => Entry::Exited {
                lock_fd: fd.to_str()?.parse().ok()?,
                resume: Resume::parse(resume)?,
            },
            _ => return None,
        };
        Some(ShimArgs {
            root: PathBuf::from(root),
            id: id.to_str()?.to_string(),
            entry,
        })
    }
}

/// Whether this process has one thread only (proc(5) `Threads`), so that
/// chapter 02's helper, a fork(2) of it, may go on as the supervisor with
/// the engine's code (no lock another thread held is stuck in it).
/// Whether this process has one thread. The link count of /proc/self/task
/// is two plus the number of threads (`proc_task_getattr`, fs/proc/base.c:
/// the count /proc/self/status shows as `Threads:`), so one stat(2) says,
/// where reading `status` had the kernel format some fifty lines.
pub(crate) fn single_threaded() -> bool {
    threads_in(Path::new("/proc/self/task")) == Some(1)
}

/// The number of threads of the process whose /proc `task` directory is `task`.
fn threads_in(task: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let links = std::fs::metadata(task).ok()?.nlink();
    links.checked_sub(2)
}

/// `dockyard shim ID ...`: one entry of the supervisor's life (see the
/// module docs) in a program of its own; it ends the process when the
/// container's life under this supervisor is over, with the container's
/// last status.
pub fn shim(args: &ShimArgs) -> i32 {
    let opened = Engine::open(&args.root).and_then(|engine| {
        let container = engine.containers.get(&args.id)?;
        Ok((engine, container))
    });
    let result = opened.and_then(|(engine, container)| {
        // Only the first entry has a launcher waiting to hear (later ones
        // inherit the variables, not the descriptors).
        let passed = match args.entry {
            Entry::Start { .. } => Passed {
                ready: supervise::ready_fd_from_env(),
                finisher: supervise::finisher_fd_from_env(),
            },
            Entry::Exited { .. } => Passed::default(),
        };
        supervise_container(&engine, &container, args, passed)
    });
    match result {
        // A finisher that died after it removed the container (see
        // `finish`) left us its end only.
        Err(err) if is_gone(&err) && matches!(args.entry, Entry::Exited { .. }) => {
            exit_status(remove_supervisor_dir_of(&args.id).map(|()| 0))
        }
        result => exit_status(result),
    }
}

/// Whether `err` says the container is not in the store.
fn is_gone(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<ContainerError>(),
        Some(ContainerError::NotFound(_))
    )
}

/// What the launcher hands the supervisor's first entry.
#[derive(Debug, Default)]
struct Passed {
    /// The ready pipe's write end ([`supervise::Config::ready`]).
    ready: Option<OwnedFd>,
    /// The finisher's end ([`supervise::Config::finisher`]).
    finisher: Option<OwnedFd>,
}

/// The supervisor's exit status. Its stderr is /dev/null: what went wrong
/// is in the container's state (or, before the container starts, on the
/// ready pipe).
fn exit_status(result: anyhow::Result<i32>) -> i32 {
    result.unwrap_or_else(|err| crate::exit_code(&err))
}

/// An entry of the supervisor's life, on the engine and the container the
/// caller has open; `passed`: what the launcher handed over (first entry
/// only).
fn supervise_container(
    engine: &Engine,
    container: &Container,
    args: &ShimArgs,
    passed: Passed,
) -> anyhow::Result<i32> {
    let running = match &args.entry {
        Entry::Start { .. } => StoreLock::exclusive(&Engine::run_lock(container))?,
        Entry::Exited { lock_fd, .. } => StoreLock::inherit(*lock_fd)?,
    };
    let lock_fd = running.keep_across_exec()?;
    let life = under_run_lock(engine, container, args, passed, lock_fd);
    end_of_life(container, running, life)
}

/// The end of a supervisor's life in this process, however `life` ended:
/// its directory goes before the run lock does (a new supervisor, waiting
/// for the lock, makes its files there next); then the lock; then, for an
/// auto-removed container, its files. It is gone from the store already,
/// so whoever waits for the lock (`run --rm` in the foreground) can go on
/// while they are deleted. Returns the run's status.
fn end_of_life(
    container: &Container,
    running: StoreLock,
    life: anyhow::Result<(i32, Option<Removal>)>,
) -> anyhow::Result<i32> {
    remove_supervisor_dir(container)?;
    let (code, removal) = life?;
    drop(running);
    Removal::purge(removal)?;
    Ok(code)
}

// ANCHOR: finish
/// Does the exit program's work in the caller, for the supervisor of
/// `container`, which hands the run's end over through `finisher` (see
/// [`Finisher`]) once it is over: `run` in the foreground has the engine
/// in memory and its store open already, where the exit program would start
/// the engine binary again (a few ms on the way to every `run`'s end). The
/// supervisor holds the run lock meanwhile, and exits once told we are
/// done. Returns the run's exit status, or `None` if the supervisor did not
/// hand over (it runs the exit program itself then).
///
/// If we fail or die midway, the supervisor runs the exit program after
/// all, which takes over from where we stopped: tearing down, recording and
/// removing again are each harmless if done already, and a container
/// removed already ends its supervisor's life there (see [`shim`]).
pub fn finish(
    engine: &Engine,
    container: &Container,
    finisher: Finisher,
) -> anyhow::Result<Option<i32>> {
    let Some(line) = finisher.wait()? else {
        return Ok(None);
    };
    let args = ShimArgs::parse(&line)
        .filter(|args| args.id == container.config.id)
        .with_context(|| format!("the supervisor handed over a run's end as {line:?}"))?;
    let Entry::Exited { lock_fd, .. } = args.entry else {
        anyhow::bail!("the supervisor handed over a run that has not ended: {line:?}");
    };
    let (code, removal) = under_run_lock(engine, container, &args, Passed::default(), lock_fd)?;
    match removal {
        // Out of the store, it gets no supervisor again, whose files its
        // directory would hold next: the directory goes with the rest.
        Some(removal) => {
            finisher.done()?;
            purge_meanwhile(removal, container)?;
        }
        None => {
            remove_supervisor_dir(container)?;
            finisher.done()?;
        }
    }
    Ok(Some(code))
}

/// Deletes an auto-removed container's files, its cgroup and its
/// supervisor's directory, in a child of ours while we return: nobody waits
/// for them (the container is out of the store), and deleting a tree was
/// the largest part of what was left of a `run --rm` (each directory's
/// blocks discarded, on a disk mounted `-o discard`).
/// The child holds the removal's locks (the same open files) until it is
/// done, and is the last to leave our mount namespace, whose teardown waits
/// for an RCU grace period. It leaves our session (setsid(2)), and blocks
/// every signal it can from before the fork to its end: a terminal that
/// hangs up as we exit (the session leader under `script` or ssh) sends
/// SIGHUP to our process group, ^C sends SIGINT, and either would cut the
/// removal short, leaving `/run/dockyard/ID` for ever. One sent before the
/// child is out of the group stays pending.
fn purge_meanwhile(removal: Removal, container: &Container) -> anyhow::Result<()> {
    use nix::sys::signal::{SigSet, SigmaskHow};
    let ours = SigSet::all()
        .thread_swap_mask(SigmaskHow::SIG_SETMASK)
        .context("block signals around fork(2)")?;
    // SAFETY: the only other thread a foreground `run` has is the signal
    // proxy, blocked in sigtimedwait(2) and holding no lock; glibc's fork(2)
    // takes the allocator's locks around the fork, so the child may
    // allocate. The child only deletes files and _exit(2)s.
    let forked = unsafe { nix::unistd::fork() };
    if !matches!(forked, Ok(nix::unistd::ForkResult::Child)) {
        ours.thread_set_mask()
            .context("unblock signals after fork(2)")?;
    }
    match forked.context("fork(2) to delete the container's files")? {
        nix::unistd::ForkResult::Child => {
            let _ = nix::unistd::setsid();
            // Not our caller's output: whoever reads it (a shell's `$(...)`)
            // would wait for our end-of-file too.
            for fd in 0..=2 {
                // SAFETY: close(2) of a standard descriptor; nothing of ours uses it.
                unsafe { libc::close(fd) };
            }
            let purged = remove_supervisor_dir(container).and(Removal::purge(Some(removal)));
            let code = i32::from(purged.is_err());
            // SAFETY: _exit(2) skips our caller's destructors, which are
            // the parent's to run.
            unsafe { libc::_exit(code) }
        }
        // Dropped, the removal's locks stay with the child, which holds
        // the same open files.
        nix::unistd::ForkResult::Parent { .. } => Ok(()),
    }
}
// ANCHOR_END: finish

/// An auto-removed container on its way out: retired from the store, its
/// files and its cgroup deleted once the run lock is let go. The exit file
/// stays open until then (see [`supervise::wait_for_readers`]).
struct Removal {
    retired: Retired,
    /// Not a guard: the parent of [`purge_meanwhile`]'s child drops its
    /// copy, and only the child removes it.
    cgroup: Option<Cgroup>,
    _exit_file: Option<StoreLock>,
}

impl Removal {
    /// Deletes the cgroup and the files of an auto-removed container, if it
    /// is one; the files even if the cgroup could not go.
    fn purge(removal: Option<Removal>) -> anyhow::Result<()> {
        let Some(removal) = removal else {
            return Ok(());
        };
        let cgroup = removal.cgroup.map_or(Ok(()), |cgroup| cgroup.remove());
        removal.retired.purge()?;
        Ok(cgroup?)
    }
}

/// The work of an entry of the supervisor's life, done while the run lock
/// is held (on `lock_fd` in the supervisor's process; by the supervisor if
/// we are its finisher).
fn under_run_lock(
    engine: &Engine,
    container: &Container,
    args: &ShimArgs,
    passed: Passed,
    lock_fd: RawFd,
) -> anyhow::Result<(i32, Option<Removal>)> {
    let host = HostConfig::load(container)?;
    let config = entry_config(container, args, &host, passed, lock_fd)?;
    let mut runner = EngineRunner {
        engine,
        container,
        host: &host,
        mounted: None,
        adopt: matches!(args.entry, Entry::Start { mounted: true }),
        made: None,
        cgroup: None,
    };
    let mut record = EngineRecord {
        engine,
        container,
        auto_remove: host.auto_remove,
    };
    let exit = match &args.entry {
        Entry::Start { .. } => supervise::supervise(config, &mut runner, &mut record)?,
        Entry::Exited { resume, .. } => {
            supervise::resume(&config, &mut runner, &mut record, *resume)?
        }
    };
    after_life(&mut runner, &exit)
}

/// The supervisor's settings for an entry of its life; the exit program it
/// runs after a run names the run lock it holds on `lock_fd`.
fn entry_config(
    container: &Container,
    args: &ShimArgs,
    host: &HostConfig,
    passed: Passed,
    lock_fd: RawFd,
) -> anyhow::Result<supervise::Config> {
    let runtime = Runtime::load(container)?;
    let process = container.config.spec.process().clone().unwrap_or_default();
    let mut after = ShimArgs::line(&args.root, &args.id);
    after.extend([
        "--exited".into(),
        "--lock-fd".into(),
        lock_fd.to_string().into(),
    ]);
    Ok(supervise::Config {
        dir: supervisor_dir(container),
        log_path: log_path(container),
        log: host.log_config()?,
        tty: process.terminal().unwrap_or(false),
        open_stdin: host.open_stdin,
        stdin_once: host.stdin_once,
        restart: host.restart_policy(),
        restart_count: runtime.restart_count,
        ready: passed.ready,
        finisher: passed.finisher,
        after: (
            std::env::current_exe().context("find the dockyard binary")?,
            after,
        ),
    })
}

/// What is left when the supervisor's life is over (`exit`): the restart
/// flag cleared and, for `--rm`, the container retired (its files and
/// cgroup for the caller to purge once the run lock is let go). The runner
/// left an auto-removed container's root mounted and its cgroup in place:
/// the purge unmounts the one and removes the other, as umount(2) waits for
/// an RCU grace period, rmdir(2) in each v1 hierarchy adds up to about as
/// long, and nobody waits for the purge (see chapter 04's `retire_mounted`).
fn after_life(
    runner: &mut EngineRunner<'_>,
    exit: &supervise::ExitRecord,
) -> anyhow::Result<(i32, Option<Removal>)> {
    let (engine, container, host) = (runner.engine, runner.container, runner.host);
    let (root, cgroup) = (runner.mounted.take(), runner.cgroup.take());
    // Stopped during a restart delay: it will not be restarted now.
    let mut runtime = Runtime::load(container)?;
    if runtime.restarting {
        runtime.restarting = false;
        runtime.save(container)?;
    }
    // `restart` stops it to start it again: not the end `--rm` waits for.
    if host.auto_remove && !runtime.restarting_by_user {
        // A foreground `run --rm` reads the output from the log first (a
        // run that never started has none, and its launcher waits for us).
        let exit_file = match exit.error {
            None => supervise::wait_for_readers(&supervisor_dir(container))?,
            Some(_) => None,
        };
        let id = &container.config.id;
        let retired = match root {
            Some(root) => engine.containers.retire_mounted(id, root)?,
            None => engine.containers.retire(id)?,
        };
        remove_anonymous_volumes(engine, host)?;
        let removal = Removal {
            retired,
            cgroup: cgroup.map(CgroupGuard::keep),
            _exit_file: exit_file,
        };
        return Ok((exit.code, Some(removal)));
    }
    // Restarted by the user: made anew at its next start.
    if let Some(cgroup) = cgroup {
        cgroup.remove()?;
    }
    Ok((exit.code, None))
}

// ANCHOR: start_here
/// The container's first start by this process itself, single-threaded,
/// with chapter 02's helper becoming its supervisor (see
/// [`supervise::start_here`]): we hold the run lock while we start it and
/// hand it to the helper, which holds the same open file. `mounted`: the
/// root we mounted, which the runner takes over; `made`: the cgroup and
/// network namespace made ahead, if they were. Returns the init's pid.
fn start_here(
    engine: &Engine,
    root: &Path,
    container: &Container,
    mounted: Option<Mounted>,
    made: Option<Made>,
    finisher: Option<OwnedFd>,
) -> anyhow::Result<Pid> {
    let running = StoreLock::exclusive(&Engine::run_lock(container))?;
    let lock_fd = running.keep_across_exec()?;
    let args = ShimArgs {
        root: root.to_path_buf(),
        id: container.config.id.clone(),
        entry: Entry::Start {
            mounted: mounted.is_some(),
        },
    };
    let passed = Passed {
        ready: None,
        finisher,
    };
    let host = HostConfig::load(container)?;
    let config = entry_config(container, &args, &host, passed, lock_fd)?;
    let mut runner = EngineRunner {
        engine,
        container,
        host: &host,
        mounted: None,
        adopt: mounted.is_some(),
        made,
        cgroup: None,
    };
    // The runner takes it over from here (and unmounts it if the start fails).
    if let Some(mounted) = mounted {
        mounted.hand_over();
    }
    let mut record = EngineRecord {
        engine,
        container,
        auto_remove: host.auto_remove,
    };
    let exit = match supervise::start_here(&config, &[lock_fd], &mut runner, &mut record)? {
        // The helper holds the run lock and the finisher's end now: our
        // copies close as we return.
        Ok(pid) => return Ok(pid),
        Err(exit) => exit,
    };
    let life = after_life(&mut runner, &exit);
    let code = end_of_life(container, running, life)?;
    let message = exit.error.unwrap_or_default();
    Err(StartFailed { code, message }.into())
}
// ANCHOR_END: start_here

/// Runs the container with chapter 03, on its root mounted for the run.
struct EngineRunner<'a> {
    engine: &'a Engine,
    /// Borrowed, as by [`EngineRecord`]: the supervisor keeps one copy of
    /// the container's spec for its whole life, not one per user.
    container: &'a Container,
    /// Read once per entry of the supervisor's life: a restart policy or
    /// network mode cannot change while it lives.
    host: &'a HostConfig,
    mounted: Option<Mounted>,
    /// The first run takes over the root `run` mounted (`shim --mounted`).
    adopt: bool,
    /// The first run's cgroup and network namespace, if `run` made them
    /// ahead.
    made: Option<Made>,
    /// An auto-removed container's cgroup once its run is over, for its
    /// removal to delete (see [`after_life`]).
    cgroup: Option<CgroupGuard>,
}

impl EngineRunner<'_> {
    /// [`Runner::start`], the init kept by `adopter`'s helper if given.
    fn start_with(
        &mut self,
        started: &mut ch02_namespaces::Setup<'_>,
        adopter: Option<&dyn ch02_namespaces::Adopter>,
    ) -> Result<Started, RunError> {
        let mounted = match std::mem::take(&mut self.adopt) {
            true => self.engine.adopt_mount(self.container),
            false => self.engine.mount(self.container),
        }
        .map_err(|err| RunError::Runtime(ch02_namespaces::Error::Setup(err.into())))?;
        self.mounted = Some(mounted);
        let setup_error =
            |err: anyhow::Error| RunError::Runtime(ch02_namespaces::Error::Setup(err.into()));
        let mut spec = crate::network::before_start(self.engine, self.container, self.host)
            .map_err(setup_error)?;
        crate::etc::mount_own(&mut spec, self.container).map_err(setup_error)?;
        crate::workdir::make_missing(&spec, &self.container.merged_dir()).map_err(setup_error)?;
        let (made_cgroup, netns) = match self.made.take() {
            Some(Made { cgroup, netns }) => (Some(cgroup), netns),
            None => (None, None),
        };
        if let Some(netns) = &netns {
            ahead::join_netns(&mut spec, netns);
        }
        let cgroup = self
            .container
            .config
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().clone())
            .unwrap_or_default();
        let (parent, _) = crate::engine::cgroup_place(&cgroup).unwrap_or_default();
        let (engine, container, host) = (self.engine, self.container, self.host);
        let (merged, id) = (container.merged_dir(), &container.config.id);
        let hook = &mut |pid: nix::unistd::Pid| {
            crate::network::connect(engine, container, host, pid.as_raw() as u32)?;
            started(pid)
        };
        let running = match (adopter, made_cgroup) {
            (Some(adopter), Some(made)) => {
                ch03_cgroups::spawn_adopted_in(made?, &spec, &merged, adopter, hook)
            }
            (Some(adopter), None) => {
                ch03_cgroups::spawn_adopted(&spec, &merged, &parent, id, adopter, hook)
            }
            (None, _) => ch03_cgroups::spawn_with_setup(&spec, &merged, &parent, id, hook),
        }?;
        // The cgroup and the mount stay for the run; the next entry undoes them.
        let mut running = running.leave();
        if let Some(mounted) = self.mounted.take() {
            mounted.hand_over();
        }
        Ok(Started {
            pid: running.pid(),
            terminal: running.take_terminal(),
        })
    }
}

impl Runner for EngineRunner<'_> {
    fn start(&mut self, started: &mut ch02_namespaces::Setup<'_>) -> Result<Started, RunError> {
        self.start_with(started, None)
    }

    fn start_adopted(
        &mut self,
        started: &mut ch02_namespaces::Setup<'_>,
        adopter: &dyn ch02_namespaces::Adopter,
    ) -> Result<Started, RunError> {
        self.start_with(started, Some(adopter))
    }

    fn finish(&mut self, code: i32) -> Exit {
        let Ok(cgroup) = cgroup_named(self.container) else {
            return Exit {
                code,
                oom_killed: None,
                memory_limit: None,
                cleanup_error: None,
            };
        };
        let spec = &self.container.config.spec;
        // Without a restart policy nothing starts it in the cgroup again.
        let once = self.host.restart_policy() == Policy::No;
        if self.host.auto_remove && once {
            let exit = ch03_cgroups::outcome(spec, &cgroup, code);
            self.cgroup = Some(CgroupGuard::new(cgroup));
            return exit;
        }
        ch03_cgroups::finish(spec, cgroup, code)
    }

    fn teardown(&mut self) -> Result<(), BoxError> {
        // Mounted by an earlier program of this process (or by this one, if
        // the start failed after the mount): still in our mount namespace.
        let mounted = self
            .mounted
            .take()
            .or_else(|| Mounted::adopt(&self.container.merged_dir()));
        if let Some(mounted) = mounted {
            match self.host.auto_remove {
                // Its removal unmounts it, off the caller's way (see
                // `after_life`).
                true => self.mounted = Some(mounted),
                false => mounted.unmount()?,
            }
        }
        // `--network none` leaves nothing in the network store (and no
        // `network connect` adds anything): its state is not even read.
        if self.host.network.network != "none" {
            self.engine
                .networks()?
                .teardown(&self.container.config.id)?;
        }
        Ok(())
    }
}

/// Writes the supervisor's events into the container's state.
struct EngineRecord<'a> {
    engine: &'a Engine,
    container: &'a Container,
    /// `--rm`: its end is not recorded (see [`Record::record`] below).
    auto_remove: bool,
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
                    finished_at: self.engine.containers.state(id)?.finished_at,
                }
            }
            // An auto-removed container leaves the store at its end, before
            // the run lock is let go (under_run_lock), so nobody could read
            // an exited state: not written, it is one file fewer to write,
            // rename and delete. Waiters learn the status from the exit file,
            // and a `--rm` run its OOM kill. Stopped by `restart`, it stays.
            Event::Exited(_) if self.auto_remove && !before.restarting_by_user => return Ok(()),
            Event::Exited(exit) => {
                runtime.restart_count = exit.restart_count;
                runtime.oom_killed = exit.oom_killed;
                runtime.error = exit.error.clone().unwrap_or_default();
                runtime.paused = false;
                let before = self.engine.containers.state(id)?;
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

    #[test]
    fn the_task_directory_counts_a_process_threads() {
        let mut sleep = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let task = PathBuf::from(format!("/proc/{}/task", sleep.id()));
        let one = threads_in(&task);
        sleep.kill().unwrap();
        sleep.wait().unwrap();
        assert_eq!(one, Some(1));
        // A process of many threads: ours (the test harness has more).
        let count = |status: String| -> u64 {
            let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        let read = || count(std::fs::read_to_string("/proc/self/status").unwrap());
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(3));
        let extra: Vec<_> = (0..2)
            .map(|_| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                })
            })
            .collect();
        // Other tests' threads come and go: compare when status said the
        // same before and after.
        let steady = (0..100).find_map(|_| {
            let before = read();
            let ours = threads_in(Path::new("/proc/self/task")).unwrap();
            (read() == before).then_some((before, ours))
        });
        barrier.wait();
        extra.into_iter().for_each(|t| t.join().unwrap());
        let (status, ours) = steady.expect("the thread count never held still");
        assert!(ours >= 3, "two threads of ours and this one: {ours}");
        assert_eq!(ours, status, "/proc/self/status says {status} threads");
    }

    fn words(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn the_supervisor_reads_back_the_line_start_writes() {
        let root = Path::new("/var/lib/dockyard");
        let id = "ab".repeat(32);
        for mounted in [false, true] {
            let args = ShimArgs {
                root: root.to_path_buf(),
                id: id.clone(),
                entry: Entry::Start { mounted },
            };
            assert_eq!(ShimArgs::parse(&args.start_line()), Some(args));
        }
    }

    #[test]
    fn a_later_entry_reads_the_run_lock_and_how_the_run_ended() {
        let line = "--root /r shim abc --exited --lock-fd 7 \
             --started-ms 1500 --restart-count 2 --delay-ms 200 --status 137";
        let expected = ShimArgs {
            root: PathBuf::from("/r"),
            id: "abc".into(),
            entry: Entry::Exited {
                lock_fd: 7,
                resume: Resume {
                    status: 137,
                    started: Duration::from_millis(1500),
                    restart_count: 2,
                    delay: Some(Duration::from_millis(200)),
                },
            },
        };
        assert_eq!(ShimArgs::parse(&words(line)), Some(expected));
    }

    #[test]
    fn other_command_lines_are_left_to_the_cli() {
        for line in [
            "shim abc",
            "--root /r ps -a",
            "--root /r shim",
            "--root /r shim abc --explain",
            "--explain --root /r shim abc",
            "--root /r shim abc --exited --lock-fd 7",
            "--root /r shim abc --exited --lock-fd x --started-ms 1 --restart-count 0 --delay-ms 0 --status 0",
        ] {
            assert_eq!(ShimArgs::parse(&words(line)), None, "{line}");
        }
    }
}
