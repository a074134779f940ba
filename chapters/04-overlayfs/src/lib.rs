//! Chapter 04: copy-on-write container roots from read-only layers.
//!
//! An image is a stack of layers; a container is one more, writable, layer on
//! top. This crate teaches each piece with the kernel doing the work:
//!
//! - [`overlay`]: mount N read-only layers + an upper dir as one root (overlayfs).
//! - [`changes`]: what a container changed, as `docker diff` prints it.
//! - [`commit`]: turn an upper dir into an OCI layer blob (`docker commit`).
//! - [`unpack`]: turn a layer blob back into a directory, safely.
//! - [`store`]: where blobs, layers, images and containers live on disk.
//! - [`scoped`]: a path inside a container's root, resolved without escaping it.
//!
//! [`whiteout`] is how a deletion is written down; [`digest`] names content.

pub mod changes;
pub mod commit;
pub mod digest;
pub mod io;
pub mod overlay;
pub mod scoped;
pub mod store;
pub mod unpack;
pub mod whiteout;
pub mod xattr;

pub use changes::{Change, Kind, changes};
pub use digest::Digest;
pub use overlay::{Mounted, Overlay};

/// Every error this crate returns, one variant per module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Io(#[from] io::IoError),
    #[error(transparent)]
    Overlay(#[from] overlay::OverlayError),
    #[error(transparent)]
    Commit(#[from] commit::CommitError),
    #[error(transparent)]
    Unpack(#[from] unpack::UnpackError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}
