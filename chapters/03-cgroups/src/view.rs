//! What a container sees at `/sys/fs/cgroup`: its own cgroup, and nothing above
//! it, as in docker. Programs read their limits there (a JVM sizes its heap from
//! `memory.max`, Go's runtime its threads from `cpu.max`), so a container whose
//! `/sys/fs/cgroup` is empty sizes itself for the whole host.
//!
//! runc makes the spec's `cgroup` mount this way: the container's cgroup
//! directory, bound from the host's hierarchy. On v2 that is one directory,
//! bound on `/sys/fs/cgroup`. On v1 it is one per hierarchy, so `/sys/fs/cgroup`
//! is a small tmpfs with each bound at `/sys/fs/cgroup/<hierarchy>`
//! (`memory`, `cpu,cpuacct`, ...). Read-only, as /sys is, except for
//! `--privileged` containers, whose /sys is writable. The container's own
//! cgroup namespace (chapter 02 unshares it) makes `/proc/self/cgroup` agree:
//! there, its cgroup is `/`.

use std::path::Path;

use oci_spec::runtime::{Mount, MountBuilder, Spec};

use crate::Cgroup;

/// Where a container sees its cgroup.
const TARGET: &str = "/sys/fs/cgroup";

// ANCHOR: add
/// Adds to `spec` the mounts that show the container `cgroup` at
/// `/sys/fs/cgroup`, after the spec's own (which mount /sys first).
pub fn add_cgroup_mounts(spec: &mut Spec, cgroup: &Cgroup) {
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    let read_only = mounts.iter().any(|m| {
        m.destination() == Path::new("/sys") && m.options().iter().flatten().any(|o| o == "ro")
    });
    let mode = if read_only { "ro" } else { "rw" };
    let bind = |dir: &Path, target: &str| {
        mount(
            target,
            "bind",
            dir,
            &["rbind", mode, "nosuid", "noexec", "nodev"],
        )
    };
    match cgroup {
        Cgroup::V2(v2) => mounts.push(bind(v2.dir(), TARGET)),
        Cgroup::V1(v1) => {
            let tmpfs = Path::new("tmpfs");
            mounts.push(mount(
                TARGET,
                "tmpfs",
                tmpfs,
                &["nosuid", "noexec", "nodev", "mode=755"],
            ));
            for (hierarchy, dir) in v1.hierarchies() {
                mounts.push(bind(dir, &format!("{TARGET}/{hierarchy}")));
            }
            // The tmpfs itself read-only too, once the binds are in it (a
            // read-only tmpfs could not take their mount points).
            if read_only && let Some(linux) = spec.linux_mut() {
                let mut paths = linux.readonly_paths().clone().unwrap_or_default();
                paths.push(TARGET.to_string());
                linux.set_readonly_paths(Some(paths));
            }
        }
    }
    spec.set_mounts(Some(mounts));
}
// ANCHOR_END: add

fn mount(target: &str, typ: &str, source: &Path, options: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(target)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .expect("a mount with destination, type and source is valid")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::{Hierarchy, Setup};

    fn spec_with_sys(options: &[&str]) -> Spec {
        let mut spec = Spec::default();
        let sys = mount("/sys", "sysfs", Path::new("sysfs"), options);
        spec.set_mounts(Some(vec![sys]));
        spec
    }

    /// Each mount after /sys, as `TARGET TYPE SOURCE OPTIONS`.
    fn added(spec: &Spec) -> Vec<String> {
        let mounts = spec.mounts().iter().flatten().skip(1);
        mounts
            .map(|m| {
                let source = m.source().as_ref().map(|s| s.display().to_string());
                let options = m.options().as_deref().unwrap_or_default().join(",");
                let typ = m.typ().as_deref().unwrap_or_default();
                format!(
                    "{} {typ} {} {options}",
                    m.destination().display(),
                    source.unwrap_or_default()
                )
            })
            .collect()
    }

    /// A fake unified root holding the cgroup `dockyard/c1`.
    fn v2_cgroup(root: &Path) -> Cgroup {
        std::fs::create_dir_all(root.join("dockyard/c1")).unwrap();
        Hierarchy::new(Setup::Unified, root)
            .open("dockyard", "c1")
            .unwrap()
    }

    #[test]
    fn on_v2_the_containers_directory_is_bound_read_only() {
        let root = tempfile::tempdir().unwrap();
        let mut spec = spec_with_sys(&["nosuid", "ro"]);
        add_cgroup_mounts(&mut spec, &v2_cgroup(root.path()));
        let dir = root.path().join("dockyard/c1");
        let expected = format!(
            "/sys/fs/cgroup bind {} rbind,ro,nosuid,noexec,nodev",
            dir.display()
        );
        assert_eq!(added(&spec), [expected]);
    }

    #[test]
    fn a_writable_sys_gives_a_writable_view() {
        let root = tempfile::tempdir().unwrap();
        let mut spec = spec_with_sys(&["nosuid"]);
        add_cgroup_mounts(&mut spec, &v2_cgroup(root.path()));
        assert!(added(&spec)[0].ends_with(" rbind,rw,nosuid,noexec,nodev"));
    }

    #[test]
    fn on_v1_each_hierarchy_is_bound_in_a_tmpfs_made_read_only_after() {
        // cpu and cpuacct co-mounted, as on most distributions.
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        for hierarchy in ["memory", "cpu,cpuacct", "pids"] {
            std::fs::create_dir_all(root.join(hierarchy).join("dockyard/c1")).unwrap();
        }
        symlink("cpu,cpuacct", root.join("cpu")).unwrap();
        symlink("cpu,cpuacct", root.join("cpuacct")).unwrap();
        let cgroup = Hierarchy::new(Setup::Legacy, root)
            .open("dockyard", "c1")
            .unwrap();
        let mut spec = spec_with_sys(&["ro"]);
        spec.set_linux(Some(Default::default()));
        add_cgroup_mounts(&mut spec, &cgroup);
        let bind = |hierarchy: &str| {
            let dir = root.join(hierarchy).join("dockyard/c1");
            format!(
                "/sys/fs/cgroup/{hierarchy} bind {} rbind,ro,nosuid,noexec,nodev",
                dir.display()
            )
        };
        assert_eq!(
            added(&spec),
            [
                "/sys/fs/cgroup tmpfs tmpfs nosuid,noexec,nodev,mode=755".to_string(),
                bind("memory"),
                bind("cpu,cpuacct"),
                bind("pids"),
            ]
        );
        let linux = spec.linux().as_ref().unwrap();
        let readonly = linux.readonly_paths().as_deref().unwrap_or_default();
        assert_eq!(readonly.last().map(String::as_str), Some("/sys/fs/cgroup"));
    }
}
