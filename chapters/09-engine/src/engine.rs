//! The engine's state: the chapter 04 stores under one root, and what the
//! commands do with them together (a container's layers, an image's size, a
//! new image from a config).

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::Context;
use ch04_overlayfs::store::{
    Container, ContainerError, ContainerStore, ContentStore, Image, ImageStore, LayerStore, Status,
    StoreLock,
};
use ch04_overlayfs::{Digest, Mounted};
use ch05_network::{BridgeDefaults, Networks};
use oci_spec::image::ImageConfiguration;

use crate::details::{HostConfig, Runtime};
use crate::volumes::VolumeStore;

/// The environment variables that name the default bridge and its subnet
/// (see [`Engine::networks`]), as chapter 05's binary names them.
const DEFAULT_BRIDGE: &str = "DOCKYARD_DEFAULT_BRIDGE";
const DEFAULT_SUBNET: &str = "DOCKYARD_DEFAULT_SUBNET";

/// How [`Engine::temporary_holder`] names start.
const PENDING: &str = "pending-";

/// Adds search (`x`) for group and others to the state root's mode when it
/// lacks them, as dockerd makes its data root 0711 at every start: a
/// container with `--userns` mounts its root filesystem, below the state
/// root, as root of its user namespace, uid 100000 on the host, whom a root
/// of mode 0700 (what `mktemp -d` makes) refuses with EACCES. Reading the
/// root's listing stays as the owner set it.
fn searchable(root: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root)?.permissions().mode() & 0o7777;
    if mode & 0o011 != 0o011 {
        ch01_chroot::explain!(
            "chmod(2): the state root searchable by all, so the root of a user namespace reaches its containers' files";
            "chmod go+x {}", root.display()
        );
        let mode = std::fs::Permissions::from_mode(mode | 0o011);
        std::fs::set_permissions(root, mode).context("chmod go+x")?;
    }
    Ok(())
}

/// What a failure to open a store under `root` says first.
fn open_context(root: &Path) -> String {
    format!("open the state root {}", root.display())
}

/// The store in `cell`, opened with `open` if it is not yet.
fn opened<'a, T>(
    cell: &'a OnceCell<T>,
    open: impl FnOnce() -> anyhow::Result<T>,
    root: &Path,
) -> anyhow::Result<&'a T> {
    if let Some(store) = cell.get() {
        return Ok(store);
    }
    let store = open().with_context(|| open_context(root))?;
    Ok(cell.get_or_init(|| store))
}

/// The stores under the state root (`--root`, `DOCKYARD_ROOT`).
#[derive(Debug)]
pub struct Engine {
    /// Blobs by digest: committed layers. Opened when first asked for
    /// ([`Engine::content`]).
    content: OnceCell<ContentStore>,
    /// Unpacked layers by chain ID.
    pub layers: LayerStore,
    /// Image configs and names.
    pub images: ImageStore,
    /// Containers: config, state, upper/work/merged.
    pub containers: ContainerStore,
    /// Volumes: data that outlives containers. Opened when first asked
    /// for ([`Engine::volumes`]).
    volumes: OnceCell<VolumeStore>,
    /// The state root, under which [`Engine::networks`] keeps its state.
    root: PathBuf,
}

impl Engine {
    /// Opens (creating if needed) the stores under `root` that nearly every
    /// command reads (layers, images, containers), and lets every user
    /// search the root ([`searchable`]). The content and volume stores wait
    /// until a command asks for them: opening a store clears what a crashed
    /// writer left, which reads its whole directory, and only `commit` and
    /// the commands that mount or list volumes need them.
    pub fn open(root: &Path) -> anyhow::Result<Engine> {
        let context = || open_context(root);
        let engine = Engine {
            content: OnceCell::new(),
            layers: LayerStore::open(root).with_context(context)?,
            images: ImageStore::open(root).with_context(context)?,
            containers: ContainerStore::open(root).with_context(context)?,
            volumes: OnceCell::new(),
            root: root.to_path_buf(),
        };
        searchable(root).with_context(context)?;
        Ok(engine)
    }

    /// The content store, opened (and made, if need be) the first time.
    pub fn content(&self) -> anyhow::Result<&ContentStore> {
        opened(
            &self.content,
            || Ok(ContentStore::open(&self.root)?),
            &self.root,
        )
    }

    /// The volume store, opened (and made, if need be) the first time.
    pub fn volumes(&self) -> anyhow::Result<&VolumeStore> {
        opened(&self.volumes, || VolumeStore::open(&self.root), &self.root)
    }

