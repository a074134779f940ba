//! cgroup v1: one hierarchy per controller, so one directory per controller.
//!
//! A container's cgroup `dockyard/ID` is the directory `dockyard/ID` made in each
//! controller's hierarchy (`/sys/fs/cgroup/memory/dockyard/ID`,
//! `/sys/fs/cgroup/cpu/dockyard/ID`...), and the container's processes are written
//! into each. Controllers mounted together (`cpu,cpuacct` on most distributions,
//! reached through `cpu` and `cpuacct` symlinks) share one directory.
//! Kernel docs: Documentation/admin-guide/cgroup-v1/{cgroups,memory,cpusets,pids,freezer-subsystem}.rst.

use std::path::{Path, PathBuf};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxResources};

use ch01_chroot::explain;

use crate::cgroup::{BlockIo, FREEZE_TIMEOUT, Stats, docker_memory_usage};
use crate::error::{Error, Result};
use crate::files;
use crate::limits::{describe_limit, memory_and_swap, pids_max};

/// The controllers a container's cgroup is made in (blkio only to count the
/// bytes `docker stats` shows).
const CONTROLLERS: [&str; 7] = [
    "memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "blkio",
];

/// v1's "no limit", as `memory.limit_in_bytes` reads back: the largest page count
/// times the page size. Anything this large means unlimited.
const UNLIMITED_FROM: u64 = 1 << 62;

/// A container's cgroup in a v1 hierarchy: its directory in each controller.
#[derive(Debug, Clone)]
pub struct V1Cgroup {
    /// Each mounted controller and its directory for this cgroup. Co-mounted
    /// controllers have the same directory.
    dirs: Vec<(&'static str, PathBuf)>,
    /// How many components `parent/name` has: each directory's ancestor that
    /// many levels up is its hierarchy's mount point.
    depth: usize,
}

impl V1Cgroup {
    /// Where `parent/name` is in each controller mounted under `root`.
    pub(crate) fn locate(root: &Path, parent: &str, name: &str) -> V1Cgroup {
        let dirs = CONTROLLERS
            .iter()
            .filter_map(|&controller| {
                // Resolve the `cpu` -> `cpu,cpuacct` symlinks, so co-mounted
                // controllers are seen to share a directory. Only the last
                // component can be one: one readlink(2) per controller, where
                // canonicalize made one per component of the path, for every
                // cgroup an engine opens. EINVAL (InvalidInput): not a link,
                // the mount itself (readlink(2)).
                let path = root.join(controller);
                let mount = match std::fs::read_link(&path) {
                    Ok(target) => root.join(target),
                    Err(err) if err.kind() == std::io::ErrorKind::InvalidInput => path,
                    Err(_) => return None,
                };
                Some((controller, mount.join(parent).join(name)))
            })
            .collect();
        let depth = Path::new(parent).join(name).components().count();
        V1Cgroup { dirs, depth }
    }

    /// Makes `parent/name` in every controller's hierarchy.
    pub(crate) fn create(root: &Path, parent: &str, name: &str) -> Result<V1Cgroup> {
        let cgroup = V1Cgroup::locate(root, parent, name);
        let mut made = Vec::new();
        let result = cgroup.make_dirs(&mut made);
        if result.is_err() {
            // Leave nothing half-made behind.
            for dir in made.iter().rev() {
                let _ = files::rmdir(dir);
            }
        }
        result.map(|()| cgroup)
    }

    fn make_dirs(&self, made: &mut Vec<PathBuf>) -> Result<()> {
        for dir in self.unique_dirs() {
            let is_cpuset = self.dir("cpuset").ok() == Some(dir);
            let parent = dir.parent().expect("a cgroup dir has a parent");
            files::ensure_dir(parent)?;
            if is_cpuset {
                inherit_cpuset(parent)?;
            }
            if !files::mkdir(dir)? {
                return Err(Error::AlreadyExists(dir.to_path_buf()));
            }
            made.push(dir.to_path_buf());
            if is_cpuset {
                inherit_cpuset(dir)?;
            }
        }
        Ok(())
    }

