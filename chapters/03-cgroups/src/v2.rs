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

use crate::cgroup::{BlockIo, FREEZE_TIMEOUT, Stats, docker_memory_usage};
use crate::error::{Error, Result};
use crate::files;
use crate::limits::{describe_limit, memory_and_swap, pids_max};

/// The controllers a container's limits use, enabled for the cgroups below ours.
/// (`io` limits nothing yet, but counts the bytes `docker stats` shows.)
const CONTROLLERS: [&str; 5] = ["cpu", "cpuset", "io", "memory", "pids"];

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
        files::ensure_dir(&parent_dir)?;
        enable_controllers(&parent_dir)?;
        let dir = parent_dir.join(name);
        if !files::mkdir(&dir)? {
            return Err(Error::AlreadyExists(dir));
        }
        Ok(V2Cgroup { dir })
    }

    /// `root/parent/name`, whether or not it exists.
    pub(crate) fn locate(root: &Path, parent: &str, name: &str) -> V2Cgroup {
        V2Cgroup {
            dir: root.join(parent).join(name),
        }
    }

    /// Finds the existing `root/parent/name`.
    pub(crate) fn open(root: &Path, parent: &str, name: &str) -> Result<V2Cgroup> {
        let cgroup = V2Cgroup::locate(root, parent, name);
        if !cgroup.dir.is_dir() {
            let cgroup = format!("{parent}/{name}");
            return Err(Error::NotFound {
                cgroup,
                root: root.to_path_buf(),
            });
        }
        Ok(cgroup)
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
            if let Some(value) = pids_max(pids.limit()) {
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
        let Some((limit, swap)) = memory_and_swap(memory)? else {
            return Ok(());
        };
        let swap_only = match swap {
            None => None,
            Some(-1) => Some(-1),
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
        let sets = [("cpus", cpu.cpus()), ("mems", cpu.mems())];
        for (what, value) in sets {
            if let Some(value) = value {
                let available = self.dir.join(format!("cpuset.{what}.effective"));
                files::write_cpuset(&self.dir.join(format!("cpuset.{what}")), value, &available)?;
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
        let io = self.dir.join("io.stat");
        if io.exists() {
            stats.block_io = Some(parse_io_stat(&files::read(&io)?));
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

// ANCHOR: io_stat
/// The bytes in an `io.stat` (a "nested keyed" file, cgroup-v2.rst: one line
/// per device, `8:16 rbytes=1459200 wbytes=314773504 rios=192 ...`), every
/// device summed, as docker's `BLOCK I/O` sums them. Empty until the first I/O.
fn parse_io_stat(content: &str) -> BlockIo {
    let mut total = BlockIo::default();
    for (key, value) in content
        .lines()
        .flat_map(|line| line.split_whitespace().skip(1))
        .filter_map(|pair| pair.split_once('='))
    {
        let value: u64 = value.parse().unwrap_or(0);
        match key {
            "rbytes" => total.read += value,
            "wbytes" => total.write += value,
            _ => {}
        }
    }
    total
}
// ANCHOR_END: io_stat

// ANCHOR: enable_controllers
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
// ANCHOR_END: enable_controllers

// ANCHOR: shares_to_weight
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
    // Round to a millionth before ceil, so float noise just above a whole weight cannot add one.
    let weight = (10f64.powf(exponent) * 1e6).round() / 1e6;
    (weight.ceil() as u64).clamp(1, 10_000)
}
// ANCHOR_END: shares_to_weight

/// v2 files take `max` for "no limit" where the OCI spec says -1.
fn kernel_max(value: i64) -> String {
    if value < 0 {
        "max".to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{put, read};
    use crate::{Cgroup, Hierarchy, Limits, Setup, Stats};

    /// A fake unified root whose `dockyard/` parent exists already with some
    /// controllers enabled (the kernel would have made its files on mkdir).
    fn fake_root() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        put(
            root.path(),
            &[
                (
                    "cgroup.controllers",
                    "cpuset cpu io memory hugetlb pids rdma misc\n",
                ),
                ("cgroup.subtree_control", "\n"),
                ("dockyard/cgroup.controllers", "cpuset cpu io memory pids\n"),
                ("dockyard/cgroup.subtree_control", "cpu memory\n"),
            ],
        );
        root
    }

    /// A created `dockyard/c` with the files the kernel shows in it, at their defaults.
    fn fresh_cgroup(root: &Path) -> Cgroup {
        let cgroup = Hierarchy::new(Setup::Unified, root)
            .create("dockyard", "c")
            .unwrap();
        put(
            &root.join("dockyard/c"),
            &[
                ("cgroup.procs", ""),
                ("cgroup.freeze", "0\n"),
                ("cgroup.events", "populated 0\nfrozen 0\n"),
                ("cpu.max", "max 100000\n"),
                ("cpu.weight", "100\n"),
                ("cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"),
                ("cpuset.cpus", "\n"),
                ("memory.max", "max\n"),
                ("memory.swap.max", "max\n"),
                ("pids.max", "max\n"),
            ],
        );
        cgroup
    }

    #[test]
    fn create_enables_the_controllers_it_needs_on_the_way_down() {
        let root = fake_root();
        let cgroup = Hierarchy::new(Setup::Unified, root.path())
            .create("dockyard", "c")
            .unwrap();
        assert_eq!(cgroup.dirs(), vec![root.path().join("dockyard/c")]);
        assert!(root.path().join("dockyard/c").is_dir());
        // The root had none enabled: all four, in one write.
        assert_eq!(
            read(root.path(), "cgroup.subtree_control"),
            "+cpu +cpuset +io +memory +pids"
        );
        // The parent had cpu and memory: only the others.
        assert_eq!(
            read(root.path(), "dockyard/cgroup.subtree_control"),
            "+cpuset +io +pids"
        );

        let again = Hierarchy::new(Setup::Unified, root.path()).create("dockyard", "c");
        assert!(matches!(again, Err(Error::AlreadyExists(_))), "{again:?}");
    }

    #[test]
    fn named_finds_what_open_finds_and_a_missing_cgroup_too() {
        let root = fake_root();
        let hierarchy = Hierarchy::new(Setup::Unified, root.path());
        let made = fresh_cgroup(root.path());
        assert_eq!(
            hierarchy.named("dockyard", "c").unwrap().dirs(),
            hierarchy.open("dockyard", "c").unwrap().dirs()
        );
        assert_eq!(
            made.dirs(),
            hierarchy.named("dockyard", "c").unwrap().dirs()
        );
        // Gone already: open says so, named does not look, and removing it is
        // done at once.
        let gone = hierarchy.named("dockyard", "gone").unwrap();
        assert!(matches!(
            hierarchy.open("dockyard", "gone"),
            Err(Error::NotFound { .. })
        ));
        gone.remove().unwrap();
        assert!(matches!(
            hierarchy.named("..", "c"),
            Err(Error::InvalidName(_))
        ));
    }

    #[test]
    fn create_enables_only_what_the_parent_offers() {
        let root = fake_root();
        put(root.path(), &[("cgroup.controllers", "memory hugetlb\n")]);
        Hierarchy::new(Setup::Unified, root.path())
            .create("dockyard", "c")
            .unwrap();
        assert_eq!(read(root.path(), "cgroup.subtree_control"), "+memory");
    }

    #[test]
    fn apply_writes_dockers_limits_in_v2_terms() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let limits = Limits {
            memory: Some(64 << 20),
            memory_swap: Some(100 << 20),
            cpus: Some(500_000_000),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0".to_string()),
            pids_limit: Some(64),
        };
        cgroup.apply(&limits.resources().unwrap()).unwrap();
        let dir = root.path().join("dockyard/c");
        assert_eq!(read(&dir, "memory.max"), "67108864");
        // v2 limits swap alone: 100m total - 64m memory = 36m.
        assert_eq!(read(&dir, "memory.swap.max"), (36u64 << 20).to_string());
        assert_eq!(read(&dir, "cpu.max"), "50000 100000");
        assert_eq!(read(&dir, "cpu.weight"), shares_to_weight(512).to_string());
        assert_eq!(read(&dir, "cpuset.cpus"), "0");
        assert_eq!(read(&dir, "pids.max"), "64");
    }

    #[test]
    fn unlimited_is_spelled_max() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let limits = Limits {
            memory: Some(64 << 20),
            memory_swap: Some(-1),
            pids_limit: Some(-1),
            ..Limits::default()
        };
        cgroup.apply(&limits.resources().unwrap()).unwrap();
        let dir = root.path().join("dockyard/c");
        assert_eq!(read(&dir, "memory.swap.max"), "max");
        assert_eq!(read(&dir, "pids.max"), "max");
    }

    #[test]
    fn a_period_alone_keeps_the_quota() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        put(
            &root.path().join("dockyard/c"),
            &[("cpu.max", "50000 100000\n")],
        );
        let mut cpu = LinuxCpu::default();
        cpu.set_period(Some(200_000));
        let mut resources = LinuxResources::default();
        resources.set_cpu(Some(cpu));
        cgroup.apply(&resources).unwrap();
        assert_eq!(
            read(&root.path().join("dockyard/c"), "cpu.max"),
            "50000 200000"
        );
    }

    #[test]
    fn a_swap_limit_under_unlimited_memory_is_refused() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let mut memory = LinuxMemory::default();
        memory.set_limit(Some(-1));
        memory.set_swap(Some(64 << 20));
        let mut resources = LinuxResources::default();
        resources.set_memory(Some(memory));
        let err = cgroup.apply(&resources).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the memory+swap limit (64MiB) must be at least the memory limit (unlimited)"
        );
        assert_eq!(read(&root.path().join("dockyard/c"), "memory.max"), "max\n");
    }

    #[test]
    fn without_swap_accounting_only_memory_is_limited() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let dir = root.path().join("dockyard/c");
        std::fs::remove_file(dir.join("memory.swap.max")).unwrap();
        let limits = Limits {
            memory: Some(64 << 20),
            ..Limits::default()
        };
        cgroup.apply(&limits.resources().unwrap()).unwrap();
        assert_eq!(read(&dir, "memory.max"), "67108864");
        assert!(!dir.join("memory.swap.max").exists());
    }

    #[test]
    fn a_memory_limit_without_the_memory_controller_is_an_error() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        std::fs::remove_file(root.path().join("dockyard/c/memory.max")).unwrap();
        let limits = Limits {
            memory: Some(64 << 20),
            ..Limits::default()
        };
        let err = cgroup.apply(&limits.resources().unwrap()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::ControllerMissing {
                    controller: "memory",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn stats_read_what_docker_stats_shows() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let dir = root.path().join("dockyard/c");
        put(
            &dir,
            &[
                ("memory.current", "10485760\n"),
                (
                    "memory.stat",
                    "anon 6291456\nfile 4194304\nactive_file 2097152\ninactive_file 2097152\n",
                ),
                ("memory.max", "67108864\n"),
                (
                    "cpu.stat",
                    "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
                ),
                ("pids.current", "2\n"),
            ],
        );
        assert_eq!(
            cgroup.stats().unwrap(),
            Stats {
                memory_usage: Some(8 << 20),
                memory_limit: Some(64 << 20),
                cpu_usage_ns: Some(1_500_000),
                pids_current: Some(2),
                // No io.stat: the io controller is not enabled there.
                block_io: None,
            }
        );
        put(&dir, &[("memory.max", "max\n")]);
        assert_eq!(cgroup.stats().unwrap().memory_limit, None);
    }

    #[test]
    fn block_io_sums_every_device_in_io_stat() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let dir = root.path().join("dockyard/c");
        put(&dir, &[("io.stat", "")]);
        assert_eq!(cgroup.stats().unwrap().block_io, Some(BlockIo::default()));
        put(
            &dir,
            &[(
                "io.stat",
                "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n\
                 253:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
            )],
        );
        assert_eq!(
            cgroup.stats().unwrap().block_io,
            Some(BlockIo {
                read: 1_459_200 + 4096,
                write: 314_773_504,
            })
        );
    }

    #[test]
    fn oom_kills_are_read_from_memory_events() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let dir = root.path().join("dockyard/c");
        put(
            &dir,
            &[(
                "memory.events",
                "low 0\nhigh 0\nmax 12\noom 0\noom_kill 0\n",
            )],
        );
        assert!(!cgroup.oom_killed().unwrap());
        put(
            &dir,
            &[(
                "memory.events",
                "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n",
            )],
        );
        assert!(cgroup.oom_killed().unwrap());
    }

    #[test]
    fn freeze_writes_cgroup_freeze_and_waits_for_the_event() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let dir = root.path().join("dockyard/c");
        // The kernel would report it in cgroup.events once every task is frozen.
        put(&dir, &[("cgroup.events", "populated 1\nfrozen 1\n")]);
        cgroup.freeze().unwrap();
        assert_eq!(read(&dir, "cgroup.freeze"), "1");
        put(&dir, &[("cgroup.events", "populated 1\nfrozen 0\n")]);
        cgroup.thaw().unwrap();
        assert_eq!(read(&dir, "cgroup.freeze"), "0");
    }

    #[test]
    fn shares_map_to_weights_as_runc_maps_them() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(262_144), 10_000);
        // log2(512) = 9: 10^((81 + 1125)/612 - 7/34) = 10^1.7647 = 58.18, rounded up.
        assert_eq!(shares_to_weight(512), 59);
        // Out of v1's range: clamped, as the kernel clamps shares.
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(shares_to_weight(1 << 20), 10_000);
    }

    #[test]
    fn a_process_enters_through_cgroup_procs() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        cgroup.enter().unwrap();
        assert_eq!(read(&root.path().join("dockyard/c"), "cgroup.procs"), "0");
    }
}
