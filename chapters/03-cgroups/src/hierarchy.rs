//! Which cgroup version a machine uses, found out the way runc and youki do.
//!
//! cgroup v1 mounts one hierarchy per controller (`/sys/fs/cgroup/memory`,
//! `/sys/fs/cgroup/cpu`...) under a tmpfs; cgroup v2 mounts a single "unified"
//! hierarchy at `/sys/fs/cgroup` itself. "Hybrid" systems have the v1 controllers
//! plus an (often empty) cgroup2 at `/sys/fs/cgroup/unified`. `statfs(2)` tells them
//! apart by the filesystem's magic number. See the kernel's
//! Documentation/admin-guide/cgroup-v2.rst, "Mounting" and "Deprecated v1 Core Features".

use std::path::{Path, PathBuf};

use nix::sys::statfs::{CGROUP2_SUPER_MAGIC, TMPFS_MAGIC, statfs};

use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::{v1, v2};

/// Where the cgroup filesystem is mounted on every current distribution.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// The directory that holds every dockyard container's cgroup, as `docker` uses `docker/`.
pub const PARENT: &str = "dockyard";

/// How the cgroup filesystem is laid out under the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// cgroup v2 only: the root is a cgroup2 mount (most current distributions).
    Unified,
    /// cgroup v1 only: the root is a tmpfs holding one mount per controller.
    Legacy,
    /// v1 controllers, plus a cgroup2 at `unified/` that holds no controller we use.
    /// Limits must go through v1 here, because a controller can be attached to only
    /// one hierarchy and these are attached to the v1 ones.
    Hybrid,
}

/// The interface a [`Setup`] is driven through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// One directory per controller (Documentation/admin-guide/cgroup-v1/).
    V1,
    /// One directory for all controllers (Documentation/admin-guide/cgroup-v2.rst).
    V2,
}

impl Setup {
    /// The backend that can apply limits on this setup: hybrid goes through v1.
    pub fn version(self) -> Version {
        match self {
            Setup::Unified => Version::V2,
            Setup::Legacy | Setup::Hybrid => Version::V1,
        }
    }
}

// ANCHOR: detect
/// Tells unified, legacy and hybrid set-ups apart by the filesystem types at `root`
/// and `root/unified`.
pub fn detect(root: &Path) -> Result<Setup> {
    let fs_type = |path: &Path| {
        statfs(path)
            .map(|stat| stat.filesystem_type())
            .map_err(|errno| Error::Statfs {
                path: path.to_path_buf(),
                errno,
            })
    };
    let root_type = fs_type(root)?;
    if root_type == CGROUP2_SUPER_MAGIC {
        return Ok(Setup::Unified);
    }
    if root_type != TMPFS_MAGIC {
        return Err(Error::UnknownSetup {
            path: root.to_path_buf(),
            fs_type: format!("{:#x}", root_type.0),
        });
    }
    let unified = root.join("unified");
    if unified.is_dir() && fs_type(&unified)? == CGROUP2_SUPER_MAGIC {
        Ok(Setup::Hybrid)
    } else {
        Ok(Setup::Legacy)
    }
}
// ANCHOR_END: detect

/// A cgroup filesystem: where it is mounted and how it is laid out. Containers'
/// cgroups are made and found through it.
///
/// The root is a parameter, not a constant, so tests can point it at a fake
/// cgroupfs in a temporary directory or at a cgroup2 they mounted themselves.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    setup: Setup,
    root: PathBuf,
}

impl Hierarchy {
    /// The machine's own hierarchy at `/sys/fs/cgroup`, detected.
    pub fn system() -> Result<Hierarchy> {
        Hierarchy::detect(Path::new(DEFAULT_ROOT))
    }

    /// The hierarchy mounted at `root`, its set-up detected with [`detect`].
    pub fn detect(root: &Path) -> Result<Hierarchy> {
        Ok(Hierarchy {
            setup: detect(root)?,
            root: root.to_path_buf(),
        })
    }

    /// A hierarchy whose set-up is known: for tests on a fake or freshly mounted cgroupfs.
    pub fn new(setup: Setup, root: impl Into<PathBuf>) -> Hierarchy {
        Hierarchy {
            setup,
            root: root.into(),
        }
    }

    /// How this hierarchy is laid out.
    pub fn setup(&self) -> Setup {
        self.setup
    }

    /// Where it is mounted.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the cgroup `parent/name` (the parent too, if it is not there yet).
    /// Fails if a cgroup of that name exists: two containers never share one.
    pub fn create(&self, parent: &str, name: &str) -> Result<Cgroup> {
        check_name(parent)?;
        check_name(name)?;
        Ok(match self.setup.version() {
            Version::V1 => Cgroup::V1(v1::V1Cgroup::create(&self.root, parent, name)?),
            Version::V2 => Cgroup::V2(v2::V2Cgroup::create(&self.root, parent, name)?),
        })
    }

    /// Finds the existing cgroup `parent/name`, to read its stats, freeze or remove it.
    pub fn open(&self, parent: &str, name: &str) -> Result<Cgroup> {
        check_name(parent)?;
        check_name(name)?;
        Ok(match self.setup.version() {
            Version::V1 => Cgroup::V1(v1::V1Cgroup::open(&self.root, parent, name)?),
            Version::V2 => Cgroup::V2(v2::V2Cgroup::open(&self.root, parent, name)?),
        })
    }

    /// The cgroup `parent/name`, without looking whether it exists: for the
    /// end of a run, whose OOM check reads what is there and whose removal
    /// takes what is there ([`Cgroup::remove`] succeeds on a cgroup already
    /// gone). [`open`](Self::open) looks at each controller's directory
    /// first, one stat(2) each.
    pub fn named(&self, parent: &str, name: &str) -> Result<Cgroup> {
        check_name(parent)?;
        check_name(name)?;
        Ok(match self.setup.version() {
            Version::V1 => Cgroup::V1(v1::V1Cgroup::locate(&self.root, parent, name)),
            Version::V2 => Cgroup::V2(v2::V2Cgroup::locate(&self.root, parent, name)),
        })
    }
}

/// A name becomes a directory: refuse what would be empty or escape its parent.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(Error::InvalidName(name.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_the_parent() {
        for bad in ["", ".", "..", "a/b", "../x"] {
            assert!(
                matches!(check_name(bad), Err(Error::InvalidName(_))),
                "{bad:?}"
            );
        }
        check_name("web-1.2_x").unwrap();
    }

    #[test]
    fn hybrid_is_driven_through_v1() {
        assert_eq!(Setup::Hybrid.version(), Version::V1);
        assert_eq!(Setup::Legacy.version(), Version::V1);
        assert_eq!(Setup::Unified.version(), Version::V2);
    }

    #[test]
    fn a_plain_directory_is_no_cgroup_root() {
        // A temp dir is on some ordinary filesystem (or a tmpfs, which reads as
        // legacy v1 with no controllers): either way not unified.
        let dir = tempfile::tempdir().unwrap();
        match detect(dir.path()) {
            Ok(setup) => assert_eq!(setup, Setup::Legacy),
            Err(err) => assert!(matches!(err, Error::UnknownSetup { .. }), "{err}"),
        }
        assert!(matches!(
            detect(&dir.path().join("missing")),
            Err(Error::Statfs { .. })
        ));
    }
}
