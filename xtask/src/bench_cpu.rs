//! The CPU time of a command's whole process tree, for `cargo xtask bench`:
//! steadier than wall time on a small machine, and it counts what the
//! command leaves running after it exits (an engine's supervisor, the child
//! that deletes a container's files), which wall time does not see.
//!
//! The bench moves itself into a cgroup of its own, so that everything it
//! starts is born there, and reads the cgroup's CPU counter around each
//! command, then waits until it is alone there again. The meter is in the
//! cgroup2 hierarchy if there is one. On a hybrid machine containers' cgroups
//! are v1, so their processes count in the meter too; on a unified one a
//! container's init is born in its own cgroup and counts there. Either way
//! the command and its baseline are counted alike, and so is the bench's own
//! share (starting the command, watching for what it left running).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Where the cgroup filesystems are mounted.
const ROOT: &str = "/sys/fs/cgroup";

/// The meter's cgroup: a sibling of the benchmarks' cgroup parent, since on
/// cgroup v2 that parent holds containers' cgroups and so no process itself.
const METER: &str = "dockyard-bench-meter";

/// How long what a command left running may take to end.
const STRAGGLERS: Duration = Duration::from_secs(30);

/// The bench, in its meter cgroup until dropped: then back in its own, and
/// the meter removed.
pub struct CpuMeter {
    /// The meter cgroup's directory.
    dir: PathBuf,
    /// The cgroup the bench came from, in the same hierarchy.
    home: PathBuf,
    /// cgroup2's `cpu.stat` (present in every cgroup2 cgroup, controller or
    /// not), else v1's `cpuacct.usage`.
    v2: bool,
}

impl CpuMeter {
    /// Moves the bench into the meter cgroup: in the cgroup2 hierarchy if
    /// there is one (unified or hybrid), else in v1's cpuacct.
    pub fn join() -> anyhow::Result<CpuMeter> {
        let own = fs::read_to_string("/proc/self/cgroup").context("read /proc/self/cgroup")?;
        // Lines are ID:CONTROLLERS:PATH; cgroup2's is 0::PATH (cgroups(7)).
        let path_in = |wanted: &dyn Fn(&str) -> bool| {
            own.lines().find_map(|line| {
                let mut fields = line.splitn(3, ':');
                let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
                wanted(controllers).then(|| path.trim_start_matches('/').to_string())
            })
        };
        let unified = [PathBuf::from(ROOT), Path::new(ROOT).join("unified")]
            .into_iter()
            .find(|root| root.join("cgroup.controllers").is_file());
        let (root, v2, own_path) = match unified {
            Some(root) => (root, true, path_in(&|c| c.is_empty())),
            None => (
                Path::new(ROOT).join("cpuacct"),
                false,
                path_in(&|c| c.split(',').any(|c| c == "cpuacct")),
            ),
        };
        let own_path = own_path.context("find the bench's own cgroup in /proc/self/cgroup")?;
        let meter = CpuMeter {
            dir: root.join(METER),
            home: root.join(own_path),
            v2,
        };
        // A crashed bench's meter is empty: its processes died with it.
        let _ = fs::remove_dir(&meter.dir);
        fs::create_dir(&meter.dir).with_context(|| format!("mkdir {}", meter.dir.display()))?;
        move_self(&meter.dir)?;
        Ok(meter)
    }

    /// Runs `argv` and returns the CPU time it and everything it started
    /// used, once all of it has ended.
    pub fn sample(&self, argv: &[String]) -> anyhow::Result<Duration> {
        let before = self.usage()?;
        crate::bench::run_quietly(argv)?;
        self.wait_for_stragglers()?;
        Ok(self.usage()? - before)
    }

    fn usage(&self) -> anyhow::Result<Duration> {
        let file = self
            .dir
            .join(if self.v2 { "cpu.stat" } else { "cpuacct.usage" });
        let text = fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
        let number = match self.v2 {
            true => text
                .lines()
                .find_map(|line| line.strip_prefix("usage_usec "))
                .and_then(|n| n.trim().parse().ok())
                .map(Duration::from_micros),
            false => text.trim().parse().ok().map(Duration::from_nanos),
        };
        number.with_context(|| format!("{}: no CPU usage in {text:?}", file.display()))
    }

    /// Waits until the bench is alone in the meter again.
    fn wait_for_stragglers(&self) -> anyhow::Result<()> {
        let me = std::process::id().to_string();
        let procs = self.dir.join("cgroup.procs");
        let deadline = Instant::now() + STRAGGLERS;
        loop {
            let text = fs::read_to_string(&procs)?;
            let others: Vec<&str> = text.lines().filter(|pid| *pid != me).collect();
            if others.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "processes {others:?} still run in {} after {STRAGGLERS:?}",
                    procs.display()
                );
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for CpuMeter {
    fn drop(&mut self) {
        if let Err(err) = move_self(&self.home).and_then(|()| Ok(fs::remove_dir(&self.dir)?)) {
            eprintln!(
                "bench: leaving the CPU meter {}: {err:#}",
                self.dir.display()
            );
        }
    }
}

/// Moves the bench (all its threads) into the cgroup `dir`.
fn move_self(dir: &Path) -> anyhow::Result<()> {
    let procs = dir.join("cgroup.procs");
    fs::write(&procs, std::process::id().to_string())
        .with_context(|| format!("write our pid to {}", procs.display()))
}
