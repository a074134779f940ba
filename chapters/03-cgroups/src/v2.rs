//! cgroup v2: one hierarchy, one directory per cgroup for every controller.
//!
//! A container's cgroup is `<root>/dockyard/ID`. A controller only appears in a
//! cgroup when its parent enables it for its children in `cgroup.subtree_control`,
//! so creating one means enabling the controllers we use at the root and in
//! `dockyard/` first (cgroup-v2.rst, "Enabling and Disabling"). The parents hold no
//! processes themselves: the "no internal process" rule.
//! Kernel docs: Documentation/admin-guide/cgroup-v2.rst.

use std::path::{Path, PathBuf};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxResources};

use ch01_chroot::explain;

use crate::cgroup::{FREEZE_TIMEOUT, Stats, docker_memory_usage};
use crate::error::{Error, Result};
use crate::files;
use crate::limits::{describe_limit, format_bytes};

/// The controllers a container's limits use, enabled for the cgroups below ours.
const CONTROLLERS: [&str; 4] = ["cpu", "cpuset", "memory", "pids"];

/// A container's cgroup in a cgroup v2 hierarchy.
#[derive(Debug, Clone)]
pub struct V2Cgroup {
    dir: PathBuf,
}

impl V2Cgroup {
    /// Makes `root/parent/name`, enabling the controllers we use on the way down.
    pub(crate) fn create(root: &Path, parent: &str, name: &str) -> Result<V2Cgroup> {
        enable_controllers(root)?;
        let parent_dir = root.join(parent);
        files::mkdir(
            &parent_dir,
            format_args!("create the parent cgroup {}", parent_dir.display()),
        )?;
        enable_controllers(&parent_dir)?;
        let dir = parent_dir.join(name);
        if !files::mkdir(&dir, format_args!("create cgroup {}", dir.display()))? {
            return Err(Error::AlreadyExists(dir));
        }
        Ok(V2Cgroup { dir })
    }