    /// Chapter 05's networks, their state in `<root>/network`: what containers
    /// are given (addresses, veths, published ports) is recorded there before
    /// it is made, so that any later command can tear it down. The default
    /// `bridge` network is made, the first time this root uses it, on the
    /// bridge `$DOCKYARD_DEFAULT_BRIDGE` (default `dy0`) with the subnet
    /// `$DOCKYARD_DEFAULT_SUBNET` (default 172.17.0.0/16), as `ch05-network`
    /// reads them: the knobs of dockerd's `--bridge` and `--bip`, which tests
    /// set so they never share a bridge.
    pub fn networks(&self) -> anyhow::Result<Networks> {
        let mut defaults = BridgeDefaults::default();
        if let Some(device) = std::env::var_os(DEFAULT_BRIDGE) {
            defaults.device = device
                .into_string()
                .map_err(|name| anyhow::anyhow!("{DEFAULT_BRIDGE}={name:?} is not UTF-8"))?;
        }
        if let Ok(subnet) = std::env::var(DEFAULT_SUBNET) {
            defaults.subnet = subnet
                .parse()
                .with_context(|| format!("{DEFAULT_SUBNET}={subnet:?}"))?;
        }
        let dir = self.root.join("network");
        Networks::open(&dir, defaults)
            .with_context(|| format!("open the network state {}", dir.display()))
    }

    /// The image's layer directories, top first (overlayfs `lowerdir` order).
    pub fn lower_dirs(&self, image: &Image) -> anyhow::Result<Vec<PathBuf>> {
        match image.top_layer()? {
            Some(top) => Ok(self.layers.lower_dirs(&top)?),
            None => anyhow::bail!(
                "image {} has no layers to make a root from",
                image.id.short()
            ),
        }
    }

    /// The layers under container `container`, top first.
    pub fn container_lowers(&self, container: &Container) -> anyhow::Result<Vec<PathBuf>> {
        let image = self.images.get(&container.config.image.to_string())?;
        self.lower_dirs(&image)
    }

    /// Mounts the container's root (its image's layers + its upper dir) on its
    /// merged dir. The mount is made in a mount namespace of this process's own
    /// (see [`private_mounts`]), so it disappears when the process ends however
    /// it ends; the guard unmounts it sooner.
    pub fn mount(&self, container: &Container) -> anyhow::Result<Mounted> {
        let image = self.images.get(&container.config.image.to_string())?;
        self.mount_from(container, &image)
    }

    /// [`mount`](Self::mount), for a caller that has read the container's
    /// `image` already (`create`), which is not read and parsed again.
    pub fn mount_from(&self, container: &Container, image: &Image) -> anyhow::Result<Mounted> {
        private_mounts()?;
        let overlay = container.overlay(self.lower_dirs(image)?)?;
        overlay
            .mount(&container.merged_dir())
            .with_context(|| format!("mount the root of container {}", container.short_id()))
    }

    /// The container's root as the process that launched us mounted it and
    /// handed it over (see [`supervisor::start`](crate::supervisor::start)),
    /// in the private mount namespace we share with it; mounted anew if it is
    /// not there. Taking it over saves a mount and an unmount (umount(2)
    /// waits for an RCU grace period) on the way to the container's start.
    pub fn adopt_mount(&self, container: &Container) -> anyhow::Result<Mounted> {
        match Mounted::adopt(&container.merged_dir()) {
            Some(mounted) => {
                // This namespace is private already: the launcher made it so.
                PRIVATE_MOUNTS.call_once(|| {});
                Ok(mounted)
            }
            None => self.mount(container),
        }
    }

    /// Bytes the image's layers hold (each layer's tar size), as `docker images`
    /// shows an image's size: shared layers are counted in every image.
    pub fn image_size(&self, image: &Image) -> anyhow::Result<u64> {
        Ok(match image.top_layer()? {
            Some(top) => self.layers.stack(&top)?.iter().map(|l| l.size).sum(),
            None => 0,
        })
    }

    /// Stores `config` as an image (its layers already in the layer store),
    /// names it `name` if given, and lets go of `holder`'s temporary hold on
    /// its layers (the image holds them now).
    pub fn put_image(
        &self,
        config: &ImageConfiguration,
        name: Option<&str>,
        holder: Option<&str>,
    ) -> anyhow::Result<Image> {
        let mut image = self.images.put(&self.layers, &config_bytes(config)?)?;
        if let (Some(holder), Some(top)) = (holder, image.top_layer()?) {
            self.layers.release(&top, holder)?;
        }
        if let Some(name) = name {
            image.tags.push(self.images.tag(&image.id, name)?);
        }
        Ok(image)
    }

    /// A name for the hold an `import` or `commit` keeps on its new layers
    /// until the image takes over: `pending-PID`, so that a hold whose process
    /// died (`kill -9` between the two) can be told apart and let go.
    pub fn temporary_holder() -> String {
        format!("{PENDING}{}", std::process::id())
    }

