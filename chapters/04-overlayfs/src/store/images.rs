//! The image store: image configs, and the `repo:tag` names that point at them.
//!
//! An image is its config (image-spec config.md): how to run it, and the diff
//! IDs of its layers, bottom first. Its ID is the sha256 of the config's bytes,
//! so the same config is the same image wherever it is. Names are pointers:
//! `busybox:latest -> sha256:...`; one image may have many, and an image that
//! lost its last name (to a newer build with the same tag) is "dangling", shown
//! by `docker images` as `<none>:<none>`.
//!
//! ```text
//! images/sha256/<hex>/config.json   the config, byte for byte
//! images/repositories.json          {"busybox:latest": "sha256:..."}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;

use crate::digest::Digest;
use crate::io::{self, IoContext, IoError, TEMP_PREFIX};
use crate::store::keep_if_there;
use crate::store::layers::{LayerError, LayerStore};
use crate::store::lock::StoreLock;

/// Why an image operation failed. Messages follow docker's where it has one.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("No such image: {0}")]
    NotFound(String),
    #[error("multiple IDs found with provided prefix: {0}")]
    Ambiguous(String),
    #[error("\"{0}\" is not a valid repository/tag: invalid reference format")]
    InvalidReference(String),
    #[error("invalid image config {id}: {cause}")]
    InvalidConfig {
        id: Digest,
        cause: serde_json::Error,
    },
    #[error("invalid diff ID in image config {id}: {text}")]
    InvalidDiffId { id: Digest, text: String },
    #[error("{path} is unreadable: {cause}")]
    Corrupt {
        path: PathBuf,
        cause: serde_json::Error,
    },
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Io(#[from] IoError),
}

impl ImageError {
    /// Whether an image's own config is what failed: garbage in it, or
    /// missing. Not a failure of the store (the names in
    /// `repositories.json` are everyone's), which listings pass over.
    pub fn is_unreadable(&self) -> bool {
        let is_config = |path: &Path| path.file_name() == Some("config.json".as_ref());
        match self {
            ImageError::Corrupt { path, .. } => is_config(path),
            ImageError::Io(err) => {
                is_config(&err.path) && err.cause.kind() == std::io::ErrorKind::NotFound
            }
            _ => false,
        }
    }
}

/// An image: its ID, its config, and the names pointing at it.
#[derive(Debug, Clone)]
pub struct Image {
    /// sha256 of the config bytes.
    pub id: Digest,
    /// The parsed config.
    pub config: ImageConfiguration,
    /// Its `repo:tag` names, sorted; empty for a dangling image.
    pub tags: Vec<String>,
}

impl Image {
    /// The chain ID of each layer, bottom first (from the config's diff IDs).
    pub fn chain_ids(&self) -> Result<Vec<Digest>, ImageError> {
        chain_ids(&self.id, &self.config)
    }

    /// The chain ID of the top layer: what a container's `lowerdir`s start from.
    pub fn top_layer(&self) -> Result<Option<Digest>, ImageError> {
        Ok(self.chain_ids()?.pop())
    }
}

fn chain_ids(id: &Digest, config: &ImageConfiguration) -> Result<Vec<Digest>, ImageError> {
    let mut chain: Vec<Digest> = Vec::new();
    for text in config.rootfs().diff_ids() {
        let diff_id = Digest::parse(text).map_err(|_| ImageError::InvalidDiffId {
            id: id.clone(),
            text: text.clone(),
        })?;
        chain.push(Digest::chain(chain.last(), &diff_id));
    }
    Ok(chain)
}

/// `busybox` -> `busybox:latest`; refuses what docker would not take as a name.
pub fn normalize_name(name: &str) -> Result<String, ImageError> {
    let invalid = || ImageError::InvalidReference(name.to_string());
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], &name[last_slash + i + 1..]),
        None => (name, "latest"),
    };
    let repo_ok = repo.split('/').all(|part| {
        part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-:".contains(&b))
    });
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if repo_ok && tag_ok && !is_full_id(name) {
        Ok(format!("{repo}:{tag}"))
    } else {
        Err(invalid())
    }
}

fn is_full_id(text: &str) -> bool {
    Digest::parse(text).is_ok()
}