    /// Finds the existing `root/parent/name`.
    pub(crate) fn open(root: &Path, parent: &str, name: &str) -> Result<V2Cgroup> {
        let dir = root.join(parent).join(name);
        if !dir.is_dir() {
            return Err(Error::NotFound(dir));
        }
        Ok(V2Cgroup { dir })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn add_task(&self, pid: Pid) -> Result<()> {
        files::write(
            &self.dir.join("cgroup.procs"),
            &pid.to_string(),
            format_args!("move process {pid} into {}", self.dir.display()),
        )
    }

    pub(crate) fn apply(&self, resources: &LinuxResources) -> Result<()> {
        if let Some(memory) = resources.memory() {
            self.apply_memory(memory)?;
        }
        if let Some(cpu) = resources.cpu() {
            self.apply_cpu(cpu)?;
        }
        if let Some(pids) = resources.pids() {
            // runc's rule: 0 leaves the setting alone, negative means no limit.
            let value = match pids.limit() {
                0 => None,
                limit if limit < 0 => Some("max".to_string()),
                limit => Some(limit.to_string()),
            };
            if let Some(value) = value {
                self.set(
                    "pids.max",
                    &value,
                    "pids",
                    "pids limit",
                    format_args!("allow at most {value} processes"),
                )?;
            }
        }
        Ok(())
    }

    /// `memory.max` caps memory; `memory.swap.max` caps swap alone, where the OCI
    /// spec (and docker's `--memory-swap`) give memory plus swap, v1's meaning.
    fn apply_memory(&self, memory: &LinuxMemory) -> Result<()> {
        let Some(limit) = memory.limit() else {
            return match memory.swap() {
                Some(_) => Err(Error::InvalidResources(
                    "a memory+swap limit needs a memory limit too".to_string(),
                )),
                None => Ok(()),
            };
        };
        let swap = memory.swap().or((limit == -1).then_some(-1));
        let swap_only = match swap {
            None => None,
            Some(-1) => Some(-1),
            Some(_) if limit == -1 => Some(-1),
            Some(total) if total < limit => {
                return Err(Error::InvalidResources(format!(
                    "the memory+swap limit ({}) must be at least the memory limit ({})",
                    format_bytes(total as u64),
                    format_bytes(limit as u64)
                )));
            }
            Some(total) => Some(total - limit),
        };
        let max = kernel_max(limit);
        self.set(
            "memory.max",
            &max,
            "memory",
            "memory limit",
            format_args!("limit memory to {}", describe_limit(limit)),
        )?;
        if let Some(swap_only) = swap_only {
            let path = self.dir.join("memory.swap.max");
            if !path.exists() {
                explain!(
                    "no {} here: swap accounting is off, swap is not limited",
                    path.display()
                );
                return Ok(());
            }
            let value = kernel_max(swap_only);
            self.set(
                "memory.swap.max",
                &value,
                "memory",
                "swap limit",
                format_args!("limit swap to {}", describe_limit(swap_only)),
            )?;
        }
        Ok(())
    }

    /// `cpu.max` holds "QUOTA PERIOD" (QUOTA `max` for none) and `cpu.weight` the
    /// relative weight, 1 to 10000 with 100 normal, converted from v1's shares.
    fn apply_cpu(&self, cpu: &LinuxCpu) -> Result<()> {
        if let Some(shares) = cpu.shares().filter(|&s| s != 0) {
            let weight = shares_to_weight(shares);
            self.set(
                "cpu.weight",
                &weight.to_string(),
                "cpu",
                "CPU shares",
                format_args!("weigh CPU time at {weight} ({shares} shares; 100 is normal)"),
            )?;
        }
        let quota = |q: i64| {
            if q > 0 {
                q.to_string()
            } else {
                "max".to_string()
            }
        };
        let max = match (cpu.quota(), cpu.period()) {
            (None, None) => None,
            (Some(q), None) => Some(quota(q)),
            (Some(q), Some(period)) => Some(format!("{} {period}", quota(q))),
            (None, Some(period)) => {
                // Keep the quota there is, change only the period.
                let path = self.dir.join("cpu.max");
                let current = files::read(&path).map_err(|_| Error::ControllerMissing {
                    controller: "cpu",
                    path: self.dir.clone(),
                    what: "CPU period",
                })?;
                let current = current
                    .split_whitespace()
                    .next()
                    .unwrap_or("max")
                    .to_string();
                Some(format!("{current} {period}"))
            }
        };
        if let Some(max) = max {
            self.set(
                "cpu.max",
                &max,
                "cpu",
                "CPU quota",
                format_args!("allow QUOTA PERIOD = {max} (microseconds)"),
            )?;
        }
        for (file, value) in [("cpuset.cpus", cpu.cpus()), ("cpuset.mems", cpu.mems())] {
            if let Some(value) = value {
                self.set(
                    file,
                    value,
                    "cpuset",
                    "cpuset",
                    format_args!("run only on {file} {value}"),
                )?;
            }
        }
        Ok(())
    }

    fn set(
        &self,
        file: &str,
        value: &str,
        controller: &'static str,
        what: &'static str,
        why: std::fmt::Arguments<'_>,
    ) -> Result<()> {
        files::write_setting(&self.dir.join(file), value, controller, what, why)
    }

    /// Writes 1 to `cgroup.freeze`, then waits for `cgroup.events` to say
    /// `frozen 1`: freezing takes effect asynchronously (cgroup-v2.rst, "Core Interface Files").
    pub(crate) fn freeze(&self) -> Result<()> {
        self.set_frozen(true)
    }

    pub(crate) fn thaw(&self) -> Result<()> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let (value, what) = if frozen {
            ("1", "freeze")
        } else {
            ("0", "thaw")
        };
        let path = self.dir.join("cgroup.freeze");
        files::write_setting(
            &path,
            value,
            "freezer (cgroup.freeze, Linux 5.2)",
            "freeze",
            format_args!("{what} every process in the cgroup"),
        )?;
        let events = self.dir.join("cgroup.events");
        let wanted = format!("frozen {value}");
        if files::wait_for(
            &events,
            FREEZE_TIMEOUT,
            |s| s.lines().any(|l| l.trim() == wanted),
            || Ok(()),
        )? {
            return Ok(());
        }
        if frozen {
            let _ = self.thaw();
        }
        Err(Error::FreezeTimeout {
            path: events,
            wanted: if frozen { "frozen" } else { "thawed" },
            waited_ms: FREEZE_TIMEOUT.as_millis() as u64,
        })
    }

