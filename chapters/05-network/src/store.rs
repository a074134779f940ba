//! The persisted state: networks, and what each container was given.
//!
//! Teardown must work after a crash, when nothing is left in memory: so every
//! address handed out, every veth and every published port is written here
//! *before* it is made, and its record goes only once it is gone. The state is
//! one JSON file, `state.json`, in a directory the caller chooses (the engine
//! passes its root). Every change is a transaction under `flock(2)` on a
//! `lock` file beside it (so the CLI, the daemon and parallel runs never
//! interleave), and is written atomically: a temporary file, fsync(2), then
//! rename(2) over the old one, so a crash at any moment leaves either the old
//! state or the new one, never half of each.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::ports::Proto;
use crate::subnet::Subnet;

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation on the state failed.
    #[error("{step} {}: {source}", path.display())]
    Io {
        step: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// flock(2) on the lock file failed.
    #[error("lock {}: {source}", path.display())]
    Lock { path: PathBuf, source: nix::Error },
    /// The state file is not what this version wrote.
    #[error("state file {} is corrupt: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Everything chapter 05 made that must be found again to be unmade.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct State {
    /// Networks by name, the default `bridge` among them once used.
    pub networks: BTreeMap<String, NetworkRecord>,
    /// Containers with a network, by container id.
    pub containers: BTreeMap<String, ContainerRecord>,
    /// The ids `network ls` shows for the predefined `host` and `none`, made once.
    #[serde(default)]
    pub predefined_ids: BTreeMap<String, String>,
    /// The networks each container was put on with `network connect`, by
    /// container id. Unlike its endpoints, kept while it is stopped: each
    /// [`crate::Networks::prepare`] gives it an endpoint on each of them again,
    /// as docker keeps a connected network in the container's configuration.
    #[serde(default)]
    pub joined: BTreeMap<String, Vec<Joined>>,
}

/// A network a container was connected to, and what was asked for on it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Joined {
    /// The network's name.
    pub network: String,
    /// `--ip`, if given.
    pub ip: Option<Ipv4Addr>,
    /// `--alias`es.
    pub aliases: Vec<String>,
}

/// A bridge network: its own bridge device, subnet and NAT rules.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetworkRecord {
    /// Its name (`bridge` for the default one).
    pub name: String,
    /// A random 64-hex-digit id, as docker's.
    pub id: String,
    /// The bridge device, at most 15 characters (IFNAMSIZ less the NUL).
    pub bridge: String,
    /// The network's subnet.
    pub subnet: Subnet,
    /// The part of the subnet handed out automatically (`--ip-range`).
    pub ip_range: Option<Subnet>,
    /// The bridge's address: the containers' default route.
    pub gateway: Ipv4Addr,
    /// User-defined networks resolve container names; the default bridge does not.
    pub user_defined: bool,
    /// `--label KEY=VALUE`s, shown by `network inspect` and matched by `ls --filter label=`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// When it was made (records written before this was kept have none).
    #[serde(default)]
    pub created: Option<std::time::SystemTime>,
}

/// A container's networking: its files and its endpoints.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContainerRecord {
    /// The container id (the engine's, or a chapter binary's short id).
    pub id: String,
    /// Its name: what other containers on a user network call it.
    pub name: String,
    /// Its host name, which its own /etc/hosts maps to its address.
    pub hostname: String,
    /// `--add-host` and `--link` entries, kept for rewriting /etc/hosts.
    pub extra_hosts: Vec<(String, Ipv4Addr)>,
    /// One per network it is attached to.
    pub endpoints: Vec<Endpoint>,
}

/// A container's place on one network: what [`crate::Networks::teardown`] removes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Endpoint {
    /// A random 64-hex-digit id, docker's `EndpointID` (empty in older records).
    #[serde(default)]
    pub id: String,
    /// The network's name.
    pub network: String,
    /// Its address, from the network's pool.
    pub ip: Ipv4Addr,
    /// Its MAC address, `02:42:...`.
    pub mac: String,
    /// The host end of its veth pair, on the bridge.
    pub veth: String,
    /// More names it answers to on this network (`--network-alias`).
    pub aliases: Vec<String>,
    /// Its published ports.
    pub ports: Vec<PortBinding>,
}

