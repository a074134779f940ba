//! Volumes: directories the engine owns outside any container's layers, so
//! what a container writes there outlives it. On disk, as docker's `local`
//! driver keeps them:
//!
//! ```text
//! volumes/<name>/_data         what containers see
//! volumes/<name>/volume.json   creation time, and whether it is anonymous
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use ch04_overlayfs::store::StoreLock;
use serde::{Deserialize, Serialize};

/// Why a volume operation failed, in docker's words.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("get {0}: no such volume")]
    NotFound(String),
    #[error(
        "create {0}: \"{0}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
    )]
    InvalidName(String),
    #[error("remove {name}: volume is in use - [{users}]")]
    InUse { name: String, users: String },
}

/// What `volume.json` records.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    created: u64,
    anonymous: bool,
}

/// One volume.
#[derive(Debug, Clone)]
pub struct Volume {
    /// Its name (64 hex digits for an anonymous one).
    pub name: String,
    /// `volumes/<name>`.
    pub dir: PathBuf,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// Made for one container (an image's `VOLUME`, `-v /path`).
    pub anonymous: bool,
}

impl Volume {
    /// What containers mount: `volumes/<name>/_data`.
    pub fn data(&self) -> PathBuf {
        self.dir.join("_data")
    }
}

/// The volumes under `ROOT/volumes`.
#[derive(Debug)]
pub struct VolumeStore {
    dir: PathBuf,
}

/// docker's rule for a local volume's name.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl VolumeStore {
    /// Opens (creating if needed) the volume store at `root`.
    pub fn open(root: &Path) -> anyhow::Result<VolumeStore> {
        let store = VolumeStore {
            dir: root.join("volumes"),
        };
        let lock = || StoreLock::exclusive(&store.dir.join(".lock"));
        let _lock = ch04_overlayfs::io::in_dir(&store.dir, lock)?;
        ch04_overlayfs::io::remove_leftovers(&store.dir)?;
        Ok(store)
    }

    fn lock(&self) -> anyhow::Result<StoreLock> {
        Ok(StoreLock::exclusive(&self.dir.join(".lock"))?)
    }

    /// The volume `name`, made now if it does not exist (anonymous if it has
    /// no name); the flag says whether it was just made, so the caller can
    /// fill it from the image.
    pub fn get_or_create(&self, name: Option<&str>) -> anyhow::Result<(Volume, bool)> {
        let _lock = self.lock()?;
        let (name, anonymous) = match name {
            Some(name) if !valid_name(name) => {
                return Err(VolumeError::InvalidName(name.into()).into());
            }
            Some(name) => (name.to_string(), false),
            None => (ch04_overlayfs::store::names::new_id(), true),
        };
        if let Ok(volume) = self.get(&name) {
            return Ok((volume, false));
        }
        let dir = self.dir.join(&name);
        let temp = tempfile::Builder::new()
            .prefix(ch04_overlayfs::io::TEMP_PREFIX)
            .tempdir_in(&self.dir)
            .with_context(|| format!("create a volume in {}", self.dir.display()))?;
        std::fs::create_dir(temp.path().join("_data"))?;
        let meta = Meta {
            created: crate::human::now().0,
            anonymous,
        };
        ch04_overlayfs::io::write_atomic(
            &temp.path().join("volume.json"),
            &serde_json::to_vec(&meta)?,
        )?;
        std::fs::rename(temp.keep(), &dir)
            .with_context(|| format!("create volume {}", dir.display()))?;
        Ok((self.get(&name)?, true))
    }

    /// The volume called `name`.
    pub fn get(&self, name: &str) -> anyhow::Result<Volume> {
        let dir = self.dir.join(name);
        let meta_path = dir.join("volume.json");
        if !valid_name(name) || !meta_path.is_file() {
            return Err(VolumeError::NotFound(name.into()).into());
        }
        let meta: Meta = serde_json::from_slice(&std::fs::read(&meta_path)?)
            .with_context(|| format!("{} is unreadable", meta_path.display()))?;
        Ok(Volume {
            name: name.into(),
            dir,
            created: meta.created,
            anonymous: meta.anonymous,
        })
    }

    /// Every volume, by name.
    pub fn list(&self) -> anyhow::Result<Vec<Volume>> {
        let mut volumes = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if let Ok(volume) = self.get(&name) {
                volumes.push(volume);
            }
        }
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(volumes)
    }

    /// Removes the volume and its data; `users` are the containers that use
    /// it (IDs): with any, it is refused, in docker's words.
    pub fn remove(&self, volume: &Volume, users: &[String]) -> anyhow::Result<()> {
        if !users.is_empty() {
            return Err(VolumeError::InUse {
                name: volume.name.clone(),
                users: users.join(", "),
            }
            .into());
        }
        let _lock = self.lock()?;
        // Renamed away first, so a crash midway leaves no half-volume.
        let doomed = self.dir.join(format!(
            "{}{}",
            ch04_overlayfs::io::TEMP_PREFIX,
            volume.name
        ));
        std::fs::rename(&volume.dir, &doomed)
            .with_context(|| format!("remove volume {}", volume.name))?;
        std::fs::remove_dir_all(&doomed)
            .with_context(|| format!("remove volume {}", volume.name))?;
        Ok(())
    }
}