    pub(crate) fn stats(&self) -> Result<Stats> {
        let mut stats = Stats::default();
        let current = self.dir.join("memory.current");
        if current.exists() {
            let usage = files::read_u64(&current)?;
            let inactive = files::read_keyed(&self.dir.join("memory.stat"), "inactive_file")?;
            stats.memory_usage = Some(docker_memory_usage(usage, inactive));
            let max_path = self.dir.join("memory.max");
            let max = files::read(&max_path)?;
            stats.memory_limit = match max.trim() {
                "max" => None,
                n => Some(n.parse().map_err(|_| Error::Parse {
                    path: max_path,
                    content: max.clone(),
                })?),
            };
        }
        // cpu.stat is a core file: CPU time is counted even without the cpu controller.
        let usage_usec = files::read_keyed(&self.dir.join("cpu.stat"), "usage_usec")?;
        stats.cpu_usage_ns = usage_usec.map(|us| us * 1000);
        let pids = self.dir.join("pids.current");
        if pids.exists() {
            stats.pids_current = Some(files::read_u64(&pids)?);
        }
        Ok(stats)
    }

    /// `oom_kill` in `memory.events`: processes the OOM killer killed in this
    /// cgroup and below.
    pub(crate) fn oom_killed(&self) -> Result<bool> {
        let path = self.dir.join("memory.events");
        if !path.exists() {
            return Err(Error::ControllerMissing {
                controller: "memory",
                path: self.dir.clone(),
                what: "OOM kill count",
            });
        }
        Ok(files::read_keyed(&path, "oom_kill")?.unwrap_or(0) > 0)
    }

    pub(crate) fn pids(&self) -> Result<Vec<Pid>> {
        let mut pids = files::read_pids(&self.dir.join("cgroup.procs"))?;
        pids.sort();
        Ok(pids)
    }

    /// Kills what is left and removes the directory. `cgroup.kill` (Linux 5.14)
    /// kills every process, forks included; without it, freeze, kill, thaw.
    pub(crate) fn remove(&self) -> Result<()> {
        if !self.dir.exists() {
            return Ok(());
        }
        let pids = self.pids()?;
        if !pids.is_empty() {
            let kill = self.dir.join("cgroup.kill");
            if kill.exists() {
                files::write(
                    &kill,
                    "1",
                    format_args!("kill every process left in the cgroup"),
                )?;
            } else {
                let frozen = self.freeze().is_ok();
                for pid in pids {
                    explain!("kill(2) process {pid} left in the cgroup"; "kill -KILL {pid}");
                    let _ = signal::kill(pid, Signal::SIGKILL);
                }
                if frozen {
                    self.thaw()?;
                }
            }
        }
        files::rmdir(&self.dir)
    }
}

/// Enables [`CONTROLLERS`] for the children of `dir`, those that `dir` has and that
/// are not enabled yet, in one write such as `+cpu +memory`.
fn enable_controllers(dir: &Path) -> Result<()> {
    let available = files::read(&dir.join("cgroup.controllers"))?;
    let enabled = files::read(&dir.join("cgroup.subtree_control"))?;
    let missing: Vec<String> = CONTROLLERS
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    files::write(
        &dir.join("cgroup.subtree_control"),
        &missing.join(" "),
        format_args!("enable controllers for the cgroups below {}", dir.display()),
    )
}

/// runc's conversion of v1 CPU shares (2..262144, 1024 normal) to a v2 weight
/// (1..10000, 100 normal): a quadratic on a log scale that maps 2, 1024 and 262144
/// to 1, 100 and 10000 (runc 1.3.2, opencontainers/cgroups PR 20; the older linear
/// formula gave 1024 shares a weight of 39, not 100).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    // Round before ceil so float noise at exact powers (1024 -> 100.0000001) does not add one.
    let weight = (10f64.powf(exponent) * 1e6).round() / 1e6;
    (weight.ceil() as u64).clamp(1, 10_000)
}

/// v2 files take `max` for "no limit" where the OCI spec says -1.
fn kernel_max(value: i64) -> String {
    if value < 0 {
        "max".to_string()
    } else {
        value.to_string()
    }
}