/// Image configs and names under `ROOT/images`.
#[derive(Debug, Clone)]
pub struct ImageStore {
    dir: PathBuf,
}

impl ImageStore {
    /// Opens (creating if needed) the image store at `root`, removing what a
    /// crash left half-written.
    pub fn open(root: &Path) -> Result<ImageStore, ImageError> {
        let dir = root.join("images");
        let configs = dir.join("sha256");
        let store = ImageStore { dir };
        let _lock = io::in_dir(&configs, || io::with_subdir(store.lock(), &configs))?;
        io::remove_leftovers(&store.dir)?;
        io::remove_leftovers(&configs)?;
        Ok(store)
    }

    fn lock(&self) -> Result<StoreLock, IoError> {
        StoreLock::exclusive(&self.dir.join(".lock"))
    }

    /// The directory of image `id`, which holds its config.
    fn image_dir(&self, id: &Digest) -> PathBuf {
        self.dir.join("sha256").join(id.hex())
    }

    fn config_path(&self, id: &Digest) -> PathBuf {
        self.image_dir(id).join("config.json")
    }

    fn repositories_path(&self) -> PathBuf {
        self.dir.join("repositories.json")
    }

    /// Adds the image whose config is `config` (its layers must already be in
    /// `layers`; the image takes hold of them). Adding it again changes nothing.
    pub fn put(&self, layers: &LayerStore, config: &[u8]) -> Result<Image, ImageError> {
        let id = Digest::of(config);
        let parsed: ImageConfiguration =
            serde_json::from_slice(config).map_err(|cause| ImageError::InvalidConfig {
                id: id.clone(),
                cause,
            })?;
        let top = chain_ids(&id, &parsed)?.pop();
        let _lock = self.lock()?;
        // Hold the layers first: a crash after this leaves a held layer (disk
        // space), never an image whose layers may be pruned.
        if let Some(top) = &top {
            layers.hold(top, id.hex())?;
        }
        let path = self.config_path(&id);
        if !path.exists() {
            let parent = self.dir.join("sha256");
            let temp = tempfile::Builder::new()
                .prefix(TEMP_PREFIX)
                .tempdir_in(&parent)
                .at("create a temp directory in", &parent)?;
            io::write_atomic(&temp.path().join("config.json"), config)?;
            let target = path.parent().expect("config.json has a parent");
            std::fs::rename(temp.keep(), target).at("rename into place", target)?;
            io::sync_dir(&parent)?;
        }
        Ok(Image {
            tags: self.tags_of(&self.read_repositories()?, &id),
            id,
            config: parsed,
        })
    }

    /// Finds an image by `name[:tag]`, full ID (`sha256:...` or hex) or a unique
    /// ID prefix, as docker does.
    pub fn get(&self, reference: &str) -> Result<Image, ImageError> {
        let repositories = self.read_repositories()?;
        let id = self.resolve(reference, &repositories)?;
        self.load(&id, &repositories)
    }

    /// The ID `reference` names (as [`get`](Self::get) finds it) and the
    /// names pointing at it, without reading its config: for an image whose
    /// config cannot be read.
    pub fn id_and_names(&self, reference: &str) -> Result<(Digest, Vec<String>), ImageError> {
        let repositories = self.read_repositories()?;
        let id = self.resolve(reference, &repositories)?;
        let names = self.tags_of(&repositories, &id);
        Ok((id, names))
    }

