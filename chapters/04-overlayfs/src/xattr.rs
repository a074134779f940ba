//! Extended attributes (xattrs): the name/value pairs beside a file's data.
//!
//! Overlayfs keeps its own bookkeeping in them (`trusted.overlay.opaque`), and
//! images carry some (`security.capability` for `ping`'s raw-socket right), so a
//! layer must read and write them. std has no xattr API; these are the three
//! syscalls, never following symlinks (the `l` prefix).

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use crate::io::{IoContext, IoError};

fn c_path(path: &Path) -> Result<CString, IoError> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
        .at("encode path", path)
}

/// The names of `path`'s xattrs, in the order the filesystem lists them.
pub fn list(path: &Path) -> Result<Vec<OsString>, IoError> {
    let c = c_path(path)?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: `c` is NUL-terminated and `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(buf
                .split(|b| *b == 0)
                .filter(|name| !name.is_empty())
                .map(|name| OsString::from_vec(name.to_vec()))
                .collect());
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ERANGE) => buf.resize(buf.len() * 4, 0),
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            _ => return Err(err).at("list xattrs of", path),
        }
    }
}

/// The value of xattr `name` on `path`, or `None` when it has none.
pub fn get(path: &Path, name: &OsStr) -> Result<Option<Vec<u8>>, IoError> {
    let c = c_path(path)?;
    let name = CString::new(name.as_bytes()).expect("xattr names have no NUL");
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: both strings are NUL-terminated and `buf` is valid for its length.
        let n = unsafe {
            libc::lgetxattr(
                c.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(Some(buf));
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ERANGE) => buf.resize(buf.len() * 16, 0),
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => return Ok(None),
            _ => return Err(err).at("read xattr of", path),
        }
    }
}

/// Sets xattr `name` on `path` to `value`.
pub fn set(path: &Path, name: &OsStr, value: &[u8]) -> Result<(), IoError> {
    let c = c_path(path)?;
    let name = CString::new(name.as_bytes()).expect("xattr names have no NUL");
    // SAFETY: both strings are NUL-terminated and `value` is valid for its length.
    let rc = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error()).at("set xattr on", path)
    }
}