/// A published port, with the host port it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortBinding {
    /// The host address it is reached on (0.0.0.0: all of them).
    pub host_ip: Ipv4Addr,
    /// The host port.
    pub host_port: u16,
    /// The port inside the container.
    pub container_port: u16,
    /// tcp, udp or sctp.
    pub proto: Proto,
}

/// The state directory: `state.json`, its `lock`, and one directory of files
/// (hosts, resolv.conf) per container.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Uses `dir`, making it if needed.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a container's /etc files live.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.dir.join("containers").join(id)
    }

    /// Reads the state without changing it (under the lock, so never half-written).
    pub fn read(&self) -> Result<State, StoreError> {
        let _lock = self.lock()?;
        self.load()
    }

    // ANCHOR: update
    /// Runs one transaction: locks, reads, lets `change` edit the state, writes
    /// it atomically if `change` succeeded, unlocks. `change` may do the work the
    /// records describe (it runs under the lock), so its errors are the caller's.
    pub fn update<T, E: From<StoreError>>(
        &self,
        change: impl FnOnce(&mut State) -> Result<T, E>,
    ) -> Result<T, E> {
        let _lock = self.lock()?;
        let mut state = self.load()?;
        let before = state.clone();
        let result = change(&mut state);
        // Save even when `change` failed part-way: it records each step it got
        // through, so a later teardown knows what to remove.
        if state != before {
            self.save(&state)?;
        }
        result
    }
    // ANCHOR_END: update

    fn lock(&self) -> Result<Flock<File>, StoreError> {
        let path = self.dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, source)| StoreError::Lock {
            path: path.clone(),
            source,
        })
    }

    fn load(&self) -> Result<State, StoreError> {
        let path = self.dir.join("state.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| StoreError::Corrupt { path, source }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(err) => Err(io("read", &path)(err)),
        }
    }

    fn save(&self, state: &State) -> Result<(), StoreError> {
        let path = self.dir.join("state.json");
        let tmp = self.dir.join("state.json.tmp");
        let text = serde_json::to_vec_pretty(state).expect("state serializes");
        let mut file = File::create(&tmp).map_err(io("create", &tmp))?;
        file.write_all(&text).map_err(io("write", &tmp))?;
        file.sync_all().map_err(io("fsync", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("rename", &path))?;
        // The rename itself is durable once the directory is synced.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync", &self.dir))
    }
}

/// An I/O error on `path` during `step`.
fn io(step: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { step, path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(name: &str) -> NetworkRecord {
        NetworkRecord {
            name: name.into(),
            id: "0".repeat(64),
            bridge: "dy-test".into(),
            subnet: "10.200.9.0/24".parse().unwrap(),
            ip_range: None,
            gateway: "10.200.9.1".parse().unwrap(),
            user_defined: true,
            labels: BTreeMap::new(),
            created: None,
        }
    }

    #[test]
    fn a_transaction_is_saved_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.read().unwrap(), State::default());
        store
            .update(|s| {
                s.networks.insert("n1".into(), network("n1"));
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let again = Store::open(dir.path()).unwrap().read().unwrap();
        assert_eq!(again.networks["n1"], network("n1"));
        assert!(!dir.path().join("state.json.tmp").exists());
    }

    #[test]
    fn a_failed_change_keeps_the_steps_it_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let result: Result<(), StoreError> = store.update(|s| {
            s.networks.insert("n1".into(), network("n1"));
            Err(io("pretend", Path::new("/x"))(std::io::Error::other(
                "boom",
            )))
        });
        assert!(result.is_err());
        assert!(store.read().unwrap().networks.contains_key("n1"));
    }

    #[test]
    fn concurrent_transactions_do_not_lose_updates() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = Store::open(dir.path()).unwrap();
                std::thread::spawn(move || {
                    store
                        .update(|s| {
                            s.networks.insert(format!("n{i}"), network("x"));
                            Ok::<_, StoreError>(())
                        })
                        .unwrap()
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.read().unwrap().networks.len(), 8);
    }

    #[test]
    fn a_corrupt_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("state.json"), "{").unwrap();
        let err = Store::open(dir.path()).unwrap().read().unwrap_err();
        assert!(err.to_string().contains("state.json is corrupt"), "{err}");
    }
}
