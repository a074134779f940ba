//! The layer store: each layer unpacked once, keyed by chain ID, shared.
//!
//! Two images built on the same base share its layers on disk and in the page
//! cache: that is much of why containers start fast and images are small. A
//! layer is keyed by its chain ID (image-spec config.md, "Layer ChainID"), not
//! its diff ID, because the same changeset on a different parent makes a
//! different filesystem.
//!
//! ```text
//! layers/<chain hex>/diff/          the files, in overlayfs form (whiteouts as 0:0 devices)
//! layers/<chain hex>/layer.json     chain ID, diff ID, parent's chain ID, size
//! layers/<chain hex>/holders/<who>  one empty file per image that uses it
//! ```
//!
//! A layer is removed when its last holder lets go, so removing one image never
//! removes a layer another image still uses. Holding a layer holds its parents
//! too. A layer appears by renaming a fully unpacked temp directory, so a crash
//! never leaves a half layer under a chain ID.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::io::{self, IoContext, IoError, TEMP_PREFIX};
use crate::store::lock::StoreLock;
use crate::unpack::{UnpackError, unpack};

/// Why a layer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("layer {0} not found in the layer store")]
    NotFound(Digest),
    #[error("layer {path} has an unreadable record: {cause}")]
    Corrupt {
        path: PathBuf,
        cause: serde_json::Error,
    },
    #[error("holder name {0:?} is not a plain file name")]
    BadHolder(String),
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error(transparent)]
    Io(#[from] IoError),
}

/// One layer in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    /// Names the filesystem this layer and its parents make; the store's key.
    pub chain_id: Digest,
    /// sha256 of this layer's uncompressed tar.
    pub diff_id: Digest,
    /// The chain ID of the layer below, if any.
    pub parent: Option<Digest>,
    /// Size of the uncompressed tar, in bytes.
    pub size: u64,
}

/// Unpacked layers under `ROOT/layers`.
#[derive(Debug, Clone)]
pub struct LayerStore {
    dir: PathBuf,
}

impl LayerStore {
    /// Opens (creating if needed) the layer store at `root`, removing what a
    /// crash left: half-unpacked or half-removed layer directories.
    pub fn open(root: &Path) -> Result<LayerStore, LayerError> {
        let store = LayerStore {
            dir: root.join("layers"),
        };
        let lock = || StoreLock::try_exclusive(&store.unpacking_lock());
        if let Some(_lock) = io::in_dir(&store.dir, lock)? {
            io::remove_leftovers(&store.dir)?;
        }
        Ok(store)
    }

    fn lock(&self) -> Result<StoreLock, IoError> {
        StoreLock::exclusive(&self.dir.join(".lock"))
    }

    /// Held shared while a layer is being unpacked, so its temp dir is not
    /// taken for a crash's leftover.
    fn unpacking_lock(&self) -> PathBuf {
        self.dir.join(".unpacking.lock")
    }

    fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.dir.join(chain_id.hex())
    }

    /// The directory holding layer `chain_id`'s files: a `lowerdir` for overlayfs.
    pub fn diff_dir(&self, chain_id: &Digest) -> PathBuf {
        self.layer_dir(chain_id).join("diff")
    }

    /// Whether layer `chain_id` is in the store.
    pub fn contains(&self, chain_id: &Digest) -> bool {
        self.layer_dir(chain_id).join("layer.json").is_file()
    }

    /// Unpacks the layer `blob` (tar or tar.gz) on top of `parent` and holds it
    /// (and its parents) for `holder`. A layer already in the store is not
    /// unpacked again. `diff_id` is checked when given.
    pub fn create(
        &self,
        parent: Option<&Digest>,
        blob: impl Read,
        diff_id: Option<&Digest>,
        holder: &str,
    ) -> Result<Layer, LayerError> {
        check_holder(holder)?;
        if let Some(parent) = parent.filter(|p| !self.contains(p)) {
            return Err(LayerError::NotFound(parent.clone()));
        }
        if let Some(existing) = diff_id
            .map(|d| Digest::chain(parent, d))
            .filter(|c| self.contains(c))
        {
            let _lock = self.lock()?;
            self.hold_locked(&existing, holder)?;
            return self.get(&existing);
        }

        let _unpacking = StoreLock::shared(&self.unpacking_lock())?;
        let temp = tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}layer-"))
            .tempdir_in(&self.dir)
            .at("create a temp directory in", &self.dir)?;
        let unpacked = unpack(blob, &temp.path().join("diff"), diff_id)?;
        let layer = Layer {
            chain_id: Digest::chain(parent, &unpacked.diff_id),
            diff_id: unpacked.diff_id,
            parent: parent.cloned(),
            size: unpacked.tar_size,
        };
        let record = serde_json::to_vec_pretty(&layer).expect("a layer record serializes");
        io::write_atomic(&temp.path().join("layer.json"), &record)?;
        let holders = temp.path().join("holders");
        std::fs::create_dir(&holders).at("create", &holders)?;

        let _lock = self.lock()?;
        if !self.contains(&layer.chain_id) {
            let target = self.layer_dir(&layer.chain_id);
            std::fs::rename(temp.keep(), &target).at("rename into place", &target)?;
            io::sync_dir(&self.dir)?;
        }
        self.hold_locked(&layer.chain_id, holder)?;
        Ok(layer)
    }

    /// The record of layer `chain_id`.
    pub fn get(&self, chain_id: &Digest) -> Result<Layer, LayerError> {
        let path = self.layer_dir(chain_id).join("layer.json");
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(LayerError::NotFound(chain_id.clone()));
            }
            Err(err) => return Err(err).at("read", &path)?,
        };
        serde_json::from_slice(&bytes).map_err(|cause| LayerError::Corrupt { path, cause })
    }

    /// Layer `chain_id` and every layer below it, top first: the order overlayfs
    /// wants its `lowerdir`s in.
    pub fn stack(&self, chain_id: &Digest) -> Result<Vec<Layer>, LayerError> {
        let mut stack = vec![self.get(chain_id)?];
        while let Some(parent) = stack.last().and_then(|l| l.parent.clone()) {
            stack.push(self.get(&parent)?);
        }
        Ok(stack)
    }

    /// The `lowerdir`s for a container of the image whose top layer is `chain_id`.
    pub fn lower_dirs(&self, chain_id: &Digest) -> Result<Vec<PathBuf>, LayerError> {
        Ok(self
            .stack(chain_id)?
            .iter()
            .map(|l| self.diff_dir(&l.chain_id))
            .collect())
    }

    /// Records that `holder` uses layer `chain_id` and its parents.
    pub fn hold(&self, chain_id: &Digest, holder: &str) -> Result<(), LayerError> {
        check_holder(holder)?;
        let _lock = self.lock()?;
        self.hold_locked(chain_id, holder)
    }

    fn hold_locked(&self, chain_id: &Digest, holder: &str) -> Result<(), LayerError> {
        for layer in self.stack(chain_id)? {
            let path = self.layer_dir(&layer.chain_id).join("holders").join(holder);
            std::fs::write(&path, b"").at("create", &path)?;
        }
        Ok(())
    }

    /// Who holds layer `chain_id`.
    pub fn holders(&self, chain_id: &Digest) -> Result<Vec<String>, LayerError> {
        let dir = self.layer_dir(chain_id).join("holders");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .at("read directory", &dir)?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The top of the stack `holder` holds: the layer it holds that is no
    /// held layer's parent. For a holder that cannot say (an image whose
    /// config is unreadable).
    pub fn top_held_by(&self, holder: &str) -> Result<Option<Digest>, LayerError> {
        let mut held = Vec::new();
        for layer in self.list()? {
            if self.holders(&layer.chain_id)?.iter().any(|h| h == holder) {
                held.push(layer);
            }
        }
        Ok(held
            .iter()
            .find(|l| !held.iter().any(|c| c.parent.as_ref() == Some(&l.chain_id)))
            .map(|l| l.chain_id.clone()))
    }

    /// `holder` lets go of layer `chain_id` and its parents; each layer that no
    /// one holds any more is removed. Returns the removed layers' chain IDs.
    pub fn release(&self, chain_id: &Digest, holder: &str) -> Result<Vec<Digest>, LayerError> {
        check_holder(holder)?;
        let _lock = self.lock()?;
        let mut removed = Vec::new();
        for layer in self.stack(chain_id)? {
            let path = self.layer_dir(&layer.chain_id).join("holders").join(holder);
            match std::fs::remove_file(&path) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    return Err(err).at("remove", &path)?;
                }
                _ => {}
            }
            if self.holders(&layer.chain_id)?.is_empty() {
                self.remove_locked(&layer.chain_id)?;
                removed.push(layer.chain_id);
            }
        }
        Ok(removed)
    }

    /// Removes every layer no one holds (left by a crash between unpacking and
    /// an image taking hold). Returns their chain IDs.
    pub fn prune(&self) -> Result<Vec<Digest>, LayerError> {
        let _lock = self.lock()?;
        let mut removed = Vec::new();
        // Top layers first: a parent is only unheld once its children are gone.
        let mut layers = self.list()?;
        while let Some(i) = layers.iter().position(|l| {
            self.holders(&l.chain_id).is_ok_and(|h| h.is_empty())
                && !layers
                    .iter()
                    .any(|c| c.parent.as_ref() == Some(&l.chain_id))
        }) {
            let layer = layers.remove(i);
            self.remove_locked(&layer.chain_id)?;
            removed.push(layer.chain_id);
        }
        Ok(removed)
    }

    /// Every layer in the store, in chain ID order.
    pub fn list(&self) -> Result<Vec<Layer>, LayerError> {
        let mut layers = Vec::new();
        for entry in std::fs::read_dir(&self.dir).at("read directory", &self.dir)? {
            let name = entry.at("read directory", &self.dir)?.file_name();
            if let Some(chain_id) = name.to_str().and_then(|n| Digest::parse(n).ok()) {
                layers.push(self.get(&chain_id)?);
            }
        }
        layers.sort_by(|a, b| a.chain_id.cmp(&b.chain_id));
        Ok(layers)
    }

    /// Takes the layer out of sight with one rename, then deletes it: a crash
    /// midway leaves a temp dir, never a half layer under its chain ID.
    fn remove_locked(&self, chain_id: &Digest) -> Result<(), LayerError> {
        let dir = self.layer_dir(chain_id);
        let doomed = self
            .dir
            .join(format!("{TEMP_PREFIX}removing-{}", chain_id.hex()));
        std::fs::rename(&dir, &doomed).at("rename", &dir)?;
        std::fs::remove_dir_all(&doomed).at("remove", &doomed)?;
        Ok(())
    }
}

