//! Chapter 04: copy-on-write container roots from read-only layers with overlayfs.
