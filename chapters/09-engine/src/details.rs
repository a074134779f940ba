//! What the engine keeps about a container beside chapter 04's record: the
//! settings `run` was given that are not in the OCI spec (docker's
//! `HostConfig`: restart policy, volumes, `--rm`, ...) and the engine's own
//! state (paused, restart count, OOM kill). Each is a JSON file in the
//! container's directory, written atomically like the store's own.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ch04_overlayfs::store::Container;
use dockyard_shim::restart::Policy;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// docker's `HostConfig` (and the parts of `Config` the spec does not keep),
/// fixed at creation: `containers/<id>/hostconfig.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostConfig {
    /// `-v` as given (`/host:/ctr:ro`, `name:/ctr`), docker's `Binds`.
    pub binds: Vec<String>,
    /// Every mount the container gets beyond its root: binds, volumes, tmpfs.
    pub mounts: Vec<MountPoint>,
    /// `--memory` in bytes, 0 for none.
    pub memory: i64,
    /// `--cpus` in billionths of a CPU, 0 for none.
    pub nano_cpus: i64,
    /// `--pids-limit`, `None` for none.
    pub pids_limit: Option<i64>,
    /// `--restart` (`no`, `always`, `on-failure[:N]`, `unless-stopped`), checked.
    pub restart: String,
    /// `--stop-signal`, if not SIGTERM.
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds, if not 10.
    pub stop_timeout: Option<i64>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--read-only`.
    pub readonly_rootfs: bool,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--rm`.
    pub auto_remove: bool,
    /// `--init`: a reaping init runs as PID 1.
    pub init: bool,
    /// `--log-opt`s, checked at creation (`max-size=10m`).
    pub log_opts: Vec<String>,
    /// `-i`.
    pub open_stdin: bool,
    /// docker's `StdinOnce`: the container's stdin closes when the first
    /// attached client's does (`run -i` in the foreground).
    pub stdin_once: bool,
    /// The image's entrypoint (or `--entrypoint`), docker's `Config.Entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// The command after the entrypoint, docker's `Config.Cmd`.
    pub cmd: Option<Vec<String>>,
    /// The network flags, checked (see [`crate::network::checked`]):
    /// docker's `NetworkMode`, `PortBindings`, `Dns`, `ExtraHosts`, ...
    #[serde(default)]
    pub network: ch05_network::NetworkFlags,
}

/// One mount of a container, as `docker inspect` shows it in `Mounts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    pub kind: String,
    /// The volume's name (`volume` only).
    pub name: Option<String>,
    /// The host path (a volume's `_data` dir); empty for tmpfs.
    pub source: PathBuf,
    /// Where it appears in the container.
    pub destination: String,
    /// Writable.
    pub rw: bool,
    /// Options for tmpfs (`size=64m`), empty otherwise.
    pub options: Vec<String>,
    /// An anonymous volume: `rm -v` removes it with the container.
    pub anonymous: bool,
}

impl MountPoint {
    /// A bind mount of host path `source` on `destination`.
    pub fn bind(source: PathBuf, destination: String, rw: bool) -> MountPoint {
        MountPoint {
            kind: "bind".into(),
            name: None,
            source,
            destination,
            rw,
            options: Vec::new(),
            anonymous: false,
        }
    }
}

/// The engine's own state of a container: `containers/<id>/runtime.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    /// Frozen by `pause`.
    pub paused: bool,
    /// How many times the restart policy restarted it.
    pub restart_count: u32,
    /// Waiting to be restarted by its policy.
    pub restarting: bool,
    /// `stop` or `kill` ended it: no restart policy brings it back.
    pub stopped_by_user: bool,
    /// `restart` is stopping it to start it again: its supervisor must not
    /// remove it (`--rm`) on the way out, as dockerd does not.
    #[serde(default)]
    pub restarting_by_user: bool,
    /// Whether the OOM killer struck at its last exit.
    pub oom_killed: bool,
    /// Why it could not start, if it could not.
    pub error: String,
}

fn path(container: &Container, file: &str) -> PathBuf {
    container.dir.join(file)
}

fn load<T: DeserializeOwned + Default>(path: &Path) -> anyhow::Result<T> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is unreadable", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(err) => Err(err).with_context(|| format!("read {}", path.display())),
    }
}

impl HostConfig {
    /// The container's host config (the default for one made before it had one).
    pub fn load(container: &Container) -> anyhow::Result<HostConfig> {
        HostConfig::load_in(&container.dir)
    }

    /// The host configuration of the container whose directory is `dir` (for
    /// a listing, which has no full [`Container`]).
    pub fn load_in(dir: &Path) -> anyhow::Result<HostConfig> {
        load(&dir.join("hostconfig.json"))
    }

    /// Its file in the container's directory, name and content: written
    /// once, with the container's other files, as it is made (see
    /// [`ContainerStore::begin`](ch04_overlayfs::store::ContainerStore::begin)).
    pub fn file(&self) -> anyhow::Result<(&'static str, Vec<u8>)> {
        Ok(("hostconfig.json", serde_json::to_vec_pretty(self)?))
    }
}

impl HostConfig {
    /// The `--restart` policy. The flag was checked when the container was
    /// made; a record that holds none (or garbage) means docker's default, `no`.
    pub fn restart_policy(&self) -> Policy {
        self.restart.parse().unwrap_or_default()
    }

    /// The json-file log's settings from `--log-opt`.
    pub fn log_config(&self) -> Result<dockyard_shim::logs::LogConfig, dockyard_shim::logs::Error> {
        dockyard_shim::logs::LogConfig::from_opts(
            self.log_opts
                .iter()
                .map(|o| o.split_once('=').unwrap_or((o.as_str(), ""))),
        )
    }
}

impl Runtime {
    /// The container's engine state.
    pub fn load(container: &Container) -> anyhow::Result<Runtime> {
        Runtime::load_in(&container.dir)
    }

    /// The engine state of the container whose directory is `dir` (for a
    /// listing, which has no full [`Container`]).
    pub fn load_in(dir: &Path) -> anyhow::Result<Runtime> {
        load(&dir.join("runtime.json"))
    }

    /// Records it, atomically but not durably, as the container's state
    /// ([`io::replace_atomic`](ch04_overlayfs::io::replace_atomic)): it
    /// describes a run, and no run outlives a reboot.
    pub fn save(&self, container: &Container) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec_pretty(self)?;
        ch04_overlayfs::io::replace_atomic(&path(container, "runtime.json"), &bytes)?;
        Ok(())
    }

    /// Records it if it differs from `before` (what was loaded): most runs
    /// change none of it, and each write costs an fsync.
    pub fn save_changed(&self, before: &Runtime, container: &Container) -> anyhow::Result<()> {
        match self == before {
            true => Ok(()),
            false => self.save(container),
        }
    }
}