    /// Lets go of the holds that `kill -9`ed imports and commits left, and
    /// removes the layers no one holds then.
    pub fn release_stale_holds(&self) -> anyhow::Result<()> {
        for layer in self.layers.list()? {
            let chain = &layer.chain_id;
            // A release removes the layers under it that no one else holds.
            if !self.layers.contains(chain) {
                continue;
            }
            for holder in self.layers.holders(chain)? {
                let pid = holder
                    .strip_prefix(PENDING)
                    .and_then(|p| p.parse::<u32>().ok());
                let dead =
                    pid.is_some_and(|pid| !Path::new("/proc").join(pid.to_string()).exists());
                if dead && self.layers.contains(chain) {
                    self.layers.release(chain, &holder)?;
                }
            }
        }
        self.layers.prune()?;
        Ok(())
    }

    /// The lock the `run` in charge of a container holds for as long as it
    /// runs it: whoever takes it knows that run has recorded the exit and let
    /// go of the root (or died: the kernel drops a dead process's locks).
    pub fn run_lock(container: &Container) -> PathBuf {
        Engine::run_lock_in(&container.dir)
    }

    /// [`Engine::run_lock`] of the container whose directory is `dir`.
    pub fn run_lock_in(dir: &Path) -> PathBuf {
        dir.join("run.lock")
    }

    /// The container `reference` names (ID, name or unique prefix), its state
    /// brought up to date (see [`Engine::refresh`]).
    pub fn container(&self, reference: &str) -> anyhow::Result<Container> {
        let container = self.containers.get(reference)?;
        self.refresh(container)
    }

    /// Every container, newest first, each brought up to date; one whose
    /// records cannot be read is left out (see
    /// [`ContainerStore::list_readable`](ch04_overlayfs::store::ContainerStore::list_readable)).
    pub fn all_containers(&self) -> anyhow::Result<Vec<Container>> {
        self.containers
            .list_readable()?
            .0
            .into_iter()
            .map(|c| self.refresh(c))
            .collect()
    }

    /// A container recorded as running whose runner is gone (`kill -9`: no
    /// one holds its [`run_lock`](Engine::run_lock)) is recorded as exited
    /// now, as killed (its PID 1 dies with its runner, by SIGKILL), and what
    /// is left of its cgroup, network and supervisor directory is removed. So `ps`
    /// and `inspect` never show it stuck "running" (or "restarting").
    pub fn refresh(&self, container: Container) -> anyhow::Result<Container> {
        let restarting = |c: &Container| Runtime::load(c).is_ok_and(|r| r.restarting);
        if container.state.status != Status::Running && !restarting(&container) {
            return Ok(container);
        }
        let Some(_lock) = StoreLock::try_exclusive(&Engine::run_lock(&container))? else {
            return Ok(container);
        };
        // Its runner may have recorded the exit and let go of the lock since
        // `container` was read (a short command's run ends that fast): what
        // it recorded is read again, under the lock, not taken for a crash.
        let mut container = match self.containers.get(&container.config.id) {
            Ok(again) => again,
            Err(ContainerError::NotFound(_)) => return Ok(container),
            Err(err) => return Err(err.into()),
        };
        if container.state.status != Status::Running && !restarting(&container) {
            return Ok(container);
        }
        crate::supervisor::remove_supervisor_dir(&container)?;
        // Its veth went with its namespace; its rules, address and files did not.
        self.networks()?.teardown(&container.config.id)?;
        let mut runtime = Runtime::load(&container)?;
        if runtime.restarting {
            // Killed while it waited to restart the container: no restart comes.
            runtime.restarting = false;
            runtime.save(&container)?;
        }
        if container.state.status != Status::Running {
            return Ok(container);
        }
        if let Ok(cgroup) = cgroup_of(&container) {
            cgroup
                .remove()
                .with_context(|| format!("remove the cgroup of {}", container.short_id()))?;
        }
        container.state.status = Status::Exited;
        container.state.pid = None;
        container.state.exit_code = Some(128 + libc::SIGKILL);
        container.state.finished_at = Some(crate::human::now().0);
        self.containers
            .set_state(&container.config.id, &container.state)?;
        Ok(container)
    }

    /// The IDs of the containers that mount volume `name`.
    pub fn volume_users(&self, name: &str) -> anyhow::Result<Vec<String>> {
        let mut users = Vec::new();
        for container in self.containers.list()? {
            let host = HostConfig::load(&container)?;
            if host.mounts.iter().any(|m| m.name.as_deref() == Some(name)) {
                users.push(container.config.id.clone());
            }
        }
        Ok(users)
    }

    /// Whether a container was made from image `id`.
    pub fn image_in_use(&self, id: &Digest) -> anyhow::Result<Option<Container>> {
        Ok(self
            .containers
            .list()?
            .into_iter()
            .find(|c| &c.config.image == id))
    }
}

