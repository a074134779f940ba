//! The files docker provides in every container's /etc: `hostname`, `hosts`
//! and `resolv.conf` (chapter 02's [`ETC_FILES`]). As docker does, the
//! engine writes them in the container's directory at each start and
//! bind-mounts them over the image's own, so an edit to one lasts until the
//! container stops, and they go with the container. Chapter 02's runner,
//! which would otherwise write a copy of its own in a temporary directory
//! for the start and delete it once the command runs, then makes none.

use std::path::Path;

use anyhow::Context;

use ch02_namespaces::rootfs::{ETC_FILES, etc_files, mounted_by_spec, read_only_root};
use ch04_overlayfs::store::Container;
use oci_spec::runtime::Spec;

use crate::details::MountPoint;
use crate::engine::Engine;
use crate::mounts;

/// For a start of `container` from `spec` (its root mounted): writes the
/// files for each of [`ETC_FILES`] that its image has and no mount of the
/// start's covers (a `-v`, a network's `/etc/hosts`), and adds their bind
/// mounts to `spec`: read-only with a read-only root, as docker mounts them
/// (moby's `NetworkMounts`). Chapter 02 binds over a file the image has
/// only, and so do we. Written in place and not synced: each start makes
/// them anew, as docker remakes its own.
pub fn mount_own(spec: &mut Spec, container: &Container) -> anyhow::Result<()> {
    let hostname = spec.hostname().clone().unwrap_or_default();
    let rw = !read_only_root(spec);
    let mut points = Vec::new();
    for (name, text) in ETC_FILES.into_iter().zip(etc_files(&hostname)) {
        if mounted_by_spec(spec, name) {
            continue;
        }
        let target = format!("/etc/{name}");
        let in_image = ch04_overlayfs::scoped::resolve_in_root(
            &container.merged_dir(),
            Path::new(&target),
            true,
        )?;
        if !in_image.is_file() {
            continue;
        }
        let source = container.dir.join(name);
        std::fs::write(&source, text).with_context(|| format!("write {}", source.display()))?;
        points.push(MountPoint::bind(source, target, rw));
    }
    mounts::add_to_spec(spec, &points)
}

/// `docker inspect`'s `ResolvConfPath`, `HostnamePath` and `HostsPath`: the
/// files `container`'s /etc/resolv.conf, hostname and hosts are bound from,
/// its own or its network's (chapter 05's /etc/hosts, its resolv.conf with
/// `--dns`), empty until a start has written them, as docker's are.
pub fn paths(engine: &Engine, container: &Container) -> anyhow::Result<[String; 3]> {
    let networks = engine.networks()?;
    let id = &container.config.id;
    Ok(["resolv.conf", "hostname", "hosts"].map(|name| {
        [container.dir.join(name), networks.etc_file(id, name)]
            .into_iter()
            .find(|path| path.is_file())
            .map(|path| path.display().to_string())
            .unwrap_or_default()
    }))
}