    fn resolve(
        &self,
        reference: &str,
        repos: &BTreeMap<String, Digest>,
    ) -> Result<Digest, ImageError> {
        if let Ok(id) = Digest::parse(reference) {
            if self.config_path(&id).exists() {
                return Ok(id);
            }
            return Err(ImageError::NotFound(reference.to_string()));
        }
        if let Ok(name) = normalize_name(reference)
            && let Some(id) = repos.get(&name)
        {
            return Ok(id.clone());
        }
        let prefix = reference.strip_prefix("sha256:").unwrap_or(reference);
        let is_hex = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_hexdigit());
        if is_hex {
            let matches: Vec<Digest> = self
                .ids()?
                .into_iter()
                .filter(|id| id.hex().starts_with(prefix))
                .collect();
            match matches.len() {
                0 => {}
                1 => return Ok(matches[0].clone()),
                _ => return Err(ImageError::Ambiguous(reference.to_string())),
            }
        }
        let shown = normalize_name(reference).unwrap_or_else(|_| reference.to_string());
        Err(ImageError::NotFound(shown))
    }

    fn load(&self, id: &Digest, repos: &BTreeMap<String, Digest>) -> Result<Image, ImageError> {
        let path = self.config_path(id);
        let bytes = std::fs::read(&path).at("read", &path)?;
        let config =
            serde_json::from_slice(&bytes).map_err(|cause| ImageError::Corrupt { path, cause })?;
        Ok(Image {
            id: id.clone(),
            config,
            tags: self.tags_of(repos, id),
        })
    }

    fn tags_of(&self, repos: &BTreeMap<String, Digest>, id: &Digest) -> Vec<String> {
        repos
            .iter()
            .filter(|(_, target)| *target == id)
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn ids(&self) -> Result<Vec<Digest>, ImageError> {
        let dir = self.dir.join("sha256");
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&dir).at("read directory", &dir)? {
            let name = entry.at("read directory", &dir)?.file_name();
            if let Some(id) = name.to_str().and_then(|n| Digest::parse(n).ok()) {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Every image, newest first (as `docker images` lists them). One whose
    /// config cannot be read is left out, as docker's daemon leaves out an
    /// image it cannot load ([`list_readable`](Self::list_readable) says
    /// which).
    pub fn list(&self) -> Result<Vec<Image>, ImageError> {
        Ok(self.list_readable()?.0)
    }

    /// [`list`](Self::list), and beside it why each image left out was.
    pub fn list_readable(&self) -> Result<(Vec<Image>, Vec<ImageError>), ImageError> {
        let repos = self.read_repositories()?;
        let (mut images, mut unreadable) = (Vec::new(), Vec::new());
        for id in self.ids()? {
            match self.load(&id, &repos) {
                Ok(image) => images.push(image),
                Err(err) if err.is_unreadable() => {
                    keep_if_there(&self.image_dir(&id), err, &mut unreadable)
                }
                Err(err) => return Err(err),
            }
        }
        images.sort_by(|a, b| {
            b.config
                .created()
                .cmp(a.config.created())
                .then(a.id.cmp(&b.id))
        });
        Ok((images, unreadable))
    }

    /// Points `name` (normalized, `busybox` -> `busybox:latest`) at image `id`,
    /// moving it from any image it named before.
    pub fn tag(&self, id: &Digest, name: &str) -> Result<String, ImageError> {
        let name = normalize_name(name)?;
        let _lock = self.lock()?;
        if !self.config_path(id).exists() {
            return Err(ImageError::NotFound(id.to_string()));
        }
        let mut repos = self.read_repositories()?;
        repos.insert(name.clone(), id.clone());
        self.write_repositories(&repos)?;
        Ok(name)
    }

    /// Removes the name `name`; returns the image it pointed at.
    pub fn untag(&self, name: &str) -> Result<Digest, ImageError> {
        let name = normalize_name(name)?;
        let _lock = self.lock()?;
        let mut repos = self.read_repositories()?;
        let id = repos
            .remove(&name)
            .ok_or_else(|| ImageError::NotFound(name.clone()))?;
        self.write_repositories(&repos)?;
        Ok(id)
    }

    /// Deletes image `id`, its names, and its hold on its layers (removing the
    /// layers no other image holds). Returns the removed layers' chain IDs.
    /// Whether a container still uses it is the caller's question to ask first.
    pub fn remove(&self, layers: &LayerStore, id: &Digest) -> Result<Vec<Digest>, ImageError> {
        let top = match self.get(&id.to_string()) {
            Ok(image) => image.top_layer()?,
            // A config that cannot say its layers: the layers say who holds them.
            Err(err) if err.is_unreadable() => layers.top_held_by(id.hex())?,
            Err(err) => return Err(err),
        };
        let _lock = self.lock()?;
        let mut repos = self.read_repositories()?;
        repos.retain(|_, target| target != id);
        self.write_repositories(&repos)?;
        let dir = self.image_dir(id);
        let doomed = self
            .dir
            .join("sha256")
            .join(format!("{TEMP_PREFIX}removing-{}", id.hex()));
        std::fs::rename(&dir, &doomed).at("rename", &dir)?;
        std::fs::remove_dir_all(&doomed).at("remove", &doomed)?;
        match top {
            Some(top) => Ok(layers.release(&top, id.hex())?),
            None => Ok(Vec::new()),
        }
    }

    fn read_repositories(&self) -> Result<BTreeMap<String, Digest>, ImageError> {
        let path = self.repositories_path();
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|cause| ImageError::Corrupt { path, cause })
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(err) => Err(err).at("read", &path)?,
        }
    }

    fn write_repositories(&self, repos: &BTreeMap<String, Digest>) -> Result<(), ImageError> {
        let bytes = serde_json::to_vec_pretty(repos).expect("names serialize");
        Ok(io::write_atomic(&self.repositories_path(), &bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::layers::Layer;

    fn layer_tar(file: &str) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        builder.append_data(&mut header, file, &b""[..]).unwrap();
        builder.into_inner().unwrap()
    }

    fn config(diff_ids: &[&Digest], created: &str) -> Vec<u8> {
        let ids: Vec<String> = diff_ids.iter().map(ToString::to_string).collect();
        serde_json::to_vec(&serde_json::json!({
            "created": created,
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": ids},
        }))
        .unwrap()
    }

    struct Stores {
        _root: tempfile::TempDir,
        layers: LayerStore,
        images: ImageStore,
    }

    fn stores() -> Stores {
        let root = tempfile::tempdir().unwrap();
        Stores {
            layers: LayerStore::open(root.path()).unwrap(),
            images: ImageStore::open(root.path()).unwrap(),
            _root: root,
        }
    }

    #[test]
    fn names_are_normalized_like_docker() {
        assert_eq!(normalize_name("busybox").unwrap(), "busybox:latest");
        assert_eq!(normalize_name("me/app:1.0").unwrap(), "me/app:1.0");
        assert_eq!(
            normalize_name("localhost:5000/app").unwrap(),
            "localhost:5000/app:latest"
        );
        assert!(normalize_name("Busybox").is_err());
        assert!(normalize_name("app:").is_err());
        let err = normalize_name("a b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"a b\" is not a valid repository/tag: invalid reference format"
        );
    }

    #[test]
    fn image_id_is_the_config_digest_and_names_point_at_it() {
        let s = stores();
        let layer = s
            .layers
            .create(None, &layer_tar("a")[..], None, "import")
            .unwrap();
        let config = config(&[&layer.diff_id], "2024-01-01T00:00:00Z");
        let image = s.images.put(&s.layers, &config).unwrap();
        assert_eq!(image.id, Digest::of(&config));
        assert!(image.tags.is_empty(), "a new untagged image is dangling");
        s.images.tag(&image.id, "busybox").unwrap();
        s.images.tag(&image.id, "busybox:1.36").unwrap();
        let by_name = s.images.get("busybox").unwrap();
        assert_eq!(by_name.id, image.id);
        assert_eq!(by_name.tags, ["busybox:1.36", "busybox:latest"]);
        assert_eq!(s.images.get(&image.id.hex()[..6]).unwrap().id, image.id);
        assert_eq!(s.images.get(&image.id.to_string()).unwrap().id, image.id);
        let err = s.images.get("nope").unwrap_err();
        assert_eq!(err.to_string(), "No such image: nope:latest");
    }

    #[test]
    fn retagging_leaves_the_old_image_dangling() {
        let s = stores();
        let layer = s
            .layers
            .create(None, &layer_tar("a")[..], None, "import")
            .unwrap();
        let old = s
            .images
            .put(
                &s.layers,
                &config(&[&layer.diff_id], "2024-01-01T00:00:00Z"),
            )
            .unwrap();
        let new = s
            .images
            .put(
                &s.layers,
                &config(&[&layer.diff_id], "2024-02-01T00:00:00Z"),
            )
            .unwrap();
        s.images.tag(&old.id, "app").unwrap();
        s.images.tag(&new.id, "app").unwrap();
        let list = s.images.list().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[0].id.clone(), list[0].tags.clone()),
            (new.id, vec!["app:latest".to_string()])
        );
        assert!(list[1].tags.is_empty(), "<none>:<none>");
    }

    /// Two images: one of a base layer, one of the base and a top layer,
    /// which only the second holds.
    fn base_and_base_plus_top(s: &Stores) -> (Layer, Layer, Image, Image) {
        let base = s
            .layers
            .create(None, &layer_tar("base")[..], None, "import")
            .unwrap();
        let top = s
            .layers
            .create(Some(&base.chain_id), &layer_tar("top")[..], None, "import")
            .unwrap();
        let one = s
            .images
            .put(&s.layers, &config(&[&base.diff_id], "2024-01-01T00:00:00Z"))
            .unwrap();
        let two = s
            .images
            .put(
                &s.layers,
                &config(&[&base.diff_id, &top.diff_id], "2024-01-02T00:00:00Z"),
            )
            .unwrap();
        s.layers.release(&top.chain_id, "import").unwrap();
        (base, top, one, two)
    }

    #[test]
    fn removing_an_image_keeps_layers_another_image_shares() {
        let s = stores();
        let (base, top, a, b) = base_and_base_plus_top(&s);
        s.images.tag(&a.id, "a").unwrap();

        assert_eq!(
            s.images.remove(&s.layers, &b.id).unwrap(),
            std::slice::from_ref(&top.chain_id)
        );
        assert!(
            s.layers.contains(&base.chain_id),
            "image a still uses the base"
        );
        assert!(!s.layers.contains(&top.chain_id));
        // Releasing the top layer for "import" released its parents for it too.
        assert_eq!(
            s.images.remove(&s.layers, &a.id).unwrap(),
            std::slice::from_ref(&base.chain_id)
        );
        assert!(s.images.get("a").is_err(), "its names went with it");
    }

    #[test]
    fn an_image_whose_config_cannot_be_read_is_left_out_and_removable() {
        let s = stores();
        let (base, top, whole, broken) = base_and_base_plus_top(&s);
        s.images.tag(&broken.id, "broken").unwrap();
        let path = s.images.config_path(&broken.id);
        std::fs::write(&path, "{\"created\": ").unwrap();

        let (images, unreadable) = s.images.list_readable().unwrap();
        assert_eq!(
            images.iter().map(|i| &i.id).collect::<Vec<_>>(),
            [&whole.id]
        );
        assert_eq!(
            unreadable
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [format!(
                "{} is unreadable: EOF while parsing a value at line 1 column 12",
                path.display()
            )]
        );
        // Its layers say what it held: the top only it, the base shared.
        assert_eq!(
            s.layers.top_held_by(broken.id.hex()).unwrap(),
            Some(top.chain_id.clone())
        );
        assert_eq!(
            s.images.id_and_names("broken").unwrap(),
            (broken.id.clone(), vec!["broken:latest".to_string()])
        );
        assert_eq!(
            s.images.remove(&s.layers, &broken.id).unwrap(),
            std::slice::from_ref(&top.chain_id)
        );
        assert!(s.layers.contains(&base.chain_id), "the whole image uses it");
        assert!(matches!(
            s.images.get("broken"),
            Err(ImageError::NotFound(_))
        ));
    }

    #[test]
    fn ambiguous_prefixes_are_refused_in_dockers_words() {
        let s = stores();
        let mut ids = Vec::new();
        for i in 0..40 {
            let image = s
                .images
                .put(
                    &s.layers,
                    &config(&[], &format!("2024-01-01T00:00:{i:02}Z")),
                )
                .unwrap();
            ids.push(image.id);
        }
        let first = ids[0].hex()[..1].to_string();
        let err = s.images.get(&first).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("multiple IDs found with provided prefix: {first}")
        );
    }

    #[test]
    fn a_crash_while_the_store_is_first_made_leaves_one_that_opens() {
        let root = tempfile::tempdir().unwrap();
        // A kill -9 between the two mkdir(2)s of `images/sha256`.
        std::fs::create_dir(root.path().join("images")).unwrap();
        let images = ImageStore::open(root.path()).unwrap();
        assert!(images.list().unwrap().is_empty());
    }
}
