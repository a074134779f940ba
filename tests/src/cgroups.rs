//! A cgroup parent of a test's own, so its containers' cgroups never mix with
//! another test's, and nothing is left in /sys/fs/cgroup when the test ends.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the cgroup filesystems are mounted.
const ROOT: &str = "/sys/fs/cgroup";

/// A cgroup parent named `dockyard-test-NAME-PID`. Pass [`CgroupParent::name`] as
/// `--cgroup-parent` (or `DOCKYARD_CGROUP_PARENT`). On drop, every process still
/// in a cgroup under it is killed and the cgroups and the parent are removed, in
/// every v1 controller's hierarchy and in the v2 one, also when the test failed.
/// A container's cgroup still there at that point is a leak of the code under
/// test (its runner must remove it): the test then fails, after the clean-up.
#[derive(Debug)]
pub struct CgroupParent(String);

impl CgroupParent {
    pub fn new(test: &str) -> CgroupParent {
        CgroupParent(format!("dockyard-test-{test}-{}", std::process::id()))
    }

    pub fn name(&self) -> &str {
        &self.0
    }

    /// The parent's directory in each hierarchy where it exists.
    fn dirs(&self) -> Vec<PathBuf> {
        let root = Path::new(ROOT);
        let mut dirs = vec![root.join(&self.0)];
        if let Ok(entries) = std::fs::read_dir(root) {
            dirs.extend(entries.flatten().map(|e| e.path().join(&self.0)));
        }
        dirs.retain(|d| d.is_dir());
        dirs
    }

    /// The cgroups under the parent, in every hierarchy.
    fn children(&self) -> Vec<PathBuf> {
        self.dirs()
            .iter()
            .flat_map(|parent| std::fs::read_dir(parent).into_iter().flatten())
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect()
    }
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        // The engine's `run --rm` removes its container's cgroup after it
        // has answered, in the purge nobody waits for: one may be in flight.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::thread::panicking() && !self.children().is_empty() && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let leaked = self.children();
        for child in &leaked {
            remove_cgroup(child);
        }
        for parent in self.dirs() {
            remove_cgroup(&parent);
        }
        // Already failing: the first failure is the one to read.
        if !leaked.is_empty() && !std::thread::panicking() {
            panic!("container cgroups were left behind (now removed): {leaked:?}");
        }
    }
}

/// A cgroup2 filesystem mounted on a temp dir, unmounted on drop: the v2
/// hierarchy on a v1 or hybrid machine too, where no controller of ours is in
/// it. cgroup2 is one hierarchy wherever it is mounted: a cgroup made here
/// appears in the system's cgroup2 as well (so [`CgroupParent`] finds it).
#[derive(Debug)]
pub struct Cgroup2Mount {
    dir: tempfile::TempDir,
}

impl Cgroup2Mount {
    pub fn mount() -> Cgroup2Mount {
        let dir = tempfile::tempdir().unwrap();
        nix::mount::mount(
            Some("cgroup2"),
            dir.path(),
            Some("cgroup2"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .expect("mount cgroup2");
        Cgroup2Mount { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cgroup2Mount {
    fn drop(&mut self) {
        nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH)
            .expect("unmount the test cgroup2");
    }
}

/// A cgroup v1 hierarchy of the test's own, with no controller
/// (`mount -t cgroup -o none,name=dockyard-test-NAME-PID`), on a temp dir:
/// `tasks` files to move processes through, on a v2 machine too. On drop,
/// what is in its cgroups is killed, they are removed, and it is unmounted
/// until the kernel destroys it.
#[derive(Debug)]
pub struct Cgroup1Mount {
    dir: tempfile::TempDir,
    name: String,
}

impl Cgroup1Mount {
    pub fn mount(test: &str) -> Cgroup1Mount {
        let mount = Cgroup1Mount {
            dir: tempfile::tempdir().unwrap(),
            name: format!("dockyard-test-{test}-{}", std::process::id()),
        };
        mount.mount_again();
        mount
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Mounts the hierarchy, made by the first mount and found by a later
    /// one (the same name and options).
    fn mount_again(&self) {
        let options = format!("none,name={}", self.name);
        nix::mount::mount(
            Some("cgroup"),
            self.dir.path(),
            Some("cgroup"),
            nix::mount::MsFlags::empty(),
            Some(options.as_str()),
        )
        .expect("mount a named cgroup v1 hierarchy");
    }

    /// Whether the hierarchy still exists: every process has a line for each.
    fn exists(&self) -> bool {
        let ours = format!(":name={}:", self.name);
        std::fs::read_to_string("/proc/self/cgroup").is_ok_and(|c| c.contains(&ours))
    }
}

impl Drop for Cgroup1Mount {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(self.dir.path()) {
            for dir in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
                remove_cgroup(&dir);
            }
        }
        // The kernel destroys a hierarchy when its last mount goes, but only
        // if it has no cgroup left then (`cgroup_kill_sb`), and a removed
        // one is let go of a moment later, after an RCU grace period. So a
        // hierarchy still there is mounted again and let go again.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH)
                .expect("unmount the test's cgroup v1 hierarchy");
            let settled = Instant::now() + Duration::from_millis(200);
            while Instant::now() < settled {
                if !self.exists() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if Instant::now() > deadline {
                panic!(
                    "the cgroup v1 hierarchy name={} outlived its test",
                    self.name
                );
            }
            self.mount_again();
        }
    }
}

/// Kills what is in the cgroup and removes it, waiting briefly for the kernel to
/// let go (rmdir fails with EBUSY until the last process has exited).
fn remove_cgroup(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            for pid in procs.lines().filter_map(|p| p.parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        // A frozen v1 cgroup's processes cannot die: thaw it first.
        let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
        match std::fs::remove_dir(dir) {
            Ok(()) => return,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return,
            Err(err) if Instant::now() > deadline => panic!("rmdir {}: {err}", dir.display()),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_cgroup_left_behind_fails_the_test_and_is_removed() {
        crate::require_root!();
        let parent = CgroupParent::new("testkit-leak");
        // v1: in the pids controller's hierarchy; v2: in the one hierarchy.
        let v1 = Path::new(ROOT).join("pids");
        let hierarchy = if v1.is_dir() { v1 } else { PathBuf::from(ROOT) };
        let leak = hierarchy.join(parent.name()).join("leaked");
        std::fs::create_dir_all(&leak).unwrap();
        let dropped = std::panic::catch_unwind(move || drop(parent));
        let message = dropped.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("left behind"), "{message}");
        assert!(
            !leak.parent().unwrap().exists(),
            "the parent was not removed"
        );
    }
}