    /// Finds an existing `parent/name`: it must exist in at least one controller.
    pub(crate) fn open(root: &Path, parent: &str, name: &str) -> Result<V1Cgroup> {
        let mut cgroup = V1Cgroup::locate(root, parent, name);
        cgroup.dirs.retain(|(_, dir)| dir.is_dir());
        if cgroup.dirs.is_empty() {
            let cgroup = format!("{parent}/{name}");
            return Err(Error::NotFound {
                cgroup,
                root: root.to_path_buf(),
            });
        }
        Ok(cgroup)
    }

    /// Each directory once, in controller order.
    pub(crate) fn unique_dirs(&self) -> Vec<&Path> {
        let mut dirs: Vec<&Path> = Vec::new();
        for (_, dir) in &self.dirs {
            if !dirs.contains(&dir.as_path()) {
                dirs.push(dir);
            }
        }
        dirs
    }

    /// Each directory once, with its hierarchy's name under the cgroup root
    /// (`memory`, `cpu,cpuacct`): where a container is shown it (see
    /// [`add_cgroup_mounts`](crate::add_cgroup_mounts)).
    pub fn hierarchies(&self) -> Vec<(String, &Path)> {
        self.unique_dirs()
            .into_iter()
            .filter_map(|dir| {
                let mount = dir.ancestors().nth(self.depth)?;
                Some((mount.file_name()?.to_str()?.to_string(), dir))
            })
            .collect()
    }

    /// This cgroup's directory in `controller`'s hierarchy.
    fn dir(&self, controller: &'static str) -> Result<&Path> {
        self.dirs
            .iter()
            .find(|(c, _)| *c == controller)
            .map(|(_, dir)| dir.as_path())
            .ok_or_else(|| Error::ControllerMissing {
                controller,
                path: self
                    .dirs
                    .first()
                    .map(|(_, d)| d.clone())
                    .unwrap_or_default(),
                what: "settings (the controller is not mounted)",
            })
    }