/// The bytes an image config is stored as, whose sha256 is the image's ID:
/// the same config must give the same bytes every time. oci-spec keeps
/// `ExposedPorts`, `Volumes` and `Labels` in `HashMap`s, which iterate in a
/// different order in each process, so the config is serialized through a
/// `serde_json::Value`, whose objects are `BTreeMap`s: every key comes out
/// sorted, as Go's `encoding/json` (docker's) sorts a map's keys.
fn config_bytes(config: &ImageConfiguration) -> anyhow::Result<Vec<u8>> {
    let value = serde_json::to_value(config).context("serialize the image config")?;
    Ok(serde_json::to_vec(&value)?)
}

/// Whether this process has its private mount namespace: see [`private_mounts`].
static PRIVATE_MOUNTS: Once = Once::new();

/// Moves this process, once, into a mount namespace of its own with private
/// mounts (chapter 02's [`private_mount_namespace`]): the container roots the
/// engine mounts are seen by it and its containers only, and the kernel
/// unmounts them when the process exits, even by `kill -9`, so no overlay is
/// ever left behind.
///
/// [`private_mount_namespace`]: ch02_namespaces::namespaces::private_mount_namespace
pub fn private_mounts() -> anyhow::Result<()> {
    let mut result = Ok(());
    PRIVATE_MOUNTS.call_once(|| {
        result = ch02_namespaces::namespaces::private_mount_namespace()
            .context("a private mount namespace (mounting needs root)");
    });
    result
}

/// The container's cgroup (the spec's `linux.cgroupsPath`, `/PARENT/ID`).
pub fn cgroup_of(container: &Container) -> anyhow::Result<ch03_cgroups::Cgroup> {
    let (hierarchy, parent, name) = cgroup_path(container)?;
    Ok(hierarchy.open(&parent, &name)?)
}

/// [`cgroup_of`], not looked for (see [`Hierarchy::named`]): for the end of
/// a run, which reads and removes what is there.
///
/// [`Hierarchy::named`]: ch03_cgroups::Hierarchy::named
pub fn cgroup_named(container: &Container) -> anyhow::Result<ch03_cgroups::Cgroup> {
    let (hierarchy, parent, name) = cgroup_path(container)?;
    Ok(hierarchy.named(&parent, &name)?)
}

/// The system's cgroup hierarchy and where the container's cgroup is in it.
fn cgroup_path(container: &Container) -> anyhow::Result<(ch03_cgroups::Hierarchy, String, String)> {
    let path = container
        .config
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone())
        .unwrap_or_default();
    let Some((parent, name)) = cgroup_place(&path) else {
        anyhow::bail!("container {} has no cgroup", container.short_id());
    };
    Ok((ch03_cgroups::Hierarchy::system()?, parent, name))
}

/// The parent and name of the cgroup a spec's `linux.cgroupsPath` names
/// (`/PARENT/NAME`), as chapter 03 takes them.
pub fn cgroup_place(path: &Path) -> Option<(String, String)> {
    let (parent, name) = (path.parent()?, path.file_name()?);
    let parent = parent.to_string_lossy().trim_start_matches('/').to_string();
    Some((parent, name.to_string_lossy().into_owned()))
}

/// The host pid of a running container's PID 1: the process of its cgroup
/// that is pid 1 in its own PID namespace (the last field of `NSpid` in
/// /proc/PID/status). `None` if it has none (not running, or starting).
pub fn init_pid(container: &Container) -> Option<nix::unistd::Pid> {
    let pids = cgroup_of(container).ok()?.pids().ok()?;
    pids.into_iter().find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .and_then(|ids| ids.split_whitespace().last())
                == Some("1")
        })
    })
}

/// Bytes the regular files under `dir` hold (what a container's upper dir
/// adds, `docker ps -s`'s SIZE).
pub fn dir_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("read directory {}", dir.display()))?
        {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                todo.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_config_gives_the_same_bytes_every_time() {
        let json = r#"{"architecture":"amd64","os":"linux",
            "config":{"ExposedPorts":{"80/tcp":{},"443/tcp":{},"53/udp":{},"8080/tcp":{}},
                      "Volumes":{"/data":{},"/logs":{},"/cache":{},"/srv":{}},
                      "Labels":{"a":"1","b":"2","c":"3","d":"4","e":"5"}},
            "rootfs":{"type":"layers","diff_ids":[]}}"#;
        // Each parse makes new HashMaps, each with its own random order.
        let bytes: Vec<Vec<u8>> = (0..20)
            .map(|_| config_bytes(&serde_json::from_str(json).unwrap()).unwrap())
            .collect();
        assert!(bytes.iter().all(|b| *b == bytes[0]));
        let text = String::from_utf8(bytes[0].clone()).unwrap();
        assert!(
            text.contains(r#""ExposedPorts":{"443/tcp":{},"53/udp":{},"80/tcp":{},"8080/tcp":{}}"#),
            "{text}"
        );
    }
}
