//! Where images and containers live on disk.
//!
//! - [`content`]: blobs by digest (layer tar.gz files, configs).
//! - [`layers`]: each layer unpacked once, keyed by chain ID, shared by images.
//! - [`images`]: image configs and the `repo:tag` names that point at them.
//! - [`containers`]: each container's config, state and upper/work/merged dirs.
//!
//! Each store has a [`lock`], writes every file atomically, and on opening
//! removes whatever a crashed process left half-written, so a `kill -9` at any
//! moment leaves stores that read back.

pub mod containers;
pub mod content;
pub mod images;
pub mod layers;
pub mod lock;
pub mod names;
pub mod spread;

pub use containers::{
    Container, ContainerConfig, ContainerError, ContainerStore, Retired, State, Status, Summary,
};
pub use content::{ContentError, ContentStore};
pub use images::{Image, ImageError, ImageStore};
pub use layers::{Layer, LayerError, LayerStore};
pub use lock::StoreLock;

/// Every store's error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Content(#[from] ContentError),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Container(#[from] ContainerError),
}

/// Keeps `err`, the unreadable records of a container or an image in
/// `dir`, for a listing to report, unless `dir` is gone: then it was
/// removed while the listing read it, which is no fault.
fn keep_if_there<E>(dir: &std::path::Path, err: E, unreadable: &mut Vec<E>) {
    if dir.exists() {
        unreadable.push(err);
    }
}