    pub(crate) fn add_task(&self, pid: Pid) -> Result<()> {
        for dir in self.unique_dirs() {
            files::write(
                &dir.join("cgroup.procs"),
                &pid.to_string(),
                format_args!("move process {pid} into {}", dir.display()),
            )?;
        }
        Ok(())
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
                let path = self.dir("pids")?.join("pids.max");
                files::write_setting(
                    &path,
                    &value,
                    "pids",
                    "pids limit",
                    format_args!("allow at most {value} processes"),
                )?;
            }
        }
        Ok(())
    }

    // ANCHOR: apply_memory
    /// `memory.limit_in_bytes` caps memory, `memory.memsw.limit_in_bytes` memory plus
    /// swap (cgroup-v1/memory.rst, 2.4). The kernel keeps memsw >= memory at every
    /// moment, so the order of the two writes depends on which way they move (as runc).
    fn apply_memory(&self, memory: &LinuxMemory) -> Result<()> {
        let Some((limit, swap)) = memory_and_swap(memory)? else {
            return Ok(());
        };
        // LAB: write `limit` to memory.limit_in_bytes and, if there is a `swap`, write it to memory.memsw.limit_in_bytes (when that file is missing, swap accounting is off: set only the memory limit), each with files::write_setting; the kernel refuses a memory limit above memory+swap at every moment, so write memsw first when it grows (or is -1) and the memory limit first otherwise
        let dir = self.dir("memory")?;
        let limit_file = dir.join("memory.limit_in_bytes");
        let memsw_file = dir.join("memory.memsw.limit_in_bytes");
        let set_limit = || {
            files::write_setting(
                &limit_file,
                &limit.to_string(),
                "memory",
                "memory limit",
                format_args!("limit memory to {}", describe_limit(limit)),
            )
        };
        let Some(swap) = swap else { return set_limit() };
        if !memsw_file.exists() {
            // Swap accounting is off (kernel built without it, or booted with
            // swapaccount=0): docker warns and goes on without a swap limit.
            explain!(
                "no {} here: swap accounting is off, swap is not limited",
                memsw_file.display()
            );
            return set_limit();
        }
        let set_swap = || {
            files::write_setting(
                &memsw_file,
                &swap.to_string(),
                "memory",
                "memory+swap limit",
                format_args!("limit memory+swap to {}", describe_limit(swap)),
            )
        };
        let current = files::read_u64(&limit_file)?;
        if swap == -1 || current < swap as u64 {
            set_swap()?;
            set_limit()
        } else {
            set_limit()?;
            set_swap()
        }
        // LAB: END
    }
    // ANCHOR_END: apply_memory

    /// CFS bandwidth (`cpu.cfs_period_us`, `cpu.cfs_quota_us`: the scheduler's
    /// Documentation/scheduler/sched-bwc.rst), `cpu.shares`, and the cpuset.
    fn apply_cpu(&self, cpu: &LinuxCpu) -> Result<()> {
        if let Some(shares) = cpu.shares().filter(|&s| s != 0) {
            let path = self.dir("cpu")?.join("cpu.shares");
            files::write_setting(
                &path,
                &shares.to_string(),
                "cpu",
                "CPU shares",
                format_args!("weigh CPU time at {shares} shares (1024 is normal)"),
            )?;
        }
        if let Some(period) = cpu.period() {
            let path = self.dir("cpu")?.join("cpu.cfs_period_us");
            files::write_setting(
                &path,
                &period.to_string(),
                "cpu",
                "CPU period",
                format_args!("measure CPU time in periods of {period}us"),
            )?;
        }
        if let Some(quota) = cpu.quota() {
            let value = if quota <= 0 { -1 } else { quota };
            let path = self.dir("cpu")?.join("cpu.cfs_quota_us");
            files::write_setting(
                &path,
                &value.to_string(),
                "cpu",
                "CPU quota",
                format_args!("allow {value}us of CPU time per period"),
            )?;
        }
        let sets = [("cpus", cpu.cpus()), ("mems", cpu.mems())];
        for (what, value) in sets {
            if let Some(value) = value {
                let dir = self.dir("cpuset")?;
                let parent = dir.parent().expect("a cgroup dir has a parent");
                let available = parent.join(format!("cpuset.effective_{what}"));
                files::write_cpuset(&dir.join(format!("cpuset.{what}")), value, &available)?;
            }
        }
        Ok(())
    }

    // ANCHOR: freeze
    /// Writes `FROZEN` and waits until the state reads `FROZEN` rather than
    /// `FREEZING` (cgroup-v1/freezer-subsystem.rst).
    pub(crate) fn freeze(&self) -> Result<()> {
        let state = self.freezer_state()?;
        let freeze = || {
            files::write(
                &state,
                "FROZEN",
                format_args!("freeze every process in the cgroup"),
            )
        };
        freeze()?;
        if files::wait_for(&state, FREEZE_TIMEOUT, |s| s.trim() == "FROZEN", freeze)? {
            return Ok(());
        }
        // Do not leave it half-frozen.
        let _ = self.thaw();
        Err(Error::FreezeTimeout {
            path: state,
            wanted: "FROZEN",
            waited_ms: FREEZE_TIMEOUT.as_millis() as u64,
        })
    }
    // ANCHOR_END: freeze

    pub(crate) fn thaw(&self) -> Result<()> {
        let state = self.freezer_state()?;
        files::write(
            &state,
            "THAWED",
            format_args!("thaw every process in the cgroup"),
        )?;
        if files::wait_for(&state, FREEZE_TIMEOUT, |s| s.trim() == "THAWED", || Ok(()))? {
            return Ok(());
        }
        Err(Error::FreezeTimeout {
            path: state,
            wanted: "THAWED",
            waited_ms: FREEZE_TIMEOUT.as_millis() as u64,
        })
    }

    fn freezer_state(&self) -> Result<PathBuf> {
        let path = self.dir("freezer")?.join("freezer.state");
        if !path.exists() {
            let dir = path.parent().unwrap_or(&path).to_path_buf();
            return Err(Error::ControllerMissing {
                controller: "freezer",
                path: dir,
                what: "freeze",
            });
        }
        Ok(path)
    }

    pub(crate) fn stats(&self) -> Result<Stats> {
        let mut stats = Stats::default();
        if let Ok(dir) = self.dir("memory") {
            let usage = files::read_u64(&dir.join("memory.usage_in_bytes"))?;
            let inactive = files::read_keyed(&dir.join("memory.stat"), "total_inactive_file")?;
            stats.memory_usage = Some(docker_memory_usage(usage, inactive));
            let limit = files::read_u64(&dir.join("memory.limit_in_bytes"))?;
            stats.memory_limit = (limit < UNLIMITED_FROM).then_some(limit);
        }
        if let Ok(dir) = self.dir("cpuacct") {
            stats.cpu_usage_ns = Some(files::read_u64(&dir.join("cpuacct.usage"))?);
        }
        if let Ok(dir) = self.dir("pids") {
            stats.pids_current = Some(files::read_u64(&dir.join("pids.current"))?);
        }
        if let Ok(dir) = self.dir("blkio") {
            // The throttle policy's counters exist whatever the I/O scheduler
            // (the CFQ ones do not); `_recursive` adds the cgroups below
            // (Linux 4.18), as containerd reads them for docker.
            let recursive = dir.join("blkio.throttle.io_service_bytes_recursive");
            let path = match recursive.exists() {
                true => recursive,
                false => dir.join("blkio.throttle.io_service_bytes"),
            };
            if path.exists() {
                stats.block_io = Some(parse_io_service_bytes(&files::read(&path)?));
            }
        }
        Ok(stats)
    }

    // ANCHOR: oom_killed
    /// `oom_kill` in `memory.oom_control` counts the processes the OOM killer killed
    /// in this cgroup (Linux 4.13 and later).
    pub(crate) fn oom_killed(&self) -> Result<bool> {
        let path = self.dir("memory")?.join("memory.oom_control");
        match files::read_keyed(&path, "oom_kill")? {
            Some(kills) => Ok(kills > 0),
            None => Err(Error::Parse {
                content: files::read(&path)?,
                path,
            }),
        }
    }
    // ANCHOR_END: oom_killed

    /// Every process in any of this cgroup's directories.
    pub(crate) fn pids(&self) -> Result<Vec<Pid>> {
        procs_in(&self.unique_dirs())
    }

    // ANCHOR: remove
    /// Kills what is left and removes every directory. A frozen process cannot act
    /// on SIGKILL in v1, and a running one could fork past our list: so freeze,
    /// kill each process, thaw, then rmdir (as runc's `signalAllProcesses`).
    pub(crate) fn remove(&self) -> Result<()> {
        let present: Vec<&Path> = self
            .unique_dirs()
            .into_iter()
            .filter(|d| d.exists())
            .collect();
        if present.is_empty() {
            return Ok(());
        }
        // A half-removed cgroup (an earlier removal that failed) lacks some directories.
        let pids = procs_in(&present)?;
        if !pids.is_empty() {
            let frozen = self.freezer_state().is_ok() && self.freeze().is_ok();
            for pid in pids {
                explain!("kill(2) process {pid} left in the cgroup"; "kill -KILL {pid}");
                match signal::kill(pid, Signal::SIGKILL) {
                    Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                    Err(errno) => {
                        return Err(Error::Io {
                            op: format!("kill -KILL {pid}, listed in"),
                            path: present[0].join("cgroup.procs"),
                            cause: errno.into(),
                        });
                    }
                }
            }
            if frozen {
                self.thaw()?;
            }
        }
        let mut first_error = None;
        for dir in present {
            if let Err(err) = files::rmdir(dir) {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
    // ANCHOR_END: remove
}

// ANCHOR: inherit_cpuset
/// A new v1 cpuset starts with no CPUs and no memory nodes, and no task can join
/// it until both are set (cgroup-v1/cpusets.rst, 1.9 and 2.1): copy the parent's.
fn inherit_cpuset(dir: &Path) -> Result<()> {
    let parent = dir.parent().expect("a cgroup dir has a parent");
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if files::read(&dir.join(file))?.trim().is_empty() {
            let inherited = files::read(&parent.join(file))?;
            files::write(
                &dir.join(file),
                inherited.trim(),
                format_args!("give the new cpuset its parent's {file}"),
            )?;
        }
    }
    Ok(())
}
// ANCHOR_END: inherit_cpuset

/// The processes listed in the `cgroup.procs` of any of `dirs`, each once, in order.
fn procs_in(dirs: &[&Path]) -> Result<Vec<Pid>> {
    let mut pids = Vec::new();
    for dir in dirs {
        for pid in files::read_pids(&dir.join("cgroup.procs"))? {
            if !pids.contains(&pid) {
                pids.push(pid);
            }
        }
    }
    pids.sort();
    Ok(pids)
}

// ANCHOR: io_service_bytes
/// The bytes in a `blkio.throttle.io_service_bytes` file (cgroup-v1/blkio-controller.rst:
/// `MAJOR:MINOR OPERATION BYTES` per line, operations `Read`, `Write`, `Sync`,
/// `Async`, `Discard`, `Total`, then a last `Total BYTES`), every device summed.
fn parse_io_service_bytes(content: &str) -> BlockIo {
    let mut total = BlockIo::default();
    for line in content.lines() {
        let [_device, op, bytes] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            continue;
        };
        let bytes: u64 = bytes.parse().unwrap_or(0);
        match op {
            "Read" => total.read += bytes,
            "Write" => total.write += bytes,
            _ => {}
        }
    }
    total
}
// ANCHOR_END: io_service_bytes

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::testing::{put, read};
    use crate::{Cgroup, Hierarchy, Limits, Setup, Stats};

    const UNLIMITED: &str = "9223372036854771712\n";

    /// A fake v1 root: `cpu` and `cpuacct` co-mounted as on most distributions
    /// (`cpu,cpuacct` plus two symlinks), the other controllers each on their own.
    fn fake_root() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for dir in ["memory", "cpu,cpuacct", "pids", "freezer"] {
            std::fs::create_dir(root.path().join(dir)).unwrap();
        }
        symlink("cpu,cpuacct", root.path().join("cpu")).unwrap();
        symlink("cpu,cpuacct", root.path().join("cpuacct")).unwrap();
        root
    }

    /// The files the kernel shows in a fresh v1 cgroup `dockyard/c`, with their defaults.
    fn fresh_cgroup(root: &Path) -> Cgroup {
        let dir = |c: &str| root.join(c).join("dockyard/c");
        put(
            &dir("memory"),
            &[
                ("memory.limit_in_bytes", UNLIMITED),
                ("memory.memsw.limit_in_bytes", UNLIMITED),
                ("cgroup.procs", ""),
                ("tasks", ""),
            ],
        );
        put(
            &dir("cpu,cpuacct"),
            &[
                ("cpu.shares", "1024\n"),
                ("cpu.cfs_period_us", "100000\n"),
                ("cpu.cfs_quota_us", "-1\n"),
                ("cgroup.procs", ""),
                ("tasks", ""),
            ],
        );
        put(
            &dir("pids"),
            &[("pids.max", "max\n"), ("cgroup.procs", ""), ("tasks", "")],
        );
        put(
            &dir("freezer"),
            &[
                ("freezer.state", "THAWED\n"),
                ("cgroup.procs", ""),
                ("tasks", ""),
            ],
        );
        Hierarchy::new(Setup::Legacy, root)
            .open("dockyard", "c")
            .unwrap()
    }

    #[test]
    fn create_makes_one_dir_per_mounted_hierarchy() {
        let root = fake_root();
        let cgroup = Hierarchy::new(Setup::Legacy, root.path())
            .create("dockyard", "c")
            .unwrap();
        let expected: Vec<PathBuf> = ["memory", "cpu,cpuacct", "pids", "freezer"]
            .iter()
            .map(|c| root.path().join(c).join("dockyard/c"))
            .collect();
        assert_eq!(
            cgroup.dirs(),
            expected.iter().map(PathBuf::as_path).collect::<Vec<_>>()
        );
        assert!(expected.iter().all(|dir| dir.is_dir()));
        // No cpuset hierarchy here: none was made.
        assert!(!root.path().join("cpuset").exists());

        let again = Hierarchy::new(Setup::Legacy, root.path()).create("dockyard", "c");
        assert!(matches!(again, Err(Error::AlreadyExists(_))), "{again:?}");
        // The failed create did not take the first one's directories with it.
        assert!(expected.iter().all(|dir| dir.is_dir()));
    }

    #[test]
    fn a_create_that_fails_half_way_leaves_nothing() {
        let root = fake_root();
        // pids/dockyard is a file, so the pids cgroup cannot be made, after
        // memory's and cpu's were.
        put(&root.path().join("pids"), &[("dockyard", "")]);
        let err = Hierarchy::new(Setup::Legacy, root.path())
            .create("dockyard", "c")
            .unwrap_err();
        assert!(err.to_string().starts_with("mkdir "), "{err}");
        assert!(err.to_string().contains("pids/dockyard/c"), "{err}");
        assert!(!root.path().join("memory/dockyard/c").exists());
        assert!(!root.path().join("cpu,cpuacct/dockyard/c").exists());
    }

    #[test]
    fn a_new_cpuset_gets_its_parents_cpus_and_memory_nodes() {
        let root = tempfile::tempdir().unwrap();
        put(
            root.path(),
            &[
                ("cpuset.cpus", "0-3\n"),
                ("cpuset.mems", "0\n"),
                ("child/cpuset.cpus", "\n"),
                ("child/cpuset.mems", "1\n"),
            ],
        );
        inherit_cpuset(&root.path().join("child")).unwrap();
        assert_eq!(read(&root.path().join("child"), "cpuset.cpus"), "0-3");
        // One that is already set is left alone.
        assert_eq!(read(&root.path().join("child"), "cpuset.mems"), "1\n");
    }

    #[test]
    fn apply_writes_dockers_limits_into_each_controller() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let limits = Limits {
            memory: Some(64 << 20),
            cpus: Some(500_000_000),
            cpu_shares: Some(512),
            pids_limit: Some(64),
            ..Limits::default()
        };
        cgroup.apply(&limits.resources().unwrap()).unwrap();
        let memory = root.path().join("memory/dockyard/c");
        let cpu = root.path().join("cpu,cpuacct/dockyard/c");
        assert_eq!(read(&memory, "memory.limit_in_bytes"), "67108864");
        // docker's default: memory+swap is twice the memory.
        assert_eq!(read(&memory, "memory.memsw.limit_in_bytes"), "134217728");
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "50000");
        assert_eq!(read(&cpu, "cpu.shares"), "512");
        assert_eq!(read(&root.path().join("pids/dockyard/c"), "pids.max"), "64");
    }

    #[test]
    fn unlimited_values_are_written_as_v1_spells_them() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let limits = Limits {
            memory: Some(64 << 20),
            memory_swap: Some(-1),
            pids_limit: Some(0),
            ..Limits::default()
        };
        cgroup.apply(&limits.resources().unwrap()).unwrap();
        let memory = root.path().join("memory/dockyard/c");
        assert_eq!(read(&memory, "memory.memsw.limit_in_bytes"), "-1");
        assert_eq!(
            read(&root.path().join("pids/dockyard/c"), "pids.max"),
            "max"
        );
    }

    #[test]
    fn without_swap_accounting_only_memory_is_limited() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let memory = root.path().join("memory/dockyard/c");
        std::fs::remove_file(memory.join("memory.memsw.limit_in_bytes")).unwrap();
        let limits = Limits {
            memory: Some(64 << 20),
            ..Limits::default()
        };
        cgroup.apply(&limits.resources().unwrap()).unwrap();
        assert_eq!(read(&memory, "memory.limit_in_bytes"), "67108864");
        assert!(!memory.join("memory.memsw.limit_in_bytes").exists());
    }

    #[test]
    fn a_limit_without_its_controller_names_the_controller() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        std::fs::remove_file(root.path().join("pids/dockyard/c/pids.max")).unwrap();
        let limits = Limits {
            pids_limit: Some(10),
            ..Limits::default()
        };
        let err = cgroup.apply(&limits.resources().unwrap()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::ControllerMissing {
                    controller: "pids",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("the pids controller is not available at "),
            "{err}"
        );
    }

    #[test]
    fn swap_below_memory_is_refused_before_anything_is_written() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let mut memory = LinuxMemory::default();
        memory.set_limit(Some(64 << 20));
        memory.set_swap(Some(32 << 20));
        let mut resources = LinuxResources::default();
        resources.set_memory(Some(memory));
        let err = cgroup.apply(&resources).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the memory+swap limit (32MiB) must be at least the memory limit (64MiB)"
        );
        assert_eq!(
            read(
                &root.path().join("memory/dockyard/c"),
                "memory.limit_in_bytes"
            ),
            UNLIMITED
        );
    }

    #[test]
    fn stats_read_what_docker_stats_shows() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        put(
            &root.path().join("memory/dockyard/c"),
            &[
                ("memory.usage_in_bytes", "10485760\n"),
                (
                    "memory.stat",
                    "cache 4194304\ntotal_cache 4194304\ntotal_inactive_file 2097152\n",
                ),
                ("memory.limit_in_bytes", "67108864\n"),
            ],
        );
        put(
            &root.path().join("cpu,cpuacct/dockyard/c"),
            &[("cpuacct.usage", "123456789\n")],
        );
        put(
            &root.path().join("pids/dockyard/c"),
            &[("pids.current", "3\n")],
        );
        let stats = cgroup.stats().unwrap();
        assert_eq!(
            stats,
            Stats {
                memory_usage: Some(8 << 20),
                memory_limit: Some(64 << 20),
                cpu_usage_ns: Some(123_456_789),
                pids_current: Some(3),
                // No blkio hierarchy mounted here.
                block_io: None,
            }
        );
        put(
            &root.path().join("memory/dockyard/c"),
            &[("memory.limit_in_bytes", UNLIMITED)],
        );
        assert_eq!(cgroup.stats().unwrap().memory_limit, None);
    }

    #[test]
    fn block_io_sums_reads_and_writes_of_every_device() {
        let root = fake_root();
        std::fs::create_dir(root.path().join("blkio")).unwrap();
        let blkio = root.path().join("blkio/dockyard/c");
        put(
            &blkio,
            &[(
                "blkio.throttle.io_service_bytes",
                "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 8192\n8:0 Async 4096\n\
                 8:0 Discard 0\n8:0 Total 12288\n\
                 253:0 Read 1000\n253:0 Write 0\n253:0 Total 1000\nTotal 13288\n",
            )],
        );
        let cgroup = fresh_cgroup(root.path());
        // What the other controllers show beside it.
        put(
            &root.path().join("memory/dockyard/c"),
            &[("memory.usage_in_bytes", "0\n"), ("memory.stat", "")],
        );
        put(
            &root.path().join("cpu,cpuacct/dockyard/c"),
            &[("cpuacct.usage", "0\n")],
        );
        put(
            &root.path().join("pids/dockyard/c"),
            &[("pids.current", "0\n")],
        );
        let expected = BlockIo {
            read: 5096,
            write: 8192,
        };
        assert_eq!(cgroup.stats().unwrap().block_io, Some(expected));
        // Where the kernel has the recursive counters, they are the ones read.
        put(
            &blkio,
            &[(
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 1\n8:0 Write 2\nTotal 3\n",
            )],
        );
        assert_eq!(
            cgroup.stats().unwrap().block_io,
            Some(BlockIo { read: 1, write: 2 })
        );
    }

    #[test]
    fn oom_kills_are_read_from_oom_control() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let memory = root.path().join("memory/dockyard/c");
        put(
            &memory,
            &[(
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
            )],
        );
        assert!(!cgroup.oom_killed().unwrap());
        put(
            &memory,
            &[(
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
            )],
        );
        assert!(cgroup.oom_killed().unwrap());
        // Before Linux 4.13 there is no counter: say so rather than answer "no".
        put(
            &memory,
            &[("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n")],
        );
        assert!(matches!(cgroup.oom_killed(), Err(Error::Parse { .. })));
    }

    #[test]
    fn freeze_and_thaw_write_the_freezer_state() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        let freezer = root.path().join("freezer/dockyard/c");
        cgroup.freeze().unwrap();
        assert_eq!(read(&freezer, "freezer.state"), "FROZEN");
        cgroup.thaw().unwrap();
        assert_eq!(read(&freezer, "freezer.state"), "THAWED");
    }

    #[test]
    fn pids_are_gathered_from_every_hierarchy() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        put(
            &root.path().join("memory/dockyard/c"),
            &[("cgroup.procs", "42\n7\n")],
        );
        put(
            &root.path().join("pids/dockyard/c"),
            &[("cgroup.procs", "7\n")],
        );
        assert_eq!(
            cgroup.pids().unwrap(),
            vec![Pid::from_raw(7), Pid::from_raw(42)]
        );
    }

    #[test]
    fn a_process_enters_through_each_hierarchys_tasks_file() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        cgroup.enter().unwrap();
        for c in ["memory", "cpu,cpuacct", "pids", "freezer"] {
            let dir = root.path().join(c).join("dockyard/c");
            assert_eq!(read(&dir, "tasks"), "0", "{c}");
            assert_eq!(read(&dir, "cgroup.procs"), "", "{c}");
        }
    }

    #[test]
    fn add_task_writes_the_pid_into_each_hierarchy() {
        let root = fake_root();
        let cgroup = fresh_cgroup(root.path());
        cgroup.add_task(Pid::from_raw(1234)).unwrap();
        for c in ["memory", "cpu,cpuacct", "pids", "freezer"] {
            assert_eq!(
                read(&root.path().join(c).join("dockyard/c"), "cgroup.procs"),
                "1234",
                "{c}"
            );
        }
    }
}