fn check_holder(holder: &str) -> Result<(), LayerError> {
    let ok = !holder.is_empty()
        && !holder.starts_with('.')
        && holder
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(LayerError::BadHolder(holder.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-file layer tar.
    fn layer_tar(file: &str, content: &str) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        builder
            .append_data(&mut header, file, content.as_bytes())
            .unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn layers_are_keyed_by_chain_id_and_stack_top_first() {
        let root = tempfile::tempdir().unwrap();
        let store = LayerStore::open(root.path()).unwrap();
        let base = store
            .create(None, &layer_tar("a", "1")[..], None, "img1")
            .unwrap();
        assert_eq!(base.chain_id, base.diff_id);
        let top = store
            .create(Some(&base.chain_id), &layer_tar("b", "2")[..], None, "img1")
            .unwrap();
        assert_eq!(
            top.chain_id,
            Digest::chain(Some(&base.chain_id), &top.diff_id)
        );
        assert_eq!(
            store.lower_dirs(&top.chain_id).unwrap(),
            [
                store.diff_dir(&top.chain_id),
                store.diff_dir(&base.chain_id)
            ]
        );
        assert_eq!(
            std::fs::read_to_string(store.diff_dir(&top.chain_id).join("b")).unwrap(),
            "2"
        );
    }

    #[test]
    fn a_shared_layer_survives_until_its_last_holder_lets_go() {
        let root = tempfile::tempdir().unwrap();
        let store = LayerStore::open(root.path()).unwrap();
        let tar = layer_tar("a", "shared");
        let base = store.create(None, &tar[..], None, "one").unwrap();
        let again = store
            .create(None, &tar[..], Some(&base.diff_id), "two")
            .unwrap();
        assert_eq!(base, again);
        let only_one = store
            .create(Some(&base.chain_id), &layer_tar("b", "")[..], None, "one")
            .unwrap();
        assert_eq!(store.holders(&base.chain_id).unwrap(), ["one", "two"]);

        assert_eq!(
            store.release(&only_one.chain_id, "one").unwrap(),
            std::slice::from_ref(&only_one.chain_id)
        );
        assert!(store.contains(&base.chain_id), "image two still uses it");
        assert_eq!(
            store.release(&base.chain_id, "two").unwrap(),
            std::slice::from_ref(&base.chain_id)
        );
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn a_half_unpacked_layer_never_becomes_visible() {
        let root = tempfile::tempdir().unwrap();
        let store = LayerStore::open(root.path()).unwrap();
        // What a kill -9 in the middle of an unpack leaves.
        let half = store.dir.join(".tmp-layer-crashed");
        std::fs::create_dir_all(half.join("diff/etc")).unwrap();
        assert!(store.list().unwrap().is_empty());
        let store = LayerStore::open(root.path()).unwrap();
        assert!(!half.exists(), "the leftover is cleaned on open");
        // A failed unpack leaves nothing either.
        let err = store.create(
            None,
            &layer_tar("a", "x")[..],
            Some(&Digest::of(b"no")),
            "img",
        );
        assert!(err.is_err());
        assert_eq!(
            std::fs::read_dir(&store.dir)
                .unwrap()
                .filter(|e| !e
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".lock"))
                .count(),
            0
        );
    }

    #[test]
    fn prune_removes_unheld_layers_top_first() {
        let root = tempfile::tempdir().unwrap();
        let store = LayerStore::open(root.path()).unwrap();
        let base = store
            .create(None, &layer_tar("a", "")[..], None, "tmp")
            .unwrap();
        let top = store
            .create(Some(&base.chain_id), &layer_tar("b", "")[..], None, "tmp")
            .unwrap();
        // A crash after unpacking, before an image took hold: holders are gone.
        for l in [&base, &top] {
            std::fs::remove_file(store.layer_dir(&l.chain_id).join("holders/tmp")).unwrap();
        }
        assert_eq!(store.prune().unwrap(), [top.chain_id, base.chain_id]);
    }
}
