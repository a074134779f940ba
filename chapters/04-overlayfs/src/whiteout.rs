//! How a deletion is written down: overlayfs's way and the OCI image way.
//!
//! A read-only lower layer cannot lose a file, so a layer above records "this
//! name is gone". The two formats say it differently:
//!
//! | meaning | overlayfs (kernel overlayfs.rst, "whiteouts and opaque directories") | OCI layer tar (image-spec layer.md, "Whiteouts") |
//! |---|---|---|
//! | `NAME` was deleted | a character device 0:0 named `NAME` | an empty file `.wh.NAME` |
//! | nothing below `DIR` shows through | xattr `trusted.overlay.opaque=y` on `DIR` | an empty file `DIR/.wh..wh..opq` |
//!
//! Committing converts the first column to the second; unpacking does the reverse.

use std::ffi::OsStr;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use nix::sys::stat::{Mode, SFlag, makedev, mknod};

use crate::io::{IoContext, IoError};
use crate::xattr;

/// Prefix of an OCI whiteout file name: `.wh.NAME` deletes `NAME`.
pub const OCI_PREFIX: &str = ".wh.";
/// The OCI opaque-directory marker: hides everything lower layers put in its directory.
pub const OCI_OPAQUE: &str = ".wh..wh..opq";
/// The xattr that makes an overlayfs directory opaque.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// Prefix of the xattrs overlayfs keeps for itself; never copied into a layer tar.
pub const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";

// ANCHOR: is_whiteout
/// Whether a file with this metadata is an overlayfs whiteout (char device 0:0).
pub fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    // LAB: an overlayfs whiteout is a character device whose device number is 0:0 (FileTypeExt::is_char_device, MetadataExt::rdev)
    meta.file_type().is_char_device() && meta.rdev() == 0
    // LAB: END
}
// ANCHOR_END: is_whiteout

/// Whether `dir` is an opaque overlayfs directory.
pub fn is_opaque(dir: &Path) -> Result<bool, IoError> {
    Ok(xattr::get(dir, OsStr::new(OPAQUE_XATTR))?.as_deref() == Some(b"y"))
}

// ANCHOR: make_whiteout
/// Writes an overlayfs whiteout at `path` (needs CAP_MKNOD: root).
pub fn make_whiteout(path: &Path) -> Result<(), IoError> {
    // LAB: mknod(2) a character device with device number 0:0 and no permission bits at `path` (nix::sys::stat::mknod, makedev(0, 0)); turn an error into IoError with .at("mknod whiteout", path), and narrate it with explain! ("mknod PATH c 0 0")
    ch01_chroot::explain!("mknod(2) a whiteout: {} is deleted", path.display();
        "mknod {} c 0 0", path.display());
    mknod(path, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0)).at("mknod whiteout", path)
    // LAB: END
}
// ANCHOR_END: make_whiteout

/// Marks `dir` opaque for overlayfs (needs CAP_SYS_ADMIN for `trusted.*`: root).
pub fn make_opaque(dir: &Path) -> Result<(), IoError> {
    ch01_chroot::explain!("mark {} opaque: lower layers do not show through", dir.display();
        "setfattr -n {OPAQUE_XATTR} -v y {}", dir.display());
    xattr::set(dir, OsStr::new(OPAQUE_XATTR), b"y")
}

// ANCHOR: oci_target
/// The name an OCI whiteout file deletes: `.wh.NAME` -> `NAME`; `None` for other
/// names and for the opaque marker.
pub fn oci_target(name: &OsStr) -> Option<&OsStr> {
    // LAB: `.wh.NAME` deletes NAME: return NAME (strip OCI_PREFIX from name.as_encoded_bytes()); return None for a name without the prefix and for the opaque marker OCI_OPAQUE, which deletes nothing by name
    let bytes = name.as_encoded_bytes();
    if name == OCI_OPAQUE {
        return None;
    }
    bytes
        .strip_prefix(OCI_PREFIX.as_bytes())
        // SAFETY: stripping an ASCII prefix leaves a valid OsStr encoding.
        .map(|rest| unsafe { OsStr::from_encoded_bytes_unchecked(rest) })
    // LAB: END
}
// ANCHOR_END: oci_target

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_names_map_to_targets() {
        assert_eq!(
            oci_target(OsStr::new(".wh.passwd")),
            Some(OsStr::new("passwd"))
        );
        assert_eq!(oci_target(OsStr::new(".wh..wh..opq")), None);
        assert_eq!(oci_target(OsStr::new("passwd")), None);
    }

    #[test]
    fn whiteouts_are_char_devices_0_0() {
        testkit::require_root!();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone");
        make_whiteout(&path).unwrap();
        assert!(is_whiteout(&std::fs::symlink_metadata(&path).unwrap()));
        make_opaque(dir.path()).unwrap();
        assert!(is_opaque(dir.path()).unwrap());
    }
}
